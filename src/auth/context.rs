//! The extractors that turn `Authorization: Bearer <JWT>` into who is calling.
//!
//! [`TenantContext`] is the only way tenant-scoped code learns its tenant: it can only be
//! built here, from a verified token whose user is re-read (or taken from the 5-second
//! [`PrincipalCache`](super::principal_cache::PrincipalCache)) with its *current* role and
//! active flag and its tenant's status. Nothing in a body, query string or client header
//! can change the tenant.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use uuid::Uuid;

use super::jwt::TokenSubject;
use super::principal_cache::Principal;
use super::{Feature, Role};
use crate::app::AppState;
use crate::error::AppError;
use crate::models::tenant::TenantStatus;
use crate::request_id::RequestId;

/// The verified caller of a tenant route.
#[derive(Debug, Clone)]
pub struct TenantContext {
    tenant_id: Uuid,
    user_id: Uuid,
    role: Role,
    request_id: String,
    features: serde_json::Value,
}

impl TenantContext {
    /// The caller's tenant: the only tenant any query of this request may touch.
    pub fn tenant_id(&self) -> Uuid {
        self.tenant_id
    }

    /// The calling user.
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }

    /// The caller's current role (from the database, not from the token).
    pub fn role(&self) -> Role {
        self.role
    }

    /// The request id, for audit rows.
    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// `403 forbidden` unless the caller's role is at least `min`.
    pub fn require(&self, min: Role) -> Result<(), AppError> {
        if self.role >= min {
            Ok(())
        } else {
            Err(AppError::Forbidden(match min {
                Role::Admin => "this action needs the admin role",
                Role::Member => "this action needs the member role or higher",
                Role::Viewer => "this action needs a tenant role",
            }))
        }
    }

    /// The gate of a feature's routes: `403 feature_disabled` first, then the role.
    pub fn require_feature_role(&self, feature: Feature, min: Role) -> Result<(), AppError> {
        self.require_feature(feature)?;
        self.require(min)
    }

    /// `403 feature_disabled` when the tenant has `feature` switched off.
    fn require_feature(&self, feature: Feature) -> Result<(), AppError> {
        if feature.enabled_in(&self.features) {
            Ok(())
        } else {
            Err(AppError::FeatureDisabled(feature.as_str()))
        }
    }
}

/// The verified caller of a platform route (`/api/v1/tenants`, `/utils/db`).
#[derive(Debug, Clone)]
pub struct PlatformAdmin {
    /// The operator name from `sub`, for the server log.
    pub name: String,
}

/// The token of a request, or `401`.
fn bearer_token(parts: &Parts) -> Result<&str, AppError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(AppError::Unauthorized)?;
    let value = value.to_str().map_err(|_| AppError::Unauthorized)?;
    let (scheme, token) = value.split_once(' ').ok_or(AppError::Unauthorized)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(AppError::Unauthorized);
    }
    Ok(token.trim())
}

impl FromRequestParts<AppState> for TenantContext {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        let (tenant_id, user_id, issued_at) = match app.jwt.verify(bearer_token(parts)?)? {
            TokenSubject::TenantUser {
                tenant_id,
                user_id,
                issued_at,
            } => (tenant_id, user_id, issued_at),
            TokenSubject::PlatformAdmin { .. } => {
                return Err(AppError::Forbidden(
                    "platform admins have no access to tenant data",
                ));
            }
        };
        app.rate_limiter.check_reporting(
            tenant_id,
            parts
                .extensions
                .get::<crate::auth::rate_limit::RateLimitSlot>(),
        )?;
        let principal = load_principal(app, tenant_id, user_id).await?;
        // Unknown user, a user of another tenant than the token says, a deactivated
        // user, or a token issued before a password change or deactivation: all the
        // same 401.
        let principal = principal
            .filter(|p| p.is_active)
            .filter(|p| p.tokens_valid_after.is_none_or(|after| issued_at >= after))
            .ok_or(AppError::Unauthorized)?;
        if principal.tenant_status != TenantStatus::Active {
            return Err(AppError::TenantSuspended);
        }
        tracing::Span::current().record("tenant_id", tracing::field::display(tenant_id));
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        Ok(TenantContext {
            tenant_id,
            user_id,
            role: principal.role,
            request_id,
            features: principal.features,
        })
    }
}

/// The principal from the cache, or from the database on a miss.
async fn load_principal(
    app: &AppState,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Principal>, AppError> {
    let (hit, generation) = app.principals.get(tenant_id, user_id);
    if hit.is_some() {
        return Ok(hit);
    }
    let loaded = crate::db::run(app, move |conn| {
        crate::repos::principals::load(conn, tenant_id, user_id)
    })
    .await?;
    if let Some(p) = &loaded {
        app.principals
            .insert(tenant_id, user_id, p.clone(), generation);
    }
    Ok(loaded)
}

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, AppError> {
        match app.jwt.verify(bearer_token(parts)?)? {
            TokenSubject::PlatformAdmin { name } => Ok(PlatformAdmin { name }),
            TokenSubject::TenantUser { .. } => {
                Err(AppError::Forbidden("this route is for platform admins"))
            }
        }
    }
}
