//! Taking a permit of a connection semaphore (the pool's slots, a tenant's share) within
//! a deadline.
//!
//! `tokio::time::timeout` registers a timer for every wait, even one that ends at once;
//! on a pool that is not saturated nearly every request finds a free permit, so the
//! permit is tried first and the timer made only when the request must really wait.
//! Tokio's semaphore is fair: a free permit is never free while others queue for it, so
//! trying first does not let a request overtake the waiters.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Why no permit was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum NoPermit {
    /// `wait` went by first.
    TimedOut,
    /// The semaphore was closed (the server is shutting down).
    Closed,
}

/// A permit of `semaphore`, waiting up to `wait` for one.
pub async fn acquire_within(
    semaphore: Arc<Semaphore>,
    wait: Duration,
) -> Result<OwnedSemaphorePermit, NoPermit> {
    match semaphore.clone().try_acquire_owned() {
        Ok(permit) => Ok(permit),
        Err(TryAcquireError::Closed) => Err(NoPermit::Closed),
        Err(TryAcquireError::NoPermits) => tokio::time::timeout(wait, semaphore.acquire_owned())
            .await
            .map_err(|_| NoPermit::TimedOut)?
            .map_err(|_| NoPermit::Closed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_free_permit_is_taken_and_a_busy_one_times_out() {
        let semaphore = Arc::new(Semaphore::new(1));
        let held = acquire_within(semaphore.clone(), Duration::from_millis(10))
            .await
            .expect("free permit");
        assert_eq!(
            acquire_within(semaphore.clone(), Duration::from_millis(20))
                .await
                .err(),
            Some(NoPermit::TimedOut)
        );
        drop(held);
        assert!(
            acquire_within(semaphore.clone(), Duration::from_millis(20))
                .await
                .is_ok()
        );
        semaphore.close();
        assert_eq!(
            acquire_within(semaphore, Duration::from_millis(20))
                .await
                .err(),
            Some(NoPermit::Closed)
        );
    }

    #[tokio::test]
    async fn a_waiter_gets_the_permit_released_while_it_waits() {
        let semaphore = Arc::new(Semaphore::new(1));
        let held = acquire_within(semaphore.clone(), Duration::from_millis(10))
            .await
            .expect("free permit");
        let waiter = tokio::spawn(acquire_within(semaphore.clone(), Duration::from_secs(5)));
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.expect("join").is_ok());
    }
}
