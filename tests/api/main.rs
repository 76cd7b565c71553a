//! Integration tests: the real router against a real PostgreSQL (see `harness`).

mod harness;

mod auth;
mod backup;
mod bad_input;
mod isolation;
mod migrations;
mod ops;
mod ops_support;
mod tcp;
mod tenants;
mod users;
