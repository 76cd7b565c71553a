//! Unauthenticated operational routes: liveness, readiness and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use diesel::RunQueryDsl;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::db;
use crate::error::AppError;
use crate::metrics::{self, PoolSnapshot};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(prometheus))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// Always `ok`.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health/live", tag = "operations", responses((status = 200, body = Status)))]
pub async fn live() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// The database answers; `503 database_unavailable` otherwise (within the pool's
/// checkout timeout, never a hang).
#[utoipa::path(
    get, path = "/health/ready", tag = "operations",
    responses((status = 200, body = Status), (status = 503, description = "database_unavailable", body = crate::error::Problem, content_type = "application/problem+json"))
)]
pub async fn ready(State(app): State<AppState>) -> Result<Json<Status>, AppError> {
    db::unscoped(&app, |conn| {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok(())
    })
    .await?;
    Ok(Json(Status { status: "ok" }))
}

/// Pool figures for `/metrics` and `/utils/db`.
pub fn pool_snapshot(app: &AppState) -> PoolSnapshot {
    let state = app.pool.state();
    PoolSnapshot {
        max_size: app.pool.max_size(),
        connections: state.connections,
        idle: state.idle_connections,
    }
}

/// Prometheus text exposition. `tenantry_db_up` comes from a `SELECT 1` made for the
/// scrape (bounded like every checkout), so a database that went down while the server
/// was idle is seen at the next scrape, not at the next request.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn prometheus(State(app): State<AppState>) -> impl IntoResponse {
    let db_up = ready(State(app.clone())).await.is_ok();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(pool_snapshot(&app), db_up),
    )
}
