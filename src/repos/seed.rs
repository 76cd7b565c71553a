//! Writes for `tenantry seed`: insert-if-absent for the fixed demo rows (so a second run
//! adds nothing) and multi-row inserts for volume data. No audit rows: seeding is not a
//! change made by a tenant's user.

use diesel::prelude::*;
use uuid::Uuid;

use crate::models::tenant::NewTenant;
use crate::models::user::NewUser;
use crate::schema::{tenants, users};

/// Rows per multi-row INSERT: well under PostgreSQL's 65 535 bind parameters for the
/// widest row written here, and large enough that round trips do not dominate.
pub const INSERT_CHUNK: usize = 2_000;

/// The id of tenant `code`, inserting `new` when no tenant has that code. Returns
/// `(id, created)`. Safe against a concurrent seed: the insert does nothing on conflict.
pub fn ensure_tenant(conn: &mut PgConnection, new: NewTenant) -> QueryResult<(Uuid, bool)> {
    let code = new.code.clone();
    let inserted: Option<Uuid> = diesel::insert_into(tenants::table)
        .values(new)
        .on_conflict(tenants::code)
        .do_nothing()
        .returning(tenants::id)
        .get_result(conn)
        .optional()?;
    match inserted {
        Some(id) => Ok((id, true)),
        None => Ok((
            tenants::table
                .filter(tenants::code.eq(code))
                .select(tenants::id)
                .first(conn)?,
            false,
        )),
    }
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Whether `tenant_id` has a user with `email` (case-insensitive, like the unique index).
pub fn user_exists(conn: &mut PgConnection, tenant_id: Uuid, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table
            .filter(users::tenant_id.eq(tenant_id))
            .filter(lower(users::email).eq(email.to_lowercase())),
    ))
    .get_result(conn)
}

/// Inserts `user` unless the tenant already has it (by id or by email); returns whether
/// a row was added.
pub fn insert_user_if_absent(conn: &mut PgConnection, user: NewUser) -> QueryResult<bool> {
    let n = diesel::insert_into(users::table)
        .values(user)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

/// Inserts tenants whose code is not taken, [`INSERT_CHUNK`] rows per statement;
/// returns the `(id, code)` of those added (existing codes are skipped).
pub fn insert_tenants(
    conn: &mut PgConnection,
    rows: Vec<NewTenant>,
) -> QueryResult<Vec<(Uuid, String)>> {
    let mut added = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<NewTenant> = rows.by_ref().take(INSERT_CHUNK).collect();
        added.extend(
            diesel::insert_into(tenants::table)
                .values(chunk)
                .on_conflict(tenants::code)
                .do_nothing()
                .returning((tenants::id, tenants::code))
                .load::<(Uuid, String)>(conn)?,
        );
    }
    Ok(added)
}

/// Inserts users, [`INSERT_CHUNK`] rows per statement; returns how many.
pub fn insert_users(conn: &mut PgConnection, rows: Vec<NewUser>) -> QueryResult<usize> {
    let mut total = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<NewUser> = rows.by_ref().take(INSERT_CHUNK).collect();
        total += diesel::insert_into(users::table)
            .values(chunk)
            .execute(conn)?;
    }
    Ok(total)
}
