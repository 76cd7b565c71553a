//! One tenant cannot take the whole pool (docs/API.md §10): a tenant's requests hold at most
//! `TENANT_POOL_SHARE` of the connections at once. Beyond that a tenant's requests wait
//! for its own share, before they compete for the pool, so other tenants' requests
//! never queue behind them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

use crate::error::AppError;

/// Tenants remembered before idle ones are forgotten.
const FORGET_ABOVE: usize = 10_000;

/// Per-tenant permits; `None` inside when one tenant may use the whole pool anyway.
pub struct TenantShare {
    per_tenant: usize,
    tenants: Option<Mutex<HashMap<Uuid, Arc<Semaphore>>>>,
}

impl std::fmt::Debug for TenantShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantShare")
            .field("per_tenant", &self.per_tenant)
            .finish()
    }
}

impl TenantShare {
    /// `share` of `pool_size` connections per tenant, at least one.
    pub fn new(pool_size: u32, share: f64) -> Self {
        let per_tenant = ((f64::from(pool_size) * share).floor() as usize).max(1);
        TenantShare {
            per_tenant,
            tenants: (per_tenant < pool_size as usize).then(|| Mutex::new(HashMap::new())),
        }
    }

    /// Connections one tenant may hold at once.
    pub fn per_tenant(&self) -> usize {
        self.per_tenant
    }

    /// Waits (up to `wait`) for one of `tenant`'s permits; `None` when shares are off.
    pub async fn acquire(
        &self,
        tenant: Uuid,
        wait: Duration,
    ) -> Result<Option<OwnedSemaphorePermit>, AppError> {
        let Some(tenants) = &self.tenants else {
            return Ok(None);
        };
        let semaphore = {
            let mut map = tenants
                .lock()
                .map_err(|_| AppError::internal("tenant share lock poisoned"))?;
            if map.len() > FORGET_ABOVE {
                // A tenant with every permit free holds nothing: forgetting it is free.
                let full = self.per_tenant;
                map.retain(|_, s| s.available_permits() < full);
            }
            map.entry(tenant)
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        super::permits::acquire_within(semaphore, wait)
            .await
            .map(Some)
            .map_err(|e| match e {
                super::permits::NoPermit::TimedOut => {
                    crate::metrics::record_pool_timeout();
                    AppError::DatabaseUnavailable(
                        "timed out waiting for the tenant's share of the pool".into(),
                    )
                }
                super::permits::NoPermit::Closed => AppError::internal("tenant share closed"),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_tenant_holds_at_most_its_share() {
        let share = TenantShare::new(8, 0.5);
        assert_eq!(share.per_tenant(), 4);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let wait = Duration::from_millis(50);
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(share.acquire(a, wait).await.unwrap());
        }
        assert!(share.acquire(a, wait).await.is_err());
        assert!(share.acquire(b, wait).await.unwrap().is_some());
        held.pop();
        assert!(share.acquire(a, wait).await.unwrap().is_some());
        // A share of the whole pool needs no permits at all.
        assert!(
            TenantShare::new(8, 1.0)
                .acquire(a, wait)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(TenantShare::new(1, 0.5).per_tenant(), 1);
    }
}
