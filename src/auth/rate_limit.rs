//! Per-tenant rate limiting (docs/API.md §10): a GCRA token bucket per tenant id, from the
//! `governor` crate, configured by `RATE_LIMIT_RPS` and `RATE_LIMIT_BURST` (off at 0).
//!
//! Keyed by the tenant of the verified token, so one tenant at its limit never slows
//! another; checked in the `TenantContext` extractor, before any database work.

use std::num::NonZeroU32;

use std::sync::{Arc, Mutex};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use uuid::Uuid;

use crate::error::AppError;

type KeyedLimiter =
    RateLimiter<Uuid, DefaultKeyedStateStore<Uuid>, DefaultClock, StateInformationMiddleware>;

/// The limiter; `None` inside when rate limiting is off.
pub struct TenantRateLimiter {
    limiter: Option<KeyedLimiter>,
    /// Tokens per second, for `RateLimit-Reset`.
    rps: u32,
    clock: DefaultClock,
}

/// What the `RateLimit-Limit`, `-Remaining` and `-Reset` headers report: the bucket size,
/// the tokens left after this request, and the seconds until the bucket is full again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub limit: u32,
    pub remaining: u32,
    pub reset_secs: u64,
}

/// Where the tenant extractor leaves the request's [`RateState`] for the middleware that
/// writes the headers (`http::conventions`); put into the request's extensions there.
#[derive(Debug, Clone, Default)]
pub struct RateLimitSlot(pub Arc<Mutex<Option<RateState>>>);

impl RateLimitSlot {
    fn set(&self, state: RateState) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(state);
        }
    }

    pub fn get(&self) -> Option<RateState> {
        self.0.lock().ok().and_then(|s| *s)
    }
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
                .with_middleware::<StateInformationMiddleware>()
        });
        TenantRateLimiter {
            limiter,
            rps,
            clock: DefaultClock::default(),
        }
    }

    /// Whether a limit is configured (`RATE_LIMIT_RPS` above 0).
    pub fn enabled(&self) -> bool {
        self.limiter.is_some()
    }

    /// Takes one token from the tenant's bucket, or answers `429` with the whole seconds
    /// to wait.
    pub fn check(&self, tenant_id: Uuid) -> Result<(), AppError> {
        self.check_reporting(tenant_id, None)
    }

    /// As [`check`](Self::check), and leaves the bucket's state in `slot` (when rate
    /// limiting is on) for the `RateLimit-*` headers, on success and on `429` alike.
    pub fn check_reporting(
        &self,
        tenant_id: Uuid,
        slot: Option<&RateLimitSlot>,
    ) -> Result<(), AppError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        let rps = f64::from(self.rps.max(1));
        let outcome = limiter.check_key(&tenant_id);
        let (limit, remaining, result) = match outcome {
            Ok(snapshot) => (
                snapshot.quota().burst_size().get(),
                snapshot.remaining_burst_capacity(),
                Ok(()),
            ),
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let limit = not_until.quota().burst_size().get();
                (
                    limit,
                    0,
                    Err(AppError::RateLimited {
                        retry_after_secs: wait.as_secs_f64().ceil().max(1.0) as u64,
                    }),
                )
            }
        };
        if let Some(slot) = slot {
            // The bucket refills one token every 1/rps seconds.
            let missing = f64::from(limit.saturating_sub(remaining));
            slot.set(RateState {
                limit,
                remaining,
                reset_secs: (missing / rps).ceil() as u64,
            });
        }
        result?;
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
