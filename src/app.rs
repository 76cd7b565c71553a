//! `App`: what every request handler shares (pool, keys, configuration, caches).

use std::sync::Arc;

use crate::auth::jwt::JwtKeys;
use crate::auth::principal_cache::PrincipalCache;
use crate::auth::rate_limit::TenantRateLimiter;
use crate::config::Config;
use crate::db::DbPool;
use crate::db::pagination::CursorCodec;
use crate::db::pool::Pools;

/// Shared application state.
#[derive(Debug)]
pub struct App {
    pub config: Config,
    /// The tenant pool: connections run as the application role (`db::read_for`,
    /// `db::write_for`).
    pub pool: DbPool,
    /// The platform pool: the owner's role, every tenant (`db::platform`).
    pub platform_pool: DbPool,
    pub jwt: JwtKeys,
    pub cursors: CursorCodec,
    /// Shared with database tasks, which invalidate it right after their commit.
    pub principals: Arc<PrincipalCache>,
    pub rate_limiter: TenantRateLimiter,
    /// One permit per pooled connection: taken before a database task is handed to the
    /// blocking pool (see `db::with_conn`).
    pub db_slots: Arc<tokio::sync::Semaphore>,
    /// The same for the platform pool.
    pub platform_slots: Arc<tokio::sync::Semaphore>,
    /// Each tenant's share of the pool (`TENANT_POOL_SHARE`).
    pub tenant_share: crate::db::tenant_share::TenantShare,
    /// Password hashing, on its own bounded threads.
    pub hasher: crate::auth::hashing::HashPool,
    /// Logins per client address (`LOGIN_RATE_LIMIT_PER_MIN`).
    pub login_limiter: crate::auth::client_addr::LoginLimiter,
    /// Answers of the `/utils/db` maintenance `POST`s by `Idempotency-Key`.
    pub maintenance_keys: crate::http::idempotency::MaintenanceKeys,
}

/// What axum handlers receive as state.
pub type AppState = Arc<App>;

impl App {
    /// Builds the state; `jwt_secret` has already been checked for length.
    pub fn new(config: Config, pools: Pools, jwt_secret: &str) -> AppState {
        let rate_limiter = TenantRateLimiter::new(config.rate_limit_rps, config.rate_limit_burst);
        Arc::new(App {
            jwt: JwtKeys::new(jwt_secret.as_bytes()),
            cursors: CursorCodec::new(jwt_secret.as_bytes()),
            principals: Arc::new(PrincipalCache::default()),
            rate_limiter,
            db_slots: Arc::new(tokio::sync::Semaphore::new(pools.tenant.max_size() as usize)),
            platform_slots: Arc::new(tokio::sync::Semaphore::new(
                pools.platform.max_size() as usize
            )),
            tenant_share: crate::db::tenant_share::TenantShare::new(
                pools.tenant.max_size(),
                config.tenant_pool_share,
            ),
            hasher: crate::auth::hashing::HashPool::new(config.hash_workers),
            login_limiter: crate::auth::client_addr::LoginLimiter::new(
                config.login_rate_limit_per_min,
            ),
            maintenance_keys: Default::default(),
            config,
            pool: pools.tenant,
            platform_pool: pools.platform,
        })
    }
}
