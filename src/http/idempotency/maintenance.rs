//! `Idempotency-Key` on the `/utils/db` maintenance `POST`s (optimize, vacuum, reindex;
//! docs/API.md §12).
//!
//! Their work cannot share a transaction with a stored answer (`VACUUM` and
//! `REINDEX CONCURRENTLY` run outside any transaction) and belongs to no tenant, while
//! stored keys belong to a tenant. So this server instance remembers their answers
//! itself, for the same 24 h: a key is claimed before the work starts (a second request
//! with it meanwhile is `409 idempotency_in_progress`), its answer kept when the work
//! succeeded, and the claim released when it failed. Only platform admins reach these
//! routes; the store is bounded all the same.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{Idempotency, Keyed};
use crate::error::AppError;
use crate::repos::idempotency::{KEY_LIFETIME, StoredAnswer};

/// Most keys remembered; beyond it the oldest answers are forgotten first.
const MAX_KEYS: usize = 4096;

#[derive(Debug)]
enum Entry {
    Running { hash: Vec<u8> },
    Done { answer: StoredAnswer, at: Instant },
}

/// The maintenance answers of this server instance, by key.
#[derive(Debug, Default)]
pub struct MaintenanceKeys {
    entries: Mutex<HashMap<String, Entry>>,
}

fn lifetime() -> Duration {
    KEY_LIFETIME
        .to_std()
        .unwrap_or(Duration::from_secs(24 * 3600))
}

impl MaintenanceKeys {
    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Claims the request's key: the stored answer to replay, `409`/`422` as for tenant
    /// routes, or a claim to run the work under (none without a key).
    pub fn claim(&self, key: Idempotency) -> Result<Claim<'_>, AppError> {
        let Some(keyed) = key.0 else {
            return Ok(Claim::Run(Running {
                store: self,
                keyed: None,
            }));
        };
        let mut entries = self.entries();
        if let Some(entry) = entries.get(&keyed.key) {
            match entry {
                Entry::Done { at, .. } if at.elapsed() >= lifetime() => {}
                Entry::Done { answer, .. } if answer.request_hash == keyed.hash => {
                    return Ok(Claim::Replay(answer.clone()));
                }
                Entry::Done { .. } => return Err(AppError::IdempotencyKeyReused),
                Entry::Running { .. } => return Err(AppError::IdempotencyInProgress),
            }
        }
        if entries.len() >= MAX_KEYS {
            make_room(&mut entries);
        }
        entries.insert(
            keyed.key.clone(),
            Entry::Running {
                hash: keyed.hash.clone(),
            },
        );
        Ok(Claim::Run(Running {
            store: self,
            keyed: Some(keyed),
        }))
    }
}

/// Drops expired answers, then the oldest ones, until there is room for one key.
fn make_room(entries: &mut HashMap<String, Entry>) {
    let life = lifetime();
    entries.retain(|_, e| !matches!(e, Entry::Done { at, .. } if at.elapsed() >= life));
    while entries.len() >= MAX_KEYS {
        let oldest = entries
            .iter()
            .filter_map(|(k, e)| match e {
                Entry::Done { at, .. } => Some((k.clone(), *at)),
                Entry::Running { .. } => None,
            })
            .min_by_key(|(_, at)| *at);
        match oldest {
            Some((k, _)) => {
                entries.remove(&k);
            }
            // Every slot is a running request: let this one in regardless.
            None => break,
        }
    }
}

/// What [`MaintenanceKeys::claim`] decided.
pub enum Claim<'a> {
    Replay(StoredAnswer),
    Run(Running<'a>),
}

/// A claimed key (or none) while the work runs; dropped unfinished, it frees the key.
pub struct Running<'a> {
    store: &'a MaintenanceKeys,
    keyed: Option<Keyed>,
}

impl Running<'_> {
    /// Keeps `value` as the key's answer and answers it.
    pub fn finish<T: Serialize>(mut self, status: StatusCode, value: T) -> Response {
        if let Some(keyed) = self.keyed.take() {
            match serde_json::to_string(&value) {
                Ok(body) => {
                    let answer = StoredAnswer {
                        request_hash: keyed.hash,
                        status: status.as_u16() as i16,
                        body,
                        etag: None,
                    };
                    self.store.entries().insert(
                        keyed.key,
                        Entry::Done {
                            answer,
                            at: Instant::now(),
                        },
                    );
                }
                Err(_) => {
                    self.store.entries().remove(&keyed.key);
                }
            }
        }
        (status, Json(value)).into_response()
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let Some(keyed) = self.keyed.take() {
            let mut entries = self.store.entries();
            if matches!(entries.get(&keyed.key), Some(Entry::Running { hash }) if *hash == keyed.hash)
            {
                entries.remove(&keyed.key);
            }
        }
    }
}

impl Claim<'_> {
    /// Runs `work` under the claim, or replays the stored answer without running it.
    pub async fn run<T, Fut>(self, status: StatusCode, work: Fut) -> Result<Response, AppError>
    where
        T: Serialize,
        Fut: std::future::Future<Output = Result<T, AppError>>,
    {
        match self {
            Claim::Replay(answer) => Ok(super::replayed(answer)),
            Claim::Run(running) => Ok(running.finish(status, work.await?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str, hash: u8) -> Idempotency {
        Idempotency(Some(Keyed {
            key: k.into(),
            hash: vec![hash],
        }))
    }

    #[test]
    fn a_claim_replays_refuses_or_frees_its_key() {
        let store = MaintenanceKeys::default();
        let Ok(Claim::Run(first)) = store.claim(key("a", 1)) else {
            panic!("first claim runs")
        };
        assert!(matches!(
            store.claim(key("a", 1)),
            Err(AppError::IdempotencyInProgress)
        ));
        drop(first);
        let Ok(Claim::Run(again)) = store.claim(key("a", 1)) else {
            panic!("a failed first run frees the key")
        };
        let _ = again.finish(StatusCode::OK, serde_json::json!({"n": 1}));
        match store.claim(key("a", 1)) {
            Ok(Claim::Replay(answer)) => assert_eq!(answer.body, r#"{"n":1}"#),
            _ => panic!("replayed"),
        }
        assert!(matches!(
            store.claim(key("a", 2)),
            Err(AppError::IdempotencyKeyReused)
        ));
    }

    #[test]
    fn the_store_stays_bounded() {
        let store = MaintenanceKeys::default();
        for i in 0..MAX_KEYS + 10 {
            if let Ok(Claim::Run(r)) = store.claim(key(&format!("k{i}"), 1)) {
                let _ = r.finish(StatusCode::OK, 1);
            }
        }
        assert!(store.entries().len() <= MAX_KEYS);
    }
}
