//! Integration tests: the real router against a real PostgreSQL (see `harness`).

mod harness;

mod auth;
mod backup;
mod bad_input;
mod deploy;
mod isolation;
mod migrations;
mod ops;
mod ops_support;
mod schema_rules;
mod tcp;
mod tenants;
mod users;
