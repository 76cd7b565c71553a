//! Database access: the r2d2 pool, the private PostgreSQL cluster, embedded migrations,
//! keyset pagination, and the helpers through which every query runs.
//!
//! Diesel is synchronous, so every database call goes through one of three helpers:
//! the tenant-scoped [`read_for`] / [`write_for`] (tenant pool, application role,
//! row-level security keyed by the request's tenant) or [`platform`] (platform pool,
//! the owner's role, every tenant; its callers are listed in [`platform`](mod@platform)).
//! The closure runs on Tokio's blocking pool, inside the caller's tracing span, and the pooled connection is taken *inside* the
//! closure and returned as soon as it ends. No extractor ever holds a connection.

pub mod citus;
pub mod embedded;
pub mod errors;
pub mod instrumentation;
pub mod locking;
pub mod migrations;
pub mod pagination;
pub mod permits;
pub mod platform;
pub mod pool;
pub mod tenant_scope;
pub mod tenant_share;

use std::sync::Arc;

use diesel::pg::PgConnection;

use crate::app::App;
use crate::auth::TenantContext;
use crate::error::AppError;

pub use pool::DbPool;

/// Runs `f` with a connection of `pool` on the blocking thread pool, after waiting
/// for one of `slots`.
async fn with_conn<T, F>(
    app: &App,
    pool: &DbPool,
    slots: &Arc<tokio::sync::Semaphore>,
    f: F,
) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let waiting = std::time::Instant::now();
    // Wait for a connection as a cheap future rather than as a parked blocking thread:
    // with more requests in flight than connections, the blocking pool would otherwise
    // fill with threads that only wait on the pool's condition variable.
    let permit = permits::acquire_within(slots.clone(), app.config.db_acquire_timeout)
        .await
        .map_err(|e| match e {
            permits::NoPermit::TimedOut => {
                crate::metrics::record_pool_wait(waiting.elapsed());
                crate::metrics::record_pool_timeout();
                AppError::DatabaseUnavailable("timed out waiting for a database connection".into())
            }
            permits::NoPermit::Closed => AppError::internal("database slots closed"),
        })?;
    let pool = pool.clone();
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let _entered = span.enter();
        let checkout = pool::checkout(&pool);
        crate::metrics::record_pool_wait(waiting.elapsed());
        let mut conn = checkout?;
        let result = f(&mut conn.pg);
        if matches!(result, Err(AppError::DatabaseUnavailable(_))) {
            conn.mark_lost();
        }
        conn.touch();
        result
    })
    .await
    .map_err(|join| AppError::internal(format!("database task failed: {join}")))?
}

/// Runs `f` on the tenant pool with no tenant set: every tenant table (and `tenants`)
/// looks empty to it. Only for statements that read no tenant data (the readiness
/// probes).
pub async fn unscoped<T, F>(app: &App, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    with_conn(app, &app.pool, &app.db_slots, f).await
}

/// Runs platform work that must see across tenants: the one path that does not run as
/// the application role. Every caller is listed in the [`platform`](mod@platform) module.
pub async fn platform<T, F>(app: &App, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    with_conn(app, &app.platform_pool, &app.platform_slots, f).await
}

/// As [`platform`] for long platform work (deleting a tenant): its statements may run for
/// the request budget, not the short per-statement cap (`STATEMENT_TIMEOUT_MS`) of
/// ordinary requests; the connection gets the short cap back afterwards. (`/utils/db`
/// maintenance sets its own per-step timeouts, see `ops::runner`.)
pub async fn run_maintenance<T, F>(app: &App, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    use diesel::connection::SimpleConnection;
    let long = app
        .config
        .request_timeout
        .saturating_sub(std::time::Duration::from_secs(1))
        .max(app.config.statement_timeout)
        .as_millis();
    let short = app.config.statement_timeout.as_millis();
    platform(app, move |conn| {
        conn.batch_execute(&format!("SET statement_timeout = {long}"))?;
        let result = f(conn);
        // A connection left with the long cap would hand it to the next request.
        conn.batch_execute(&format!("SET statement_timeout = {short}"))
            .map_err(|e| {
                AppError::DatabaseUnavailable(format!("restoring statement_timeout: {e}"))
            })?;
        result
    })
    .await
}

/// Runs tenant-scoped reads in a read-only transaction whose `app.tenant_id` is the
/// context's tenant.
///
/// This helper and the `write_for` family are the only entry points for tenant data, and
/// the only places the tenant setting is made (docs/security.md, the third wall): see
/// [`tenant_scope`]. A read used to be one statement without a transaction; the setting
/// costs it the transaction's two extra round trips (measured in docs/benchmarks.md).
pub async fn read_for<T, F>(app: &App, ctx: &TenantContext, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection, &TenantContext) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let _share = app
        .tenant_share
        .acquire(ctx.tenant_id(), app.config.db_acquire_timeout)
        .await?;
    let ctx = ctx.clone();
    unscoped(app, move |conn| {
        tenant_scope::transaction(conn, &ctx, tenant_scope::Access::ReadOnly, f)
    })
    .await
}

/// Runs tenant-scoped changes in one transaction: the change and its audit row commit
/// together or not at all. The tenant setting is made in the transaction's first round
/// trip, together with `BEGIN`, so it costs writes nothing.
pub async fn write_for<T, F>(app: &App, ctx: &TenantContext, f: F) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection, &TenantContext) -> Result<T, AppError> + Send + 'static,
    T: Send + 'static,
{
    let _share = app
        .tenant_share
        .acquire(ctx.tenant_id(), app.config.db_acquire_timeout)
        .await?;
    let ctx = ctx.clone();
    unscoped(app, move |conn| {
        tenant_scope::transaction(conn, &ctx, tenant_scope::Access::ReadWrite, f)
    })
    .await
}

/// As [`write_for`], then `after` with the result once the transaction has committed,
/// still inside the database task: it runs even when the request's future is dropped
/// (a client hanging up) after the commit. For cache invalidation.
pub async fn write_for_then<T, F, A>(
    app: &App,
    ctx: &TenantContext,
    f: F,
    after: A,
) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection, &TenantContext) -> Result<T, AppError> + Send + 'static,
    A: FnOnce(&T) + Send + 'static,
    T: Send + 'static,
{
    let _share = app
        .tenant_share
        .acquire(ctx.tenant_id(), app.config.db_acquire_timeout)
        .await?;
    let ctx = ctx.clone();
    unscoped(app, move |conn| {
        let result = tenant_scope::transaction(conn, &ctx, tenant_scope::Access::ReadWrite, f)?;
        after(&result);
        Ok(result)
    })
    .await
}

/// Attempts of a transaction that keeps losing to contention.
const CONTENTION_ATTEMPTS: usize = 5;

/// As [`write_for`], retrying the whole transaction when it lost to a serialization
/// failure or deadlock, so contention is never shown to the client.
pub async fn write_for_retrying<T, F>(app: &App, ctx: &TenantContext, f: F) -> Result<T, AppError>
where
    F: Fn(&mut PgConnection, &TenantContext) -> Result<T, AppError> + Send + Sync + Clone + 'static,
    T: Send + 'static,
{
    let mut attempt = 1;
    loop {
        match write_for(app, ctx, f.clone()).await {
            Err(AppError::Contention(cause)) if attempt < CONTENTION_ATTEMPTS => {
                tracing::debug!(attempt, cause = %cause, "retrying after contention");
                attempt += 1;
            }
            other => return other,
        }
    }
}
