//! Tenants (platform scope) and the caller's own tenant.
//!
//! Deleting a tenant relies on `ON DELETE CASCADE` from every tenant table to
//! `tenants(id)`; the per-table counts reported are taken in the same transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::AppError;
use crate::models::tenant::{NewTenant, Tenant, TenantChanges, TenantStatus};
use crate::models::user::User;
use crate::repos::users::{self, CreateUser};
use crate::schema::{login_throttles, tenants};

/// Every table holding tenant rows, parents before children (the order an export
/// writes and an import reads). Constant names only: never built from input.
pub const TENANT_TABLES: &[&str] = &[
    "users",
    "projects",
    "tasks",
    "budgets",
    "expenses",
    "items",
    "audit_logs",
    "tenant_metrics",
    "idempotency_keys",
];

/// Keyset position in the default order (`created_at DESC, id DESC`).
pub type TenantKey = (DateTime<Utc>, Uuid);

/// One page of tenants, newest first.
pub fn list(
    conn: &mut PgConnection,
    status: Option<TenantStatus>,
    after: Option<TenantKey>,
    limit: i64,
) -> Result<Vec<Tenant>, AppError> {
    let mut q = tenants::table.select(Tenant::as_select()).into_boxed();
    if let Some(status) = status {
        q = q.filter(tenants::status.eq(status));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            tenants::created_at
                .le(at)
                .and(tenants::created_at.lt(at).or(tenants::id.lt(id))),
        );
    }
    Ok(q.order((tenants::created_at.desc(), tenants::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// One tenant, or `404`.
pub fn find(conn: &mut PgConnection, id: Uuid) -> Result<Tenant, AppError> {
    tenants::table
        .find(id)
        .select(Tenant::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("tenant"))
}

/// One tenant by code.
pub fn find_by_code(conn: &mut PgConnection, code: &str) -> Result<Option<Tenant>, AppError> {
    Ok(tenants::table
        .filter(tenants::code.eq(code))
        .select(Tenant::as_select())
        .first(conn)
        .optional()?)
}

/// Creates a tenant and, when given, its first admin, in one transaction.
pub fn create(
    conn: &mut PgConnection,
    new: NewTenant,
    admin: Option<CreateUser>,
) -> Result<(Tenant, Option<User>), AppError> {
    conn.transaction(|conn| {
        let tenant = diesel::insert_into(tenants::table)
            .values(new)
            .returning(Tenant::as_returning())
            .get_result(conn)?;
        let admin = admin
            .map(|a| users::insert(conn, tenant.id, a))
            .transpose()?;
        Ok((tenant, admin))
    })
}

/// Applies `changes` to a tenant, or `404`. `features` is merged into the current flags
/// (jsonb `||`), in the same statement, so concurrent changes to different features
/// both survive.
pub fn update(
    conn: &mut PgConnection,
    id: Uuid,
    changes: TenantChanges,
    features: Option<serde_json::Value>,
) -> Result<Tenant, AppError> {
    use diesel::PgJsonbExpressionMethods;
    let merge = features.map(|f| tenants::features_enabled.eq(tenants::features_enabled.concat(f)));
    diesel::update(tenants::table.find(id))
        .set((changes, merge, tenants::updated_at.eq(diesel::dsl::now)))
        .returning(Tenant::as_returning())
        .get_result(conn)
        .optional()?
        .ok_or(AppError::NotFound("tenant"))
}

/// Deletes a tenant and every row it owns; returns the rows removed per table
/// (`tenants` last). `404` when it does not exist.
pub fn delete(conn: &mut PgConnection, id: Uuid) -> Result<Vec<(String, i64)>, AppError> {
    conn.transaction(|conn| {
        let tenant = tenants::table
            .find(id)
            .select(Tenant::as_select())
            .for_update()
            .first(conn)
            .optional()?
            .ok_or(AppError::NotFound("tenant"))?;
        let mut removed = count_rows(conn, id)?;
        diesel::delete(
            login_throttles::table.filter(login_throttles::tenant_code.eq(&tenant.code)),
        )
        .execute(conn)?;
        let n = diesel::delete(tenants::table.find(id)).execute(conn)?;
        removed.push(("tenants".to_string(), n as i64));
        Ok(removed)
    })
}

/// Rows per tenant table for one tenant, in [`TENANT_TABLES`] order, in one statement.
pub fn count_rows(
    conn: &mut PgConnection,
    tenant_id: Uuid,
) -> Result<Vec<(String, i64)>, AppError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = TENANT_TABLES
        .iter()
        .map(|t| format!("SELECT '{t}' AS name, count(*) AS n FROM {t} WHERE tenant_id = $1"))
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let rows: Vec<Count> = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(tenant_id)
        .load(conn)?;
    Ok(rows.into_iter().map(|c| (c.name, c.n)).collect())
}
