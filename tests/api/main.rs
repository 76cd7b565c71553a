//! Integration tests: the real router against a real PostgreSQL (see `harness`).

mod harness;
mod hostile_input;

mod auth;
mod backup;
mod bad_input;
mod citus;
mod deploy;
mod expenses;
mod explain;
mod isolation;
mod items;
mod login_flood;
mod migrations;
mod observability;
mod ops;
mod ops_support;
mod pool_share;
mod projects;
mod rate_limit;
mod schema_rules;
mod seed;
mod slow_clients;
mod tasks;
mod tcp;
mod tenant_metrics;
mod tenants;
mod token_rules;
mod users;
mod utils_db;
