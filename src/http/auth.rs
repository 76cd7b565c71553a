//! `POST /api/v1/auth/login`.
//!
//! Every wrong part (tenant, email, password) and an inactive user get the same
//! `401 invalid_credentials` after the same work (an Argon2 verification happens either
//! way). Five failures for one tenant code + email within 5 minutes lock the pair with
//! `429`. The password is verified on the blocking pool *between* two short database
//! calls, never while holding a pooled connection.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::jwt::TOKEN_TTL_SECS;
use crate::auth::password;
use crate::db;
use crate::error::AppError;
use crate::http::extract::AppJson;
use crate::models::tenant::TenantStatus;
use crate::models::user::User;
use crate::repos::logins;
use crate::request_id::RequestId;

/// The client's address (see `auth::client_addr`); `None` when not served over TCP.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl axum::extract::FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(crate::auth::client_addr::client_ip(
            parts,
            &app.config.trusted_proxies,
        )))
    }
}

/// Longest email any user can have (as `validate::Checks::email`).
const MAX_EMAIL_CHARS: usize = 254;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(login))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Any value is accepted; one that names no tenant is `401 invalid_credentials`.
    #[schema(max_length = 50)]
    pub tenant_code: String,
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(max_length = 128)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: i64,
    pub user: User,
}

/// Exchanges tenant code, email and password for a bearer token.
///
/// A wrong password, an unknown email, an inactive user and an unknown tenant get the
/// same `401 invalid_credentials`. A suspended or archived tenant is `403
/// tenant_suspended`.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 401, description = "invalid_credentials: any wrong part, or an inactive user", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 403, description = "tenant_suspended", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 429, description = "rate_limited: 5 failures for this tenant and email within 5 minutes", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    State(app): State<AppState>,
    Extension(request_id): Extension<RequestId>,
    ClientIp(client): ClientIp,
    AppJson(body): AppJson<LoginRequest>,
) -> Result<Json<LoginResponse>, AppError> {
    // Per client address, before anything else: a flood from one address costs nothing.
    app.login_limiter.check(client)?;
    let code = body.tenant_code;
    let email = body.email.to_lowercase();
    // A field no account can have is refused before any work, with the same answer as
    // any other wrong part: nothing longer than the bounds reaches the throttle table
    // (whose index would overflow) or the tenant's audit log.
    if !crate::http::tenants::valid_code(&code)
        || email.chars().count() > MAX_EMAIL_CHARS
        || body.password.chars().count() > password::MAX_LEN
    {
        return Err(AppError::InvalidCredentials);
    }

    let (c, e) = (code.clone(), email.clone());
    let candidate = db::run(&app, move |conn| {
        if let Some(retry_after_secs) = logins::reserve_attempt(conn, &c, &e)? {
            return Err(AppError::RateLimited { retry_after_secs });
        }
        logins::find_candidate(conn, &c, &e)
    })
    .await?;

    let hash = candidate
        .as_ref()
        .and_then(|c| c.user.as_ref())
        .map(|(u, h)| (u.is_active, h.clone()));
    let password_ok = app
        .hasher
        .run(move || match hash {
            Some((is_active, hash)) => password::verify(&body.password, &hash) && is_active,
            None => password::verify_nobody(&body.password),
        })
        .await?;

    let Some(candidate) = candidate else {
        return Err(AppError::InvalidCredentials);
    };
    let user = candidate.user.map(|(u, _)| u);
    let tenant_id = candidate.tenant_id;
    let rid = request_id.0.clone();
    if !password_ok {
        let (user_id, e) = (user.as_ref().map(|u| u.id), email.clone());
        db::run(&app, move |conn| {
            logins::fail(conn, tenant_id, user_id, &e, &rid)
        })
        .await?;
        return Err(AppError::InvalidCredentials);
    }
    let Some(user) = user else {
        return Err(AppError::InvalidCredentials);
    };
    if candidate.tenant_status != TenantStatus::Active {
        return Err(AppError::TenantSuspended);
    }
    let user_id = user.id;
    let user = db::run(&app, move |conn| {
        logins::succeed(conn, &code, &email, tenant_id, user_id, &rid)
    })
    .await?;
    let access_token = app.jwt.issue_user(tenant_id, user.id, user.role)?;
    Ok(Json(LoginResponse {
        access_token,
        token_type: "Bearer",
        expires_in: TOKEN_TTL_SECS,
        user,
    }))
}
