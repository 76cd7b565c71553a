//! Operations on the whole database, for operators and platform admins: tenant
//! metrics, maintenance (partitions, ANALYZE, VACUUM, REINDEX) and statistics for
//! `/utils/db`, and the CLI's operator commands (demo and volume seeding, tenant export,
//! import and delete, running a client against the database).
//!
//! Outside `repos/`, this is the one place that reads tenant tables, and only in
//! aggregate or for a platform operator, with SQL built from constant table lists: never
//! a name taken from a request.

pub mod db;
pub mod healthcheck;
pub mod maintenance;
pub mod metrics;
pub mod runner;
pub mod seed;
pub mod stats;
pub mod tenant;

pub use runner::{Runner, Step};

/// The error type of the operator commands: printed once by `main`, exit status 1.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
