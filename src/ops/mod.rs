//! Operator commands behind the CLI (API.md §11): demo and volume seeding, tenant
//! export, import and delete, and running a client against the database. `main` opens
//! the database (`DATABASE_URL` or the private cluster) and hands each its URL; what
//! an operator reads goes to stdout, logs to stderr.

pub mod db;
pub mod seed;
pub mod tenant;

/// The error type of the operator commands: printed once by `main`, exit status 1.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
