//! Integration tests: the real router against a real PostgreSQL (see `harness`).

mod harness;

mod auth;
mod bad_input;
mod expenses;
mod explain;
mod isolation;
mod items;
mod migrations;
mod observability;
mod projects;
mod rate_limit;
mod tasks;
mod tcp;
mod tenant_metrics;
mod tenants;
mod users;
mod utils_db;
