//! Integration tests: the real router against a real PostgreSQL (see `harness`).

mod harness;

mod auth;
mod bad_input;
mod expenses;
mod explain;
mod isolation;
mod migrations;
mod projects;
mod tasks;
mod tcp;
mod tenants;
mod users;
