//! JWT issue and verification: HS256 only, `exp` and `iat` required, 60 s leeway.
//! An `iat` more than the leeway in the future, an `nbf` in the future and a tenant
//! token living longer than 24 h are refused too (docs/API.md §2).
//!
//! Any failure (bad signature, other algorithm including `none`, expired, missing
//! claims, unknown role, tenant role without `tenant_id`) is the same `401`: the client
//! learns nothing about which check failed.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::role::{PLATFORM_ADMIN, Role};
use crate::error::AppError;

/// Lifetime of tokens issued by login.
pub const TOKEN_TTL_SECS: i64 = 3600;
/// Clock skew tolerated on `exp`, `iat` and `nbf`.
pub const LEEWAY_SECS: u64 = 60;
/// Longest lifetime (`exp - iat`) of a tenant token.
pub const MAX_TENANT_TOKEN_SECS: i64 = 24 * 3600;

/// The claims Tenantry issues and accepts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Tenant users: the user's UUID. Platform admins: an operator name.
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<Uuid>,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    /// Not before; optional, never issued by Tenantry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSubject {
    /// A tenant user; the role in the token is *not* trusted (the current role is read
    /// from the database), only its validity is checked.
    TenantUser {
        tenant_id: Uuid,
        user_id: Uuid,
        /// `iat`, checked against the user's `tokens_valid_after`.
        issued_at: i64,
    },
    PlatformAdmin {
        name: String,
    },
}

/// Signing and verification keys derived from `JWT_SECRET`.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Signs `claims` with HS256.
    pub fn sign(&self, claims: &Claims) -> Result<String, AppError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| AppError::internal(format!("signing a token: {e}")))
    }

    /// A login token for a tenant user.
    pub fn issue_user(
        &self,
        tenant_id: Uuid,
        user_id: Uuid,
        role: Role,
    ) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        self.sign(&Claims {
            sub: user_id.to_string(),
            tenant_id: Some(tenant_id),
            role: role.as_str().into(),
            iat: now,
            exp: now + TOKEN_TTL_SECS,
            nbf: None,
        })
    }

    /// A platform-admin token (`tenantry token --platform-admin`).
    pub fn issue_platform_admin(&self, name: &str, ttl_secs: i64) -> Result<String, AppError> {
        let now = chrono::Utc::now().timestamp();
        self.sign(&Claims {
            sub: name.into(),
            tenant_id: None,
            role: PLATFORM_ADMIN.into(),
            iat: now,
            exp: now + ttl_secs,
            nbf: None,
        })
    }

    /// Verifies a token and says whom it speaks for; every failure is `401`.
    pub fn verify(&self, token: &str) -> Result<TokenSubject, AppError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| AppError::Unauthorized)?;
        let claims = data.claims;
        let now = chrono::Utc::now().timestamp();
        if claims.iat > now + LEEWAY_SECS as i64 {
            return Err(AppError::Unauthorized);
        }
        if claims.role == PLATFORM_ADMIN {
            if claims.sub.trim().is_empty() {
                return Err(AppError::Unauthorized);
            }
            return Ok(TokenSubject::PlatformAdmin { name: claims.sub });
        }
        Role::parse(&claims.role).ok_or(AppError::Unauthorized)?;
        if claims.exp.saturating_sub(claims.iat) > MAX_TENANT_TOKEN_SECS {
            return Err(AppError::Unauthorized);
        }
        let tenant_id = claims.tenant_id.ok_or(AppError::Unauthorized)?;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| AppError::Unauthorized)?;
        Ok(TokenSubject::TenantUser {
            tenant_id,
            user_id,
            issued_at: claims.iat,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify() {
        let keys = JwtKeys::new(SECRET);
        let (t, u) = (Uuid::now_v7(), Uuid::now_v7());
        let token = keys.issue_user(t, u, Role::Member).unwrap();
        assert!(matches!(
            keys.verify(&token).unwrap(),
            TokenSubject::TenantUser { tenant_id, user_id, .. } if tenant_id == t && user_id == u
        ));
        let token = keys.issue_platform_admin("ops", 60).unwrap();
        assert_eq!(
            keys.verify(&token).unwrap(),
            TokenSubject::PlatformAdmin { name: "ops".into() }
        );
    }

    #[test]
    fn unknown_roles_and_missing_tenant_are_refused() {
        let keys = JwtKeys::new(SECRET);
        let now = chrono::Utc::now().timestamp();
        let mut claims = Claims {
            sub: Uuid::now_v7().to_string(),
            tenant_id: Some(Uuid::now_v7()),
            role: "root".into(),
            iat: now,
            exp: now + 60,
            nbf: None,
        };
        assert!(keys.verify(&keys.sign(&claims).unwrap()).is_err());
        claims.role = "admin".into();
        claims.tenant_id = None;
        assert!(keys.verify(&keys.sign(&claims).unwrap()).is_err());
    }
}
