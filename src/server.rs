//! Starting and stopping: where the database comes from (`DATABASE_URL` or the private
//! cluster), the JWT secret, migrations at start, and `serve` with graceful shutdown.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::app::App;
use crate::config::{Config, check_jwt_secret};
use crate::db::embedded::{PrivateCluster, random_hex, write_private};
use crate::db::{migrations, pool};

/// How long in-flight requests may run after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The database a command works on; holds the private cluster (stopped on drop) when
/// one was started.
pub struct Database {
    pub url: String,
    pub cluster: Option<PrivateCluster>,
}

/// `DATABASE_URL` when set, else the private cluster under `TENANTRY_DATA_DIR`.
///
/// Call it on the main thread: the private server is tied to the thread that starts it
/// (it shuts down if that thread dies).
pub fn open_database(config: &Config) -> Result<Database, BoxError> {
    match &config.database_url {
        Some(url) => Ok(Database {
            url: url.clone(),
            cluster: None,
        }),
        None => {
            let cluster = PrivateCluster::start(&config.data_dir)?;
            Ok(Database {
                url: cluster.url(),
                cluster: Some(cluster),
            })
        }
    }
}

/// `JWT_SECRET`, or with the private cluster a generated development secret kept in
/// the data directory (and a warning). Never logged.
pub fn jwt_secret(config: &Config) -> Result<String, BoxError> {
    if let Some(secret) = &config.jwt_secret {
        return Ok(secret.clone());
    }
    if config.database_url.is_some() {
        return Err("JWT_SECRET is required (at least 32 bytes) when DATABASE_URL is set".into());
    }
    let file = config.data_dir.join("jwt_secret");
    // A file that is not a private file of ours (planted, a symlink) is an error.
    let secret = match crate::db::embedded::read_private(&file)? {
        Some(s) if check_jwt_secret(s.trim()).is_ok() => s.trim().to_string(),
        _ => {
            std::fs::create_dir_all(&config.data_dir)?;
            let s = random_hex(32);
            write_private(&file, &s)?;
            s
        }
    };
    tracing::warn!(file = %file.display(), "JWT_SECRET is not set: using a generated development secret");
    Ok(secret)
}

/// Applies pending migrations on a dedicated connection.
pub fn migrate(url: &str) -> Result<Vec<String>, BoxError> {
    let mut conn = pool::connect(url)?;
    migrations::run_pending(&mut conn)
}

/// Serves until SIGTERM or SIGINT, then drains in-flight requests (up to 30 s).
pub async fn serve(config: Config, database_url: &str) -> Result<(), BoxError> {
    let secret = jwt_secret(&config)?;
    let url = database_url.to_string();
    let applied = tokio::task::spawn_blocking(move || migrate(&url)).await??;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "migrations applied");
    }
    let pool = pool::build(
        database_url,
        &pool::PoolOptions {
            max_size: config.db_pool_size,
            acquire_timeout: config.db_acquire_timeout,
            statement_timeout: config.statement_timeout,
            slow_query: config.slow_query,
        },
    );
    let listener = TcpListener::bind(config.bind_addr).await?;
    tracing::info!(addr = %listener.local_addr()?, pool_size = config.db_pool_size, "listening");
    let limits = ConnLimits::from_config(&config);
    let app = App::new(config, pool, &secret);
    run_until_signal(listener, crate::router(app), limits, shutdown_signal()).await
}

/// Limits on connections (docs/API.md §10): slow or idle clients hold nothing for long.
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl ConnLimits {
    pub fn from_config(config: &Config) -> Self {
        ConnLimits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections: config.max_connections,
        }
    }
}

/// Serves `router` on `listener` until `signal` resolves, then stops accepting at once
/// and gives in-flight requests [`DRAIN_TIMEOUT`] to finish.
pub async fn run_until_signal(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnLimits,
    signal: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), BoxError> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    crate::connections::accept_loop(listener, router, limits, &graceful, signal).await;
    tracing::info!("shutdown requested: no new connections, draining in-flight requests");
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("drain timeout reached; exiting with requests still running")
        }
    }
    tracing::info!("server stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
