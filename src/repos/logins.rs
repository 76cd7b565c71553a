//! Login support: the failed-attempt throttle, the candidate lookup and the outcome
//! (last_login_at, audit rows).
//!
//! The throttle is keyed by the tenant code and lower-cased email as typed, so an
//! unknown tenant or email is throttled exactly like a known one. An attempt is
//! *reserved* (counted) before the password is checked, atomically, so parallel guesses
//! cannot slip past the limit; a success deletes the counter.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use serde_json::json;
use uuid::Uuid;

use crate::error::AppError;
use crate::models::audit_log::Severity;
use crate::models::user::User;
use crate::repos::audit::{self, AuditEvent};
use crate::schema::{login_throttles, tenants, users};

/// Failed attempts allowed per window; the next one is refused.
pub const MAX_FAILURES: i32 = 5;

/// Counts one attempt for `(code, email)`; `Some(seconds)` when the pair is locked.
pub fn reserve_attempt(
    conn: &mut PgConnection,
    code: &str,
    email: &str,
) -> Result<Option<u64>, AppError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        failures: i32,
        #[diesel(sql_type = BigInt)]
        retry_after: i64,
    }
    let row: Row = diesel::sql_query(
        "INSERT INTO login_throttles AS t (tenant_code, email, failures, window_started_at) \
         VALUES ($1, $2, 1, now()) \
         ON CONFLICT (tenant_code, email) DO UPDATE SET \
           failures = CASE WHEN t.window_started_at <= now() - interval '5 minutes' THEN 1 ELSE t.failures + 1 END, \
           window_started_at = CASE WHEN t.window_started_at <= now() - interval '5 minutes' THEN now() ELSE t.window_started_at END \
         RETURNING failures, \
           GREATEST(1, ceil(extract(epoch FROM window_started_at + interval '5 minutes' - now())))::bigint AS retry_after",
    )
    .bind::<Text, _>(code)
    .bind::<Text, _>(email)
    .get_result(conn)?;
    Ok((row.failures > MAX_FAILURES).then_some(row.retry_after as u64))
}

/// What login needs to decide: the tenant, and the user with its hash if the email exists.
#[derive(Debug)]
pub struct Candidate {
    pub tenant_id: Uuid,
    pub tenant_status: String,
    pub user: Option<(User, String)>,
}

/// Looks up tenant `code` and, in it, the user with `email` (any letter case).
pub fn find_candidate(
    conn: &mut PgConnection,
    code: &str,
    email: &str,
) -> Result<Option<Candidate>, AppError> {
    let Some((tenant_id, tenant_status)) = tenants::table
        .filter(tenants::code.eq(code))
        .select((tenants::id, tenants::status))
        .first::<(Uuid, String)>(conn)
        .optional()?
    else {
        return Ok(None);
    };
    let user = users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<Text, _>(email)
                .sql(")"),
        )
        .select((User::as_select(), users::password_hash))
        .first::<(User, String)>(conn)
        .optional()?;
    Ok(Some(Candidate {
        tenant_id,
        tenant_status,
        user,
    }))
}

/// A successful login: resets the throttle, stamps `last_login_at`, writes `auth.login`.
pub fn succeed(
    conn: &mut PgConnection,
    code: &str,
    email: &str,
    tenant_id: Uuid,
    user_id: Uuid,
    request_id: &str,
) -> Result<User, AppError> {
    conn.transaction(|conn| {
        diesel::delete(
            login_throttles::table
                .filter(login_throttles::tenant_code.eq(code))
                .filter(login_throttles::email.eq(email)),
        )
        .execute(conn)?;
        let user = diesel::update(users::table)
            .filter(users::tenant_id.eq(tenant_id))
            .filter(users::id.eq(user_id))
            .set(users::last_login_at.eq(diesel::dsl::now))
            .returning(User::as_returning())
            .get_result(conn)?;
        audit::write(
            conn,
            AuditEvent {
                tenant_id,
                user_id: Some(user_id),
                action: "auth.login",
                resource_type: "user",
                resource_id: Some(user_id),
                severity: Severity::Info,
                metadata: json!({}),
                request_id: Some(request_id),
            },
        )?;
        Ok(user)
    })
}

/// A failed login to an existing tenant: writes `auth.login_failed` (warning).
pub fn fail(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    email: &str,
    request_id: &str,
) -> Result<(), AppError> {
    audit::write(
        conn,
        AuditEvent {
            tenant_id,
            user_id,
            action: "auth.login_failed",
            resource_type: "user",
            resource_id: user_id,
            severity: Severity::Warning,
            metadata: json!({"email": email}),
            request_id: Some(request_id),
        },
    )
}

/// Deletes throttle rows whose window has passed (`/utils/db/optimize`). Such a row
/// already counts as a fresh window in [`reserve_attempt`], so removing it changes no
/// answer; it only stops the table from growing with every email ever mistyped.
pub fn delete_expired(conn: &mut PgConnection) -> Result<usize, AppError> {
    // The window is the same 5 minutes as in `reserve_attempt`.
    Ok(diesel::delete(
        login_throttles::table.filter(login_throttles::window_started_at.le(diesel::dsl::sql::<
            diesel::sql_types::Timestamptz,
        >(
            "now() - interval '5 minutes'",
        ))),
    )
    .execute(conn)?)
}
