//! Idempotency keys (docs/API.md §1): the stored first answer of a tenant's request, looked
//! up and written inside the transaction of the change it belongs to. `scope` is the
//! tenant the key belongs to: the caller's tenant on tenant routes, the created tenant
//! on `POST /api/v1/tenants` (`http::idempotency::platform`).
//!
//! A request that is still running holds `pg_try_advisory_xact_lock` on its (tenant, key):
//! a second request with the key at the same moment fails to take it and is answered
//! `409 idempotency_in_progress` at once, rather than waiting on a row lock. The lock goes
//! with the transaction, so a failed first request leaves nothing behind.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::AppError;

/// How long a key is remembered.
pub const KEY_LIFETIME: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// The answer stored for a key.
#[derive(Debug, Clone, QueryableByName)]
pub struct StoredAnswer {
    #[diesel(sql_type = Bytea)]
    pub request_hash: Vec<u8>,
    #[diesel(sql_type = SmallInt)]
    pub status: i16,
    #[diesel(sql_type = Text)]
    pub body: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub etag: Option<String>,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Takes the key's transaction-level lock; `409 idempotency_in_progress` when another
/// transaction holds it.
pub fn lock(conn: &mut PgConnection, scope: Uuid, key: &str) -> Result<(), AppError> {
    let row: Locked = diesel::sql_query(
        "SELECT pg_try_advisory_xact_lock(hashtextextended($1::text || ':' || $2, 7)) AS locked",
    )
    .bind::<SqlUuid, _>(scope)
    .bind::<Text, _>(key)
    .get_result(conn)?;
    if row.locked {
        Ok(())
    } else {
        Err(AppError::IdempotencyInProgress)
    }
}

/// The answer stored for `key` within its lifetime, if any.
pub fn find(
    conn: &mut PgConnection,
    scope: Uuid,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Option<StoredAnswer>, AppError> {
    Ok(diesel::sql_query(
        "SELECT request_hash, status, body, etag FROM idempotency_keys \
          WHERE tenant_id = $1 AND key = $2 AND created_at > $3",
    )
    .bind::<SqlUuid, _>(scope)
    .bind::<Text, _>(key)
    .bind::<Timestamptz, _>(now - KEY_LIFETIME)
    .get_result(conn)
    .optional()?)
}

/// Stores the answer (replacing an expired row of the same key).
pub fn store(
    conn: &mut PgConnection,
    scope: Uuid,
    key: &str,
    answer: &StoredAnswer,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::sql_query(
        "INSERT INTO idempotency_keys (tenant_id, key, request_hash, status, body, etag, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (tenant_id, key) DO UPDATE SET request_hash = EXCLUDED.request_hash, \
           status = EXCLUDED.status, body = EXCLUDED.body, etag = EXCLUDED.etag, \
           created_at = EXCLUDED.created_at",
    )
    .bind::<SqlUuid, _>(scope)
    .bind::<Text, _>(key)
    .bind::<Bytea, _>(&answer.request_hash)
    .bind::<SmallInt, _>(answer.status)
    .bind::<Text, _>(&answer.body)
    .bind::<Nullable<Text>, _>(answer.etag.as_deref())
    .bind::<Timestamptz, _>(now)
    .execute(conn)?;
    Ok(())
}

/// Removes every tenant's keys older than their lifetime (platform maintenance).
pub fn delete_expired(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<usize, AppError> {
    Ok(
        diesel::sql_query("DELETE FROM idempotency_keys WHERE created_at <= $1")
            .bind::<Timestamptz, _>(now - KEY_LIFETIME)
            .execute(conn)?,
    )
}

/// Used by tests and operators: how many keys a tenant has.
pub fn count(conn: &mut PgConnection, tenant_id: Uuid) -> Result<i64, AppError> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let row: N =
        diesel::sql_query("SELECT count(*) AS n FROM idempotency_keys WHERE tenant_id = $1")
            .bind::<SqlUuid, _>(tenant_id)
            .get_result(conn)?;
    Ok(row.n)
}
