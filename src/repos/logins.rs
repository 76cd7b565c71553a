//! Login support: the failed-attempt throttle, the candidate lookup and the outcome
//! (last_login_at, audit rows).
//!
//! The throttle is keyed by the tenant code and lower-cased email as typed, so an
//! unknown tenant or email is throttled exactly like a known one. An attempt is
//! *reserved* (counted) before the password is checked, atomically, so parallel guesses
//! cannot slip past the limit; a success deletes the counter.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Text, Timestamptz};
use serde_json::json;
use uuid::Uuid;

use crate::error::AppError;
use crate::models::audit_log::Severity;
use crate::models::tenant::TenantStatus;
use crate::models::user::User;
use crate::repos::audit::{self, AuditEvent};
use crate::schema::{login_throttles, tenants, users};

/// Failed attempts allowed per window; the next one is refused.
pub const MAX_FAILURES: i32 = 5;

/// How long a window of failed attempts lasts.
const WINDOW: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Counts one attempt for `(code, email)`; `Some(seconds)` when the pair is locked.
///
/// The times are computed here and passed as parameters: on Citus (where
/// `login_throttles` is distributed) an upsert may not call `now()` in `DO UPDATE SET`
/// or `RETURNING`, and a parameter is the same value on every node anyway.
pub fn reserve_attempt(
    conn: &mut PgConnection,
    code: &str,
    email: &str,
) -> Result<Option<u64>, AppError> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Integer)]
        failures: i32,
        #[diesel(sql_type = Timestamptz)]
        window_started_at: DateTime<Utc>,
    }
    let now = Utc::now();
    let row: Row = diesel::sql_query(
        "INSERT INTO login_throttles AS t (tenant_code, email, failures, window_started_at) \
         VALUES ($1, $2, 1, $3) \
         ON CONFLICT (tenant_code, email) DO UPDATE SET \
           failures = CASE WHEN t.window_started_at <= $4 THEN 1 ELSE t.failures + 1 END, \
           window_started_at = CASE WHEN t.window_started_at <= $4 THEN $3 ELSE t.window_started_at END \
         RETURNING failures, window_started_at",
    )
    .bind::<Text, _>(code)
    .bind::<Text, _>(email)
    .bind::<Timestamptz, _>(now)
    .bind::<Timestamptz, _>(now - WINDOW)
    .get_result(conn)?;
    Ok((row.failures > MAX_FAILURES).then(|| retry_after(row.window_started_at, now)))
}

/// Whole seconds until the window that started at `started` ends, at least 1.
fn retry_after(started: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let left = (started + WINDOW - now).num_milliseconds();
    (left.max(1) as u64).div_ceil(1000)
}

/// What login needs to decide: the tenant, and the user with its hash if the email exists.
#[derive(Debug)]
pub struct Candidate {
    pub tenant_id: Uuid,
    pub tenant_status: TenantStatus,
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
        .first::<(Uuid, TenantStatus)>(conn)
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
    // The window is the same as in `reserve_attempt`, and the cutoff is computed on the
    // same clock.
    Ok(diesel::delete(
        login_throttles::table.filter(login_throttles::window_started_at.le(Utc::now() - WINDOW)),
    )
    .execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        let now = Utc::now();
        assert_eq!(retry_after(now, now), 300);
        assert_eq!(
            retry_after(now - chrono::TimeDelta::milliseconds(1500), now),
            299
        );
        assert_eq!(retry_after(now - WINDOW, now), 1);
        assert_eq!(retry_after(now - WINDOW * 2, now), 1);
    }
}
