//! The r2d2 connection pools and the session settings every connection gets.
//!
//! There are two pools (docs/security.md): the *tenant* pool, whose connections
//! switch to the least-privilege role [`APP_ROLE`] as they are made (as PostgREST does),
//! and the *platform* pool, whose connections keep the login role (the owner, member of
//! `tenantry_platform`, or a superuser). Tenant requests only ever get the first
//! (`db::read_for` / `db::write_for`); the second is `db::platform`'s.

use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{
    ConnectionManager, CustomizeConnection, ManageConnection, Pool, PooledConnection,
    R2D2Connection,
};

use crate::error::AppError;

/// The application's pool type.
pub type DbPool = Pool<Manager>;
/// A connection checked out of [`DbPool`].
pub type PooledConn = PooledConnection<Manager>;

/// A pooled PostgreSQL connection that can be marked as lost.
///
/// Diesel only reports a connection as broken when a transaction failed on it; a
/// connection whose server went away between transactions looks healthy and would be
/// handed out again and again. `db::with_conn` marks such a connection `lost` when a query
/// on it fails for that reason, and the pool then drops it instead of reusing it.
pub struct Conn {
    pub pg: PgConnection,
    lost: bool,
    /// When the connection last did work for a request (or was opened).
    last_used: Instant,
}

impl Conn {
    /// Makes the pool discard this connection when it is returned.
    pub fn mark_lost(&mut self) {
        self.lost = true;
    }

    /// Records that the connection just did work.
    pub fn touch(&mut self) {
        self.last_used = Instant::now();
    }
}

/// A connection idle for longer than this is checked (`SELECT 1`) before a request
/// may use it. A PostgreSQL restart, or anything else that closed pooled connections,
/// happens while they sit idle, and no restart is done in 100 ms: the check finds them
/// before a client's statement does (docs/API.md §11). Under load connections are reused
/// within milliseconds, so the hot path does not pay the extra round trip; at a few
/// requests per second it costs one loopback round trip (tens of microseconds).
pub const CHECK_IF_IDLE_FOR: Duration = Duration::from_millis(100);

/// The r2d2 manager for [`Conn`], delegating to Diesel's.
#[derive(Debug)]
pub struct Manager {
    inner: ConnectionManager<PgConnection>,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        Ok(Conn {
            pg: self.inner.connect()?,
            lost: false,
            last_used: Instant::now(),
        })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.pg.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.lost || self.inner.has_broken(&mut conn.pg)
    }
}

/// The role tenant requests run as: no superuser, no `BYPASSRLS`, owns nothing (made by
/// the `roles_and_rls` migration).
pub const APP_ROLE: &str = "tenantry_app";
/// The role whose members see every tenant's rows (a policy on every tenant table):
/// granted to the owner, never to [`APP_ROLE`].
pub const PLATFORM_ROLE: &str = "tenantry_platform";

/// Which of the two pools a pool is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// Connections run as [`APP_ROLE`], held to row-level security.
    Tenant,
    /// Connections keep the login role: the platform path.
    Platform,
}

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
/// the query instrumentation (slow-query log, query-time metric); on the tenant pool
/// also the switch to [`APP_ROLE`].
#[derive(Debug)]
struct SessionSetup {
    statement_timeout_ms: u128,
    slow_query: Duration,
    kind: PoolKind,
}

/// What a tenant connection runs once, in the same round trip as the other settings.
///
/// `SET ROLE` makes every later statement run with the application role's privileges
/// and row-level security, whichever role logged in (a superuser, the owner, or the
/// restricted role itself). `citus.propagate_set_commands = 'local'` makes Citus send
/// the per-transaction `SET LOCAL app.tenant_id` of `db::read_for` / `write_for` to the
/// workers, where the shards' policies read it; on plain PostgreSQL it is an inert
/// placeholder setting.
fn tenant_session_sql() -> String {
    format!("; SET ROLE {APP_ROLE}; SET citus.propagate_set_commands = 'local'")
}

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        let conn = &mut conn.pg;
        let role = match self.kind {
            PoolKind::Tenant => tenant_session_sql(),
            PoolKind::Platform => String::new(),
        };
        conn.batch_execute(&format!(
            "SET TIME ZONE 'UTC'; SET statement_timeout = {}{role}",
            self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)?;
        conn.set_instrumentation(super::instrumentation::QueryTimer::new(self.slow_query));
        Ok(())
    }
}

/// Builds the pool without connecting: the server can start (and answer 503) while the
/// database is still down; migrations at start-up are what require it to be up.
pub fn build(url: &str, kind: PoolKind, options: &PoolOptions) -> DbPool {
    let manager = Manager {
        inner: ConnectionManager::<PgConnection>::new(url),
    };
    Pool::builder()
        .max_size(options.max_size)
        .min_idle(Some(0))
        .connection_timeout(options.acquire_timeout)
        // A broken or lost connection is dropped when it is returned (`has_broken`);
        // testing each checkout with `SELECT 1` would add a round trip to every request.
        .test_on_check_out(false)
        .idle_timeout(Some(Duration::from_secs(300)))
        .connection_customizer(Box::new(SessionSetup {
            statement_timeout_ms: options.statement_timeout.as_millis(),
            slow_query: options.slow_query,
            kind,
        }))
        // r2d2 logs connection errors itself at error level; they are reported once, as
        // 503s, by the request path instead.
        .error_handler(Box::new(diesel::r2d2::NopErrorHandler))
        .build_unchecked(manager)
}

/// Takes a connection, mapping a timeout or a refused connection to `503`.
///
/// A connection idle for more than [`CHECK_IF_IDLE_FOR`] is pinged first; a dead one is
/// discarded and the next one tried, so that stale connections (after a database
/// restart, one per pooled connection) are never charged to a request.
pub fn checkout(pool: &DbPool) -> Result<PooledConn, AppError> {
    // Every pooled connection may be dead, and then one more, freshly opened.
    for _ in 0..=pool.max_size() {
        let mut conn = pool.get().map_err(|e| {
            crate::metrics::record_pool_timeout();
            AppError::DatabaseUnavailable(format!("pool checkout: {e}"))
        })?;
        if conn.last_used.elapsed() <= CHECK_IF_IDLE_FOR {
            return Ok(conn);
        }
        if conn.pg.batch_execute("SELECT 1").is_ok() {
            conn.touch();
            return Ok(conn);
        }
        tracing::debug!("discarding a pooled connection that no longer answers");
        conn.mark_lost();
    }
    Err(AppError::DatabaseUnavailable(
        "no pooled connection answers".into(),
    ))
}

/// Opens a single connection outside the pool (CLI commands, migrations).
pub fn connect(url: &str) -> Result<PgConnection, diesel::ConnectionError> {
    PgConnection::establish(url)
}

/// The tenant pool and the platform pool of one server.
#[derive(Debug, Clone)]
pub struct Pools {
    pub tenant: DbPool,
    pub platform: DbPool,
}

/// The platform pool's size: a fraction of the tenant pool's. Platform work is logins
/// (whose cost is the password hash, not the database), principal loads on a cache
/// miss, and operator routes, so it needs far fewer connections than tenant traffic.
pub fn platform_pool_size(tenant_pool_size: u32) -> u32 {
    (tenant_pool_size / 2).max(2)
}

/// Builds both pools: the tenant pool on `tenant_url` (switched to [`APP_ROLE`]), the
/// platform pool on `platform_url` (the owner's URL: `MIGRATION_DATABASE_URL` when the
/// server's own URL names the restricted role, else the same URL).
pub fn build_pools(tenant_url: &str, platform_url: &str, options: &PoolOptions) -> Pools {
    let platform_options = PoolOptions {
        max_size: platform_pool_size(options.max_size),
        ..options.clone()
    };
    Pools {
        tenant: build(tenant_url, PoolKind::Tenant, options),
        platform: build(platform_url, PoolKind::Platform, &platform_options),
    }
}
