//! A short-lived cache of principals (a user's current role and active flag, and its
//! tenant's status and feature flags), so the hot path does not read them from the
//! database on every request.
//!
//! docs/API.md §2 allows at most 5 s of staleness *on other instances*; on this instance a
//! change must take effect at once. Every write that changes a user or a tenant
//! therefore invalidates here, and a generation counter stops a load that raced with
//! such a write from putting the stale value back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

use super::Role;
use crate::models::tenant::TenantStatus;

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(5);
/// Entries kept before the cache is cleared wholesale (a cheap bound on memory).
const MAX_ENTRIES: usize = 100_000;

/// What the database says about a token's user right now.
#[derive(Debug, Clone)]
pub struct Principal {
    pub role: Role,
    pub is_active: bool,
    pub tenant_status: TenantStatus,
    pub features: serde_json::Value,
    /// Tokens whose `iat` is before this (Unix seconds) are revoked.
    pub tokens_valid_after: Option<i64>,
}

#[derive(Default)]
struct Inner {
    generation: u64,
    entries: HashMap<(Uuid, Uuid), (Principal, Instant)>,
}

/// The cache; keyed by `(tenant_id, user_id)`.
#[derive(Default)]
pub struct PrincipalCache {
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for PrincipalCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrincipalCache")
    }
}

impl PrincipalCache {
    /// A fresh entry, if any, and the generation to pass to [`insert`](Self::insert)
    /// after loading on a miss.
    pub fn get(&self, tenant_id: Uuid, user_id: Uuid) -> (Option<Principal>, u64) {
        let Ok(inner) = self.inner.lock() else {
            return (None, u64::MAX);
        };
        let hit = inner
            .entries
            .get(&(tenant_id, user_id))
            .filter(|(_, at)| at.elapsed() < TTL)
            .map(|(p, _)| p.clone());
        (hit, inner.generation)
    }

    /// Stores a principal loaded at `generation`, unless an invalidation happened since.
    pub fn insert(&self, tenant_id: Uuid, user_id: Uuid, principal: Principal, generation: u64) {
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES {
            inner.entries.clear();
        }
        inner
            .entries
            .insert((tenant_id, user_id), (principal, Instant::now()));
    }

    /// Forgets one user (after a role, active-flag or password change).
    pub fn invalidate_user(&self, tenant_id: Uuid, user_id: Uuid) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.entries.remove(&(tenant_id, user_id));
        }
    }

    /// Forgets every user of a tenant (after a status, feature or delete change).
    pub fn invalidate_tenant(&self, tenant_id: Uuid) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.generation += 1;
            inner.entries.retain(|(t, _), _| *t != tenant_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal() -> Principal {
        Principal {
            role: Role::Admin,
            is_active: true,
            tenant_status: TenantStatus::Active,
            features: serde_json::json!({}),
            tokens_valid_after: None,
        }
    }

    #[test]
    fn a_load_that_raced_an_invalidation_is_not_cached() {
        let cache = PrincipalCache::default();
        let (t, u) = (Uuid::now_v7(), Uuid::now_v7());
        let (hit, generation) = cache.get(t, u);
        assert!(hit.is_none());
        cache.invalidate_user(t, u);
        cache.insert(t, u, principal(), generation);
        assert!(cache.get(t, u).0.is_none());
        let (_, generation) = cache.get(t, u);
        cache.insert(t, u, principal(), generation);
        assert!(cache.get(t, u).0.is_some());
        cache.invalidate_tenant(t);
        assert!(cache.get(t, u).0.is_none());
    }
}
