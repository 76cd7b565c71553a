//! The HTTP layer: the one route table, the middleware stack and the OpenAPI document.
//!
//! Each resource has its own file with its handlers and DTOs and a `routes()` function;
//! [`router`] assembles them. Handlers parse and validate at the boundary, check roles,
//! and call repositories through `db::read_for` / `db::write_for`.

pub mod audit_logs;
pub mod auth;
pub mod budgets;
pub mod conventions;
pub mod docs;
pub mod docs_page;
pub mod expenses;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod items;
pub mod middleware;
pub mod openapi;
pub mod patch;
pub mod preconditions;
pub mod projects;
pub mod reports;
pub mod tasks;
pub mod tenant_metrics;
pub mod tenants;
pub mod users;
pub mod utils_db;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Router, middleware as mw};
use tower::util::option_layer;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;

use crate::app::AppState;
use crate::error::AppError;

/// Every documented route, with its OpenAPI fragment.
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(health::routes())
        .merge(auth::routes())
        .merge(tenants::routes())
        .merge(users::routes())
        .merge(audit_logs::routes())
        .merge(projects::routes())
        .merge(tasks::routes())
        .merge(budgets::routes())
        .merge(expenses::routes())
        .merge(reports::routes())
        .merge(items::routes())
        .merge(tenant_metrics::routes())
        .merge(utils_db::routes())
}

/// The documented routes and their complete OpenAPI document (as served at
/// `/openapi.json`): the one place both the router and `tenantry openapi` get it from.
fn routes_and_document() -> (Router<AppState>, serde_json::Value) {
    let (routes, api) = api_routes().split_for_parts();
    (routes, openapi::finish(api))
}

/// The document as `docs/openapi.json` holds it: pretty-printed, keys in the order utoipa
/// emits them, no trailing newline (the CLI adds one).
pub fn openapi_json_pretty() -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(&routes_and_document().1)
}

/// Builds the application: routes, fallback, middleware, state.
pub fn router(app: AppState) -> Router {
    let (routes, document) = routes_and_document();
    let routes = if app.config.docs_enabled {
        routes.merge(docs_page::routes())
    } else {
        routes
    };
    // Serialized once: the document is the same for every request.
    let document = bytes::Bytes::from(serde_json::to_vec(&document).unwrap_or_default());
    routes
        .route(
            "/openapi.json",
            get(move || async move {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    document.clone(),
                )
            }),
        )
        .fallback(|| async { AppError::RouteNotFound })
        // Innermost first: each layer wraps everything added before it.
        .layer(DefaultBodyLimit::max(extract::BODY_LIMIT))
        .layer(mw::from_fn(idempotency::fingerprint))
        .layer(mw::from_fn(conventions::conventions))
        .layer(mw::from_fn_with_state(
            app.clone(),
            middleware::request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(mw::from_fn(middleware::finalize_problem))
        .layer(option_layer(conventions::cors(
            &app.config.cors_allowed_origins,
        )))
        .layer(mw::from_fn(conventions::preflight_no_content))
        .layer(mw::from_fn(middleware::security_headers))
        .layer(mw::from_fn(middleware::request_context))
        .layer(conventions::compression())
        .layer(mw::from_fn(middleware::refuse_early))
        .with_state(app)
}
