//! Integration tests: the real router against a real PostgreSQL (see `harness`).

mod harness;

mod auth;
mod backup;
mod bad_input;
mod clients;
mod contract;
mod conventions;
mod deploy;
mod expenses;
mod explain;
mod idempotency;
mod isolation;
mod items;
mod migrations;
mod observability;
mod ops;
mod ops_support;
mod projects;
mod rate_limit;
mod schema_rules;
mod seed;
mod tasks;
mod tcp;
mod tenant_metrics;
mod tenants;
mod users;
mod utils_db;
