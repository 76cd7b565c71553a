//! `Idempotency-Key` on `POST /api/v1/tenants` (docs/API.md §12).
//!
//! Keys are stored per tenant (`idempotency_keys.tenant_id` references `tenants`), and a
//! platform request has no tenant of its own. A tenant created with a key therefore gets
//! an id derived from the key ([`tenant_id_for`]), and the key is stored under that new
//! tenant, in the transaction that creates it: a retry derives the same id and finds the
//! stored answer with the primary key (one shard on Citus), the same key with another
//! body finds it too and is refused, and a failed first request leaves nothing. Deleting
//! the tenant removes its key with it.

use diesel::{Connection, PgConnection};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Answer, Idempotency, Outcome, run_scoped, stored};
use crate::error::AppError;
use crate::repos::idempotency::StoredAnswer;

/// Separates these ids from any other use of the same hash.
const DOMAIN: &[u8] = b"tenantry platform idempotency key\0";

/// The id of the tenant a request creates: derived from its key when it has one (a
/// UUIDv8, so it never meets the UUIDv7 ids made otherwise), else a new UUIDv7.
pub fn tenant_id_for(key: &Idempotency) -> Uuid {
    match &key.0 {
        Some(keyed) => {
            let digest = Sha256::new()
                .chain_update(DOMAIN)
                .chain_update(keyed.key.as_bytes())
                .finalize();
            let mut bytes = [0u8; 16];
            bytes.copy_from_slice(&digest[..16]);
            uuid::Builder::from_custom_bytes(bytes).into_uuid()
        }
        None => Uuid::now_v7(),
    }
}

/// The answer already stored for the key (before any costly work such as hashing the
/// admin's password), or `422 idempotency_key_reused`; the transaction checks again.
pub fn stored_tenant_answer(
    conn: &mut PgConnection,
    id: Uuid,
    key: &Idempotency,
) -> Result<Option<StoredAnswer>, AppError> {
    match &key.0 {
        Some(keyed) => stored(conn, id, keyed, chrono::Utc::now()),
        None => Ok(None),
    }
}

/// Runs `create` (which makes tenant `id`) with the key's lock, check and stored answer
/// in one transaction; without a key, just `create`.
pub fn create_tenant_keyed<T, F>(
    conn: &mut PgConnection,
    id: Uuid,
    key: &Idempotency,
    answer: Answer<T>,
    create: F,
) -> Result<Outcome<T>, AppError>
where
    T: Serialize,
    F: FnOnce(&mut PgConnection) -> Result<T, AppError>,
{
    match &key.0 {
        None => create(conn).map(Outcome::Fresh),
        Some(keyed) => conn.transaction(|conn| run_scoped(conn, id, keyed, answer, create)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::idempotency::Keyed;

    fn keyed(key: &str) -> Idempotency {
        Idempotency(Some(Keyed {
            key: key.into(),
            hash: vec![],
        }))
    }

    #[test]
    fn the_same_key_gives_the_same_id_and_no_key_a_fresh_v7() {
        assert_eq!(tenant_id_for(&keyed("a")), tenant_id_for(&keyed("a")));
        assert_ne!(tenant_id_for(&keyed("a")), tenant_id_for(&keyed("b")));
        assert_eq!(tenant_id_for(&keyed("a")).get_version_num(), 8);
        assert_eq!(tenant_id_for(&Idempotency(None)).get_version_num(), 7);
    }
}
