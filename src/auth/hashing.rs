//! Password hashing on its own bounded set of threads (docs/API.md §2).
//!
//! An Argon2id verification takes ~19 MiB and tens of milliseconds of one core. Run on
//! Tokio's blocking pool, a flood of logins would take as many threads (and as much
//! memory) as it likes and queue every tenant's database work behind it. Here at most
//! `HASH_WORKERS` hashes run at once, on dedicated threads; a caller waits at most
//! [`WAIT`] for a worker and otherwise gets `503` with `Retry-After`.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, oneshot};

use crate::error::AppError;

/// Longest wait for a free worker before answering 503.
pub const WAIT: Duration = Duration::from_secs(1);
/// What a refused caller is told to wait.
const RETRY_AFTER_SECS: u64 = 1;

type Job = Box<dyn FnOnce() + Send>;

/// The workers and the permits that bound them.
pub struct HashPool {
    permits: Arc<Semaphore>,
    jobs: Mutex<mpsc::Sender<Job>>,
    wait: Duration,
}

impl std::fmt::Debug for HashPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashPool")
            .field("free", &self.permits.available_permits())
            .finish()
    }
}

impl HashPool {
    /// Starts `workers` threads (at least one).
    pub fn new(workers: usize) -> Self {
        Self::with_wait(workers, WAIT)
    }

    /// As [`new`](Self::new) with another wait (tests).
    pub fn with_wait(workers: usize, wait: Duration) -> Self {
        let workers = workers.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..workers {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take one job.
                        let job = match rx.lock() {
                            Ok(guard) => guard.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool was dropped
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        HashPool {
            permits: Arc::new(Semaphore::new(workers)),
            jobs: Mutex::new(tx),
            wait,
        }
    }

    /// Runs `f` on a worker once one is free within the wait (one second: logins),
    /// else `503`.
    pub async fn run<T, F>(&self, f: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run_within(self.wait, f).await
    }

    /// As [`run`](Self::run) with another wait: an authenticated admin creating users
    /// waits its turn (up to the request timeout) rather than being refused after a
    /// second; only logins, open to anyone, are refused that soon.
    pub async fn run_within<T, F>(&self, wait: Duration, f: F) -> Result<T, AppError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        // `tenantry_password_hash_queue`: from the wait for a worker to the hash's end.
        let _queued = crate::metrics::PasswordHashQueued::enter();
        let permit = tokio::time::timeout(wait, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| AppError::Busy {
                retry_after_secs: RETRY_AFTER_SECS,
            })?
            .map_err(|_| AppError::internal("hash pool closed"))?;
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            // The permit is released when the work is done, even if the caller left.
            let _permit = permit;
            let _ = tx.send(f());
        });
        self.jobs
            .lock()
            .map_err(|_| AppError::internal("hash pool lock poisoned"))?
            .send(job)
            .map_err(|_| AppError::internal("hash workers gone"))?;
        rx.await
            .map_err(|_| AppError::internal("hash worker dropped a job"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_n_run_and_a_caller_waits_at_most_the_limit() {
        let pool = Arc::new(HashPool::with_wait(1, Duration::from_millis(300)));
        assert_eq!(pool.run(|| 2 + 2).await.unwrap(), 4);
        let busy = {
            let pool = pool.clone();
            tokio::spawn(async move {
                pool.run(|| std::thread::sleep(Duration::from_millis(1500)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            crate::metrics::password_hash_queue() >= 1,
            "the running hash is counted"
        );
        let started = Instant::now();
        let refused = pool.run(|| ()).await;
        assert!(matches!(refused, Err(AppError::Busy { .. })), "{refused:?}");
        assert!(started.elapsed() < Duration::from_millis(1400));
        busy.await.unwrap().unwrap();
        // Free again.
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }
}
