//! `/api/v1/tenants` (platform admins) and `/api/v1/tenant` (the caller's own tenant),
//! docs/API.md §3. Platform-admin changes go to the server log, not to a tenant's audit log.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Feature, PlatformAdmin, Role, TenantContext};
use crate::db::{self, pagination::Page};
use crate::error::{AppError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PageParams};
use crate::http::idempotency::{self, Answer, Idempotency};
use crate::http::patch::non_null;
use crate::http::users::hash_password;
use crate::models::tenant::{NewTenant, Tenant, TenantChanges, TenantStatus};
use crate::models::user::User;
use crate::repos::tenants::{self, TenantKey};
use crate::repos::users::CreateUser;
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_tenant, list_tenants))
        .routes(routes!(get_tenant, update_tenant, delete_tenant))
        .routes(routes!(own_tenant))
}

const CURSOR_TAG: &str = "tenants";
const DEFAULT_MAX_USERS: i32 = 100;
const DEFAULT_MAX_STORAGE_GB: i32 = 10;

/// The documented shape of `features_enabled` in requests: the server reads it as a map
/// and refuses unknown feature names (`422`), which `additionalProperties: false` states.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct FeatureFlags {
    #[serde(default)]
    #[schema(value_type = bool)]
    pub expenses: Option<bool>,
    #[serde(default)]
    #[schema(value_type = bool)]
    pub items: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAdminRequest {
    #[schema(
        max_length = 254,
        pattern = "^[^@\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f]+@[^@\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f.][^@\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f]*\\.[^@\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f]*[^@\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\x00-\\x1f\\x7f-\\x9f.]$"
    )]
    pub email: String,
    /// 1..=100 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub username: String,
    /// 10..=128 characters.
    #[schema(min_length = 10, max_length = 128)]
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantRequest {
    /// 1..=255 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub name: String,
    /// Unique.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,49}$")]
    pub code: String,
    /// Default 100.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub max_users: Option<i32>,
    /// Default 10.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub max_storage_gb: Option<i32>,
    /// Feature → enabled; features: `expenses`, `items` (both on by default).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = FeatureFlags)]
    pub features_enabled: Option<BTreeMap<String, bool>>,
    /// When given, the tenant's first admin is created in the same transaction.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = NewAdminRequest)]
    pub admin: Option<NewAdminRequest>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantCreated {
    #[serde(flatten)]
    pub tenant: Tenant,
    /// Present when the request had `admin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_user: Option<User>,
}

/// Whether `code` matches `^[a-z0-9][a-z0-9-]{0,49}$` (also used by `tenantry tenant import`).
pub fn valid_code(code: &str) -> bool {
    let bytes = code.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 50
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

fn check_features(c: &mut Checks, features: &BTreeMap<String, bool>) {
    for name in features.keys() {
        if !Feature::ALL.iter().any(|f| f.as_str() == name) {
            c.fail(
                &format!("features_enabled.{name}"),
                "unknown feature (known: expenses, items)",
            );
        }
    }
}

fn features_json(features: BTreeMap<String, bool>) -> serde_json::Value {
    serde_json::Value::Object(
        features
            .into_iter()
            .map(|(k, v)| (k, serde_json::Value::Bool(v)))
            .collect(),
    )
}

/// Creates a tenant, optionally with its first admin (platform admin).
#[utoipa::path(
    post, path = "/api/v1/tenants", tag = "tenants", request_body = CreateTenantRequest,
    responses(
        (status = 201, body = TenantCreated),
        (status = 409, description = "already_exists: code taken", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_tenant(
    State(app): State<AppState>,
    admin: PlatformAdmin,
    key: Idempotency,
    AppJson(body): AppJson<CreateTenantRequest>,
) -> Result<Response, AppError> {
    let mut c = Checks::new();
    c.text("name", &body.name, 255);
    if !valid_code(&body.code) {
        c.fail("code", "must match ^[a-z0-9][a-z0-9-]{0,49}$");
    }
    let max_users = body.max_users.unwrap_or(DEFAULT_MAX_USERS);
    let max_storage_gb = body.max_storage_gb.unwrap_or(DEFAULT_MAX_STORAGE_GB);
    c.range("max_users", max_users, 1, i32::MAX);
    c.range("max_storage_gb", max_storage_gb, 1, i32::MAX);
    let mut features: BTreeMap<String, bool> = Feature::ALL
        .iter()
        .map(|f| (f.as_str().to_string(), true))
        .collect();
    if let Some(given) = &body.features_enabled {
        check_features(&mut c, given);
        features.extend(given.clone());
    }
    if let Some(a) = &body.admin {
        c.email("admin.email", &a.email);
        c.text("admin.username", &a.username, 100);
        c.length(
            "admin.password",
            &a.password,
            crate::auth::password::MIN_LEN,
            crate::auth::password::MAX_LEN,
        );
    }
    c.finish()?;
    // A retry is answered before the admin's password is hashed again.
    let id = idempotency::tenant_id_for(&key);
    let check = key.clone();
    if let Some(answer) = db::platform(&app, move |conn| {
        idempotency::stored_tenant_answer(conn, id, &check)
    })
    .await?
    {
        return Ok(idempotency::replayed(answer));
    }
    let first_admin = match body.admin {
        Some(a) => Some(CreateUser {
            email: a.email,
            username: a.username,
            password_hash: hash_password(&app, a.password).await?,
            role: Role::Admin,
        }),
        None => None,
    };
    let new = NewTenant {
        id,
        name: body.name,
        code: body.code,
        max_users,
        max_storage_gb,
        features_enabled: features_json(features),
    };
    let answer = Answer {
        status: StatusCode::CREATED,
        version: None,
    };
    let outcome = db::platform(&app, move |conn| {
        idempotency::create_tenant_keyed(conn, id, &key, answer, |conn| {
            let (tenant, admin_user) = tenants::create(conn, new, first_admin)?;
            Ok(TenantCreated { tenant, admin_user })
        })
    })
    .await?;
    Ok(outcome.respond(|created| {
        tracing::info!(platform_admin = %admin.name, tenant_id = %created.tenant.id, code = %created.tenant.code, "tenant created");
        (StatusCode::CREATED, Json(created)).into_response()
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TenantListQuery {
    #[param(value_type = Option<TenantStatus>)]
    pub status: Option<String>,
}

fn parse_status(s: &str) -> Result<TenantStatus, AppError> {
    TenantStatus::parse(s)
        .ok_or_else(|| AppError::invalid("status", "must be active, suspended or archived"))
}

/// Lists tenants, newest first (platform admin).
#[utoipa::path(
    get, path = "/api/v1/tenants", tag = "tenants", params(TenantListQuery),
    responses((status = 200, body = Page<Tenant>))
)]
pub async fn list_tenants(
    State(app): State<AppState>,
    _admin: PlatformAdmin,
    AppQuery(q): AppQuery<TenantListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<Tenant>, AppError> {
    let status = q.status.as_deref().map(parse_status).transpose()?;
    let after: Option<TenantKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let limit = page.fetch_limit();
    let rows = db::platform(&app, move |conn| tenants::list(conn, status, after, limit)).await?;
    Ok(Page::from_rows(
        rows,
        &page,
        &app.cursors,
        CURSOR_TAG,
        |t| (t.created_at, t.id),
    ))
}

/// One tenant (platform admin).
#[utoipa::path(
    get, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = Uuid, Path)),
    responses((status = 200, body = Tenant))
)]
pub async fn get_tenant(
    State(app): State<AppState>,
    _admin: PlatformAdmin,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Tenant>, AppError> {
    Ok(Json(
        db::platform(&app, move |conn| tenants::find(conn, id)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 255, pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = TenantStatus)]
    pub status: Option<TenantStatus>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub max_users: Option<i32>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub max_storage_gb: Option<i32>,
    /// Merged into the current flags: features not named keep their value.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = FeatureFlags)]
    pub features_enabled: Option<BTreeMap<String, bool>>,
}

/// Updates a tenant (platform admin). Suspension takes effect at once.
///
/// `features_enabled` is merged into the current flags. An archived tenant is refused
/// like a suspended one (`403 tenant_suspended`). A body that changes no field (`{}`)
/// answers `200` with the tenant (only `updated_at` moves).
#[utoipa::path(
    patch, path = "/api/v1/tenants/{id}", tag = "tenants", request_body = UpdateTenantRequest,
    params(("id" = Uuid, Path)), responses((status = 200, body = Tenant))
)]
pub async fn update_tenant(
    State(app): State<AppState>,
    admin: PlatformAdmin,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<UpdateTenantRequest>,
) -> Result<Json<Tenant>, AppError> {
    let mut c = Checks::new();
    if let Some(name) = &body.name {
        c.text("name", name, 255);
    }
    if let Some(n) = body.max_users {
        c.range("max_users", n, 1, i32::MAX);
    }
    if let Some(n) = body.max_storage_gb {
        c.range("max_storage_gb", n, 1, i32::MAX);
    }
    if let Some(f) = &body.features_enabled {
        check_features(&mut c, f);
    }
    c.finish()?;
    let changes = TenantChanges {
        name: body.name,
        status: body.status,
        max_users: body.max_users,
        max_storage_gb: body.max_storage_gb,
    };
    let features = body.features_enabled.map(features_json);
    // Invalidated after the commit inside the database task (see `users::update_user`).
    let cache = app.principals.clone();
    let tenant = db::platform(&app, move |conn| {
        let tenant = tenants::update(conn, id, changes, features)?;
        cache.invalidate_tenant(id);
        Ok(tenant)
    })
    .await?;
    tracing::info!(platform_admin = %admin.name, tenant_id = %id, status = %tenant.status, "tenant updated");
    Ok(Json(tenant))
}

/// Deletes a tenant and every row it owns (platform admin).
#[utoipa::path(
    delete, path = "/api/v1/tenants/{id}", tag = "tenants", params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted"))
)]
pub async fn delete_tenant(
    State(app): State<AppState>,
    admin: PlatformAdmin,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode, AppError> {
    let cache = app.principals.clone();
    // Deleting a large tenant may take longer than one ordinary statement may.
    let removed = db::run_maintenance(&app, move |conn| {
        let removed = tenants::delete(conn, id)?;
        cache.invalidate_tenant(id);
        Ok(removed)
    })
    .await?;
    tracing::info!(platform_admin = %admin.name, tenant_id = %id, removed = ?removed, "tenant deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's own tenant (any tenant role).
#[utoipa::path(get, path = "/api/v1/tenant", tag = "tenants", responses((status = 200, body = Tenant)))]
pub async fn own_tenant(
    State(app): State<AppState>,
    ctx: TenantContext,
) -> Result<Json<Tenant>, AppError> {
    let id = ctx.tenant_id();
    Ok(Json(
        db::read_for(&app, &ctx, move |conn, _| tenants::find(conn, id)).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::valid_code;

    #[test]
    fn tenant_codes() {
        for ok in ["a", "demo", "acme-2", "0x", &"a".repeat(50)] {
            assert!(valid_code(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a_b", "a b", &"a".repeat(51), "é"] {
            assert!(!valid_code(bad), "{bad}");
        }
    }
}
