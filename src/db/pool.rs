//! The r2d2 connection pool and the session settings every connection gets.

use std::time::Duration;

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};

use crate::error::AppError;

/// The application's pool type.
pub type DbPool = Pool<ConnectionManager<PgConnection>>;
/// A connection checked out of [`DbPool`].
pub type PooledConn = PooledConnection<ConnectionManager<PgConnection>>;

/// Pool settings derived from the configuration.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a checkout waits before the request answers 503.
    pub acquire_timeout: Duration,
    /// Server-side cap on one statement, below the request timeout, so a request that
    /// times out does not leave a query running (and committing) behind it.
    pub statement_timeout: Duration,
    /// Queries slower than this are logged as warnings.
    pub slow_query: Duration,
}

/// Applied to every new connection: UTC session time zone, a statement timeout and
/// the query instrumentation (slow-query log, query-time metric).
#[derive(Debug)]
struct SessionSetup {
    statement_timeout_ms: u128,
    slow_query: Duration,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET TIME ZONE 'UTC'; SET statement_timeout = {}",
            self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        conn.set_instrumentation(super::instrumentation::QueryTimer::new(self.slow_query));
        Ok(())
    }
}

/// Builds the pool without connecting: the server can start (and answer 503) while the
/// database is still down; migrations at start-up are what require it to be up.
pub fn build(url: &str, options: &PoolOptions) -> DbPool {
    let manager = ConnectionManager::<PgConnection>::new(url);
    Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.acquire_timeout)
        // A broken connection is detected and dropped when it is returned (diesel's
        // `has_broken`); testing each checkout with `SELECT 1` would add a round trip to
        // every request.
        .test_on_check_out(false)
        .idle_timeout(Some(Duration::from_secs(300)))
        .connection_customizer(Box::new(SessionSetup {
            statement_timeout_ms: options.statement_timeout.as_millis(),
            slow_query: options.slow_query,
        }))
        // r2d2 logs connection errors itself at error level; they are reported once, as
        // 503s, by the request path instead.
        .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
        .build_unchecked(manager)
}

/// Takes a connection, mapping a timeout or a refused connection to `503`.
pub fn checkout(pool: &DbPool) -> Result<PooledConn, AppError> {
    pool.get().map_err(|e| {
        crate::metrics::record_pool_timeout();
        AppError::DatabaseUnavailable(format!("pool checkout: {e}"))
    })
}

/// Opens a single connection outside the pool (CLI commands, migrations).
pub fn connect(url: &str) -> Result<PgConnection, diesel::ConnectionError> {
    PgConnection::establish(url)
}
