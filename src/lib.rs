//! Tenantry: a multi-tenant REST API server on PostgreSQL with column-based isolation.
//!
//! Layers, one direction only: `http` (axum handlers) → `repos` (the only code that
//! touches tenant tables) → `models`/`schema` → PostgreSQL.

#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod app;
pub mod auth;
pub mod config;
pub mod connections;
pub mod db;
pub mod env_vars;
pub mod error;
pub mod http;
pub mod metrics;
pub mod models;
pub mod ops;
pub mod repos;
pub mod request_id;
pub mod schema;
pub mod server;
pub mod telemetry;
pub mod validate;

pub use app::{App, AppState};
pub use http::router;
