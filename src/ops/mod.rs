//! Operations on the whole database (platform scope): tenant metrics, maintenance
//! (partitions, ANALYZE, VACUUM, REINDEX) and statistics for `/utils/db` and the CLI.
//!
//! This is the one place outside `repos/` that reads tenant tables, and it does so only
//! in aggregate, across tenants or for a platform admin, with raw SQL built from constant
//! table lists: never a name taken from a request.

pub mod maintenance;
pub mod metrics;
pub mod runner;
pub mod stats;

pub use runner::{Runner, Step};
