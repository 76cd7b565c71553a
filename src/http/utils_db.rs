//! `/utils/db/*` (platform admins only, docs/API.md §10): database health, statistics,
//! maintenance and one tenant's footprint. The work itself lives in `ops/`.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::PlatformAdmin;
use crate::db;
use crate::error::AppError;
use crate::http::extract::{AppPath, OptionalJson};
use crate::http::health::pool_snapshot;
use crate::http::idempotency::Idempotency;
use crate::http::middleware::KeepBody;
use crate::ops::stats::{self, IndexStats, TableStats, TenantPerformance};
use crate::ops::{Step, maintenance};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(db_stats))
        .routes(routes!(optimize))
        .routes(routes!(vacuum))
        .routes(routes!(reindex))
        .routes(routes!(tenant_performance))
}

/// The pool as seen by this server process.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PoolState {
    pub max_size: u32,
    /// Open connections, idle or in use.
    pub connections: u32,
    pub idle: u32,
}

fn pool_state(app: &AppState) -> PoolState {
    let p = pool_snapshot(app);
    PoolState {
        max_size: p.max_size,
        connections: p.connections,
        idle: p.idle,
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DatabaseHealth {
    pub connected: bool,
    /// Round trip of one query in milliseconds; `null` when not connected.
    pub latency_ms: Option<f64>,
    /// `null` when not connected.
    pub server_version: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbHealth {
    /// `ok` or `error`.
    pub status: &'static str,
    pub database: DatabaseHealth,
    pub pool: PoolState,
}

/// Database connectivity, latency and pool state. `503` with the same shape and
/// `status: "error"` when the database does not answer (within the pool's checkout
/// timeout).
#[utoipa::path(
    get, path = "/utils/db/health", tag = "operations",
    responses(
        (status = 200, body = DbHealth),
        (status = 503, description = "the database did not answer: same shape, status `error`", body = DbHealth),
    )
)]
pub async fn health(
    State(app): State<AppState>,
    _admin: PlatformAdmin,
) -> (StatusCode, Extension<KeepBody>, Json<DbHealth>) {
    // The pool that serves tenant requests, whose figures the response reports; the
    // probe reads no tenant data.
    let probe = db::unscoped(&app, stats::probe).await;
    let (status, code, database) = match probe {
        Ok(p) => (
            "ok",
            StatusCode::OK,
            DatabaseHealth {
                connected: true,
                latency_ms: Some(p.latency_ms),
                server_version: Some(p.server_version),
            },
        ),
        Err(e) => {
            tracing::warn!(error = %e, "database health check failed");
            (
                "error",
                StatusCode::SERVICE_UNAVAILABLE,
                DatabaseHealth {
                    connected: false,
                    latency_ms: None,
                    server_version: None,
                },
            )
        }
    };
    (
        code,
        // The 503 keeps this shape instead of becoming a problem document.
        Extension(KeepBody),
        Json(DbHealth {
            status,
            database,
            pool: pool_state(&app),
        }),
    )
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DbStats {
    /// `pg_database_size` of this database.
    pub database_bytes: i64,
    /// Every table of the schema (each `audit_logs` partition apart), largest first.
    pub tables: Vec<TableStats>,
    /// Every index of the schema, largest first.
    pub indexes: Vec<IndexStats>,
    pub pool: PoolState,
}

/// Sizes and usage of tables and indexes (`pg_stat_user_tables`,
/// `pg_stat_user_indexes`) and the pool state.
#[utoipa::path(get, path = "/utils/db/stats", tag = "operations", responses((status = 200, body = DbStats)))]
pub async fn db_stats(
    State(app): State<AppState>,
    _admin: PlatformAdmin,
) -> Result<Json<DbStats>, AppError> {
    let s = db::platform(&app, stats::database).await?;
    Ok(Json(DbStats {
        database_bytes: s.database_bytes,
        tables: s.tables,
        indexes: s.indexes,
        pool: pool_state(&app),
    }))
}

/// What a maintenance call may spend: the request's time less a second to answer in, so
/// the steps end (or are skipped) before the request timeout could answer `503`.
fn maintenance_time_limit(app: &AppState) -> Option<Duration> {
    Some(
        app.config
            .request_timeout
            .saturating_sub(Duration::from_secs(1)),
    )
}

/// The steps a maintenance call ran. A failed step has `ok: false` and its reason in
/// `detail`; the others still run, and the answer is still `200`. Steps that would not
/// fit in the request's time are not started (`detail` starts with `skipped:`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Steps {
    pub steps: Vec<Step>,
}

/// Routine upkeep: creates the missing monthly `audit_logs` partitions (current and next
/// two months), deletes expired login-throttle rows, `ANALYZE`s the project's tables and
/// refreshes today's tenant metrics.
#[utoipa::path(post, path = "/utils/db/optimize", tag = "operations", responses((status = 200, body = Steps)))]
pub async fn optimize(
    State(app): State<AppState>,
    admin: PlatformAdmin,
    key: Idempotency,
) -> Result<Response, AppError> {
    let claim = app.maintenance_keys.claim(key)?;
    claim
        .run(StatusCode::OK, async {
            let time_limit = maintenance_time_limit(&app);
            let steps =
                db::platform(&app, move |conn| maintenance::optimize(conn, time_limit)).await?;
            tracing::info!(platform_admin = %admin.name, steps = ?steps, "database optimized");
            Ok(Steps { steps })
        })
        .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VacuumRequest {
    /// One of the project's tables (`tenants, users, projects, tasks, items, budgets,
    /// expenses, audit_logs, tenant_metrics`); absent: all of them that exist. Any other
    /// name is `422 validation_failed` and nothing runs.
    #[serde(default)]
    #[schema(schema_with = crate::http::docs::own_table)]
    pub table: Option<String>,
    /// Also update planner statistics (default `true`).
    #[serde(default)]
    pub analyze: Option<bool>,
}

/// `VACUUM` (with `ANALYZE` unless `analyze: false`) outside any transaction, one step
/// per table. The body may be left out (all tables, with analyze).
#[utoipa::path(
    post, path = "/utils/db/vacuum", tag = "operations", request_body = VacuumRequest,
    responses((status = 200, body = Steps))
)]
pub async fn vacuum(
    State(app): State<AppState>,
    admin: PlatformAdmin,
    key: Idempotency,
    OptionalJson(body): OptionalJson<VacuumRequest>,
) -> Result<Response, AppError> {
    // Refuse a bad name before taking a connection.
    if let Some(t) = &body.table {
        maintenance::allowed(t)?;
    }
    let analyze = body.analyze.unwrap_or(true);
    let table = body.table;
    let claim = app.maintenance_keys.claim(key)?;
    claim
        .run(StatusCode::OK, async {
            let time_limit = maintenance_time_limit(&app);
            let steps = db::platform(&app, move |conn| {
                maintenance::vacuum(conn, table.as_deref(), analyze, time_limit)
            })
            .await?;
            tracing::info!(platform_admin = %admin.name, steps = ?steps, "vacuum ran");
            Ok(Steps { steps })
        })
        .await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReindexRequest {
    /// As for vacuum: one of the project's tables, or absent for all that exist.
    #[serde(default)]
    #[schema(schema_with = crate::http::docs::own_table)]
    pub table: Option<String>,
}

/// `REINDEX TABLE CONCURRENTLY`, one step per table (reads and writes continue). For the
/// partitioned `audit_logs`, each partition's indexes are rebuilt concurrently in turn.
/// The body may be left out (all tables).
#[utoipa::path(
    post, path = "/utils/db/reindex", tag = "operations", request_body = ReindexRequest,
    responses((status = 200, body = Steps))
)]
pub async fn reindex(
    State(app): State<AppState>,
    admin: PlatformAdmin,
    key: Idempotency,
    OptionalJson(body): OptionalJson<ReindexRequest>,
) -> Result<Response, AppError> {
    if let Some(t) = &body.table {
        maintenance::allowed(t)?;
    }
    let table = body.table;
    let claim = app.maintenance_keys.claim(key)?;
    claim
        .run(StatusCode::OK, async {
            let time_limit = maintenance_time_limit(&app);
            let steps = db::platform(&app, move |conn| {
                maintenance::reindex(conn, table.as_deref(), time_limit)
            })
            .await?;
            tracing::info!(platform_admin = %admin.name, steps = ?steps, "reindex ran");
            Ok(Steps { steps })
        })
        .await
}

/// One tenant's row counts, recent activity and estimated storage; `404` for an unknown
/// tenant.
#[utoipa::path(
    get, path = "/utils/db/tenant/{id}/performance", tag = "operations",
    params(("id" = Uuid, Path, description = "tenant id")),
    responses((status = 200, body = TenantPerformance))
)]
pub async fn tenant_performance(
    State(app): State<AppState>,
    _admin: PlatformAdmin,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<TenantPerformance>, AppError> {
    Ok(Json(
        db::platform(&app, move |conn| stats::tenant(conn, id)).await?,
    ))
}
