//! Users of the caller's tenant: lists, lookups, creation under the tenant's user quota,
//! and updates that never remove the last active admin.
//!
//! Writes that depend on counts (quota, last admin) first lock the tenant row
//! (`FOR NO KEY UPDATE`, which does not block other tables' foreign-key checks), so two
//! concurrent writes in one tenant cannot both pass a check that only one may pass.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{Role, TenantContext};
use crate::error::AppError;
use crate::models::user::{NewUser, User, UserChanges};
use crate::repos::audit;
use crate::schema::{tenants, users};

/// Every query on `users` for a request starts here.
/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    users::table.filter(users::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<users::table, diesel::dsl::Eq<users::tenant_id, Uuid>>;

/// Keyset position in the default order (`created_at DESC, id DESC`).
pub type UserKey = (DateTime<Utc>, Uuid);

/// `GET /users` filters.
#[derive(Debug, Default, Clone)]
pub struct UserFilter {
    pub role: Option<Role>,
    pub is_active: Option<bool>,
}

/// One page of users, newest first, strictly after `after`.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    filter: &UserFilter,
    after: Option<UserKey>,
    limit: i64,
) -> Result<Vec<User>, AppError> {
    let mut q = scoped(ctx).into_boxed().select(User::as_select());
    if let Some(role) = filter.role {
        q = q.filter(users::role.eq(role));
    }
    if let Some(active) = filter.is_active {
        q = q.filter(users::is_active.eq(active));
    }
    if let Some((at, id)) = after {
        // Written so that `created_at <= at` is an index condition (a range scan from
        // the cursor), with the tie on equal timestamps broken by id.
        q = q.filter(
            users::created_at
                .le(at)
                .and(users::created_at.lt(at).or(users::id.lt(id))),
        );
    }
    Ok(q.order((users::created_at.desc(), users::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// One user of the caller's tenant, or `404`.
pub fn find(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<User, AppError> {
    scoped(ctx)
        .filter(users::id.eq(id))
        .select(User::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("user"))
}

/// Serialises the tenant's user-count changes for the rest of the transaction and
/// returns its `max_users`.
///
/// The lock is a transaction-scoped advisory lock keyed by the tenant id, not a row
/// lock on `tenants`: on Citus `tenants` is a reference table, and `SELECT ... FOR NO
/// KEY UPDATE` on it takes an exclusive lock on its one shard on every node. Two tenant
/// creations (each has just inserted into `tenants`, holding that lock in a weaker
/// mode) then deadlock on the upgrade, and every user creation in every tenant queues
/// behind one lock. An advisory lock is taken where the statement runs, on the
/// coordinator, through which every transaction passes, and only same-tenant writers
/// wait for it.
fn lock_tenant(conn: &mut PgConnection, tenant_id: Uuid) -> Result<i32, AppError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(quota_lock_key(tenant_id))
        .execute(conn)?;
    tenants::table
        .find(tenant_id)
        .select(tenants::max_users)
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("tenant"))
}

/// The advisory lock key of a tenant's user quota: the id's two halves folded. (A
/// collision only makes two tenants wait for each other.)
fn quota_lock_key(tenant_id: Uuid) -> i64 {
    let (hi, lo) = tenant_id.as_u64_pair();
    (hi ^ lo) as i64
}

fn active_users(conn: &mut PgConnection, tenant_id: Uuid) -> Result<i64, AppError> {
    Ok(users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::is_active.eq(true))
        .count()
        .get_result(conn)?)
}

/// `422 quota_exceeded` when one more active user would exceed `max_users`.
fn check_quota(conn: &mut PgConnection, tenant_id: Uuid, max_users: i32) -> Result<(), AppError> {
    if active_users(conn, tenant_id)? >= i64::from(max_users) {
        return Err(AppError::QuotaExceeded);
    }
    Ok(())
}

/// A user to create; the password is already hashed.
#[derive(Debug)]
pub struct CreateUser {
    pub email: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
}

/// Inserts a user into `tenant_id` under the quota, in the caller's transaction.
/// Shared by `POST /users` and by tenant creation with a first admin.
pub fn insert(conn: &mut PgConnection, tenant_id: Uuid, new: CreateUser) -> Result<User, AppError> {
    let max_users = lock_tenant(conn, tenant_id)?;
    check_quota(conn, tenant_id, max_users)?;
    Ok(diesel::insert_into(users::table)
        .values(NewUser {
            tenant_id,
            id: Uuid::now_v7(),
            email: new.email,
            username: new.username,
            password_hash: new.password_hash,
            role: new.role,
        })
        .returning(User::as_returning())
        .get_result(conn)?)
}

/// `POST /users`: creates a user in the caller's tenant and audits it.
pub fn create(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    new: CreateUser,
) -> Result<User, AppError> {
    let user = insert(conn, ctx.tenant_id(), new)?;
    audit::record(
        conn,
        ctx,
        "user.created",
        user.id,
        json!({"email": user.email, "role": user.role}),
    )?;
    Ok(user)
}

/// `PATCH /users/{id}`: applies `changes`, refusing to leave the tenant without an
/// active admin or over its quota.
pub fn update(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    changes: UserChanges,
) -> Result<User, AppError> {
    let max_users = lock_tenant(conn, ctx.tenant_id())?;
    let current = find(conn, ctx, id)?;
    let was_active_admin = current.is_active && current.role == Role::Admin;
    let stays_admin = changes.role.is_none_or(|r| r == Role::Admin);
    let stays_active = changes.is_active.unwrap_or(current.is_active);
    if was_active_admin && !(stays_admin && stays_active) {
        let admins: i64 = scoped(ctx)
            .filter(users::role.eq(Role::Admin))
            .filter(users::is_active.eq(true))
            .count()
            .get_result(conn)?;
        if admins <= 1 {
            return Err(AppError::LastAdmin);
        }
    }
    if !current.is_active && changes.is_active == Some(true) {
        check_quota(conn, ctx.tenant_id(), max_users)?;
    }
    let mut changed: Vec<&str> = Vec::new();
    if changes.username.is_some() {
        changed.push("username");
    }
    if changes.role.is_some() {
        changed.push("role");
    }
    if changes.is_active.is_some() {
        changed.push("is_active");
    }
    if changes.password_hash.is_some() {
        changed.push("password");
    }
    let user = diesel::update(users::table)
        .filter(users::tenant_id.eq(ctx.tenant_id()))
        .filter(users::id.eq(id))
        .set((changes, users::updated_at.eq(diesel::dsl::now)))
        .returning(User::as_returning())
        .get_result(conn)?;
    // Only the names of changed fields: never a password or its hash.
    audit::record(conn, ctx, "user.updated", id, json!({"changed": changed}))?;
    Ok(user)
}
