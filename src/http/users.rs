//! `/api/v1/users`: tenant users (docs/API.md §4).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Role, TenantContext, password};
use crate::db::{self, pagination::Page};
use crate::error::{AppError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PageParams};
use crate::http::idempotency::{self, Answer, Idempotency};
use crate::http::patch::non_null;
use crate::models::user::{User, UserChanges};
use crate::repos::users::{self, CreateUser, UserFilter, UserKey};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_user, list_users))
        .routes(routes!(me))
        .routes(routes!(get_user, update_user))
}

const CURSOR_TAG: &str = "users";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
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
    /// Defaults to `member`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Role)]
    pub role: Option<Role>,
}

/// Shared checks for usernames and passwords.
fn check_username(c: &mut Checks, username: &str) {
    c.text("username", username, 100);
}

fn check_password(c: &mut Checks, field: &str, password: &str) {
    c.length(field, password, password::MIN_LEN, password::MAX_LEN);
}

/// Hashes on the password workers: Argon2 must not stall the async runtime nor take
/// the threads database work runs on.
pub async fn hash_password(app: &crate::app::App, password: String) -> Result<String, AppError> {
    app.hasher
        .run_within(app.config.request_timeout, move || {
            password::hash(&password)
        })
        .await?
}

/// Creates a user in the caller's tenant (admin).
#[utoipa::path(
    post, path = "/api/v1/users", tag = "users", request_body = CreateUserRequest,
    responses(
        (status = 201, body = User),
        (status = 409, description = "already_exists: email taken in this tenant (any letter case)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_user(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppJson(body): AppJson<CreateUserRequest>,
) -> Result<Response, AppError> {
    ctx.require(Role::Admin)?;
    let mut c = Checks::new();
    c.email("email", &body.email);
    check_username(&mut c, &body.username);
    check_password(&mut c, "password", &body.password);
    c.finish()?;
    let password_hash = hash_password(&app, body.password).await?;
    let new = CreateUser {
        email: body.email,
        username: body.username,
        password_hash,
        role: body.role.unwrap_or(Role::Member),
    };
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::CREATED,
            version: None,
        },
        move |conn, ctx| users::create(conn, ctx, new),
    )
    .await?;
    Ok(outcome.respond(|user: User| (StatusCode::CREATED, Json(user)).into_response()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
    pub is_active: Option<bool>,
}

/// Lists the caller's tenant's users, newest first.
#[utoipa::path(
    get, path = "/api/v1/users", tag = "users", params(UserListQuery),
    responses((status = 200, body = Page<User>))
)]
pub async fn list_users(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<UserListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<User>, AppError> {
    let mut c = Checks::new();
    let role = c.choice(
        "role",
        q.role.as_deref(),
        Role::parse,
        "must be admin, member or viewer",
    );
    c.finish()?;
    let filter = UserFilter {
        role,
        is_active: q.is_active,
    };
    let after: Option<UserKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        users::list(conn, ctx, &filter, after, limit)
    })
    .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        &app.cursors,
        CURSOR_TAG,
        |u| (u.created_at, u.id),
    ))
}

/// The calling user.
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", responses((status = 200, body = User)))]
pub async fn me(State(app): State<AppState>, ctx: TenantContext) -> Result<Json<User>, AppError> {
    let id = ctx.user_id();
    Ok(Json(
        db::read_for(&app, &ctx, move |conn, ctx| users::find(conn, ctx, id)).await?,
    ))
}

/// One user of the caller's tenant.
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "users",
    params(("id" = Uuid, Path)), responses((status = 200, body = User))
)]
pub async fn get_user(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<User>, AppError> {
    Ok(Json(
        db::read_for(&app, &ctx, move |conn, ctx| users::find(conn, ctx, id)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub username: Option<String>,
    /// Admins only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Role)]
    pub role: Option<Role>,
    /// Admins only.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = bool)]
    pub is_active: Option<bool>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 10, max_length = 128)]
    pub password: Option<String>,
}

/// Updates a user: admins any user (themselves included); others only themselves,
/// and only `username` and `password`.
///
/// A body that changes no field (`{}`) answers `200` with the user as it is.
#[utoipa::path(
    patch, path = "/api/v1/users/{id}", tag = "users", request_body = UpdateUserRequest,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = User),
        (status = 422, description = "validation_failed, last_admin (would leave no active admin), quota_exceeded (reactivation over max_users)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_user(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<UpdateUserRequest>,
) -> Result<Json<User>, AppError> {
    if !ctx.is_admin() {
        if id != ctx.user_id() {
            return Err(AppError::Forbidden("only admins can change other users"));
        }
        let mut c = Checks::new();
        if body.role.is_some() {
            c.fail("role", "is not accepted by this endpoint");
        }
        if body.is_active.is_some() {
            c.fail("is_active", "is not accepted by this endpoint");
        }
        c.finish()?;
    }
    let mut c = Checks::new();
    if let Some(u) = &body.username {
        check_username(&mut c, u);
    }
    if let Some(p) = &body.password {
        check_password(&mut c, "password", p);
    }
    c.finish()?;
    let password_hash = match body.password {
        Some(p) => Some(hash_password(&app, p).await?),
        None => None,
    };
    // A new password or a deactivation revokes every token issued before this second
    // (docs/API.md §2). The server's clock, the one that stamps `iat`.
    let revoke = password_hash.is_some() || body.is_active == Some(false);
    let changes = UserChanges {
        username: body.username,
        role: body.role,
        is_active: body.is_active,
        password_hash,
        tokens_valid_after: revoke.then(chrono::Utc::now),
    };
    let user = if changes.is_empty() {
        db::read_for(&app, &ctx, move |conn, ctx| users::find(conn, ctx, id)).await?
    } else {
        // This instance stops honouring the old role, active flag or password at once:
        // invalidated right after the commit, in the database task, so a client that
        // hangs up (dropping this handler) cannot leave the old principal cached.
        let cache = app.principals.clone();
        db::write_for_then(
            &app,
            &ctx,
            move |conn, ctx| users::update(conn, ctx, id, changes),
            move |user: &User| cache.invalidate_user(user.tenant_id, user.id),
        )
        .await?
    };
    Ok(Json(user))
}
