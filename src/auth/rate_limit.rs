//! Per-tenant rate limiting (docs/API.md §10): a GCRA token bucket per tenant id, from the
//! `governor` crate, configured by `RATE_LIMIT_RPS` and `RATE_LIMIT_BURST` (off at 0).
//!
//! Keyed by the tenant of the verified token, so one tenant at its limit never slows
//! another; checked in the `TenantContext` extractor, before any database work.

use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::error::AppError;

/// The limiter; `None` inside when rate limiting is off.
pub struct TenantRateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<Uuid>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for TenantRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRateLimiter")
            .field("enabled", &self.limiter.is_some())
            .finish()
    }
}

impl TenantRateLimiter {
    /// `rps` requests per second per tenant with bursts of `burst` (at least `rps` when
    /// unset); `rps == 0` turns limiting off.
    pub fn new(rps: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(rps).map(|rps| {
            let burst = NonZeroU32::new(burst).unwrap_or(rps);
            RateLimiter::keyed(Quota::per_second(rps).allow_burst(burst))
        });
        TenantRateLimiter {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// Takes one token from the tenant's bucket, or answers `429` with the whole seconds
    /// to wait.
    pub fn check(&self, tenant_id: Uuid) -> Result<(), AppError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&tenant_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            AppError::RateLimited {
                retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })?;
        // Forget idle tenants now and then so the map does not grow without bound.
        if limiter.len() > 10_000 {
            limiter.retain_recent();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_at_zero_and_per_tenant_when_on() {
        let off = TenantRateLimiter::new(0, 0);
        for _ in 0..1000 {
            off.check(Uuid::nil()).unwrap();
        }
        let on = TenantRateLimiter::new(1, 2);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        on.check(a).unwrap();
        on.check(a).unwrap();
        let err = on.check(a).unwrap_err();
        assert!(matches!(err, AppError::RateLimited { retry_after_secs } if retry_after_secs >= 1));
        on.check(b).unwrap();
    }
}
