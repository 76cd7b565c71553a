//! Operations on the whole database (platform scope): tenant metrics, maintenance
//! (partitions, ANALYZE, VACUUM, REINDEX) and statistics for `/utils/db` and the CLI.
//!
//! This is the one place outside `repos/` that reads tenant tables, and it does so only
//! in aggregate, across tenants or for a platform admin, with raw SQL built from constant
//! table lists: never a name taken from a request.

pub mod maintenance;
pub mod metrics;
pub mod stats;

use std::time::Instant;

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppError;

/// The outcome of one maintenance step.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Step {
    /// What ran, e.g. `vacuum users`.
    pub name: String,
    pub ok: bool,
    /// Wall time in milliseconds (fractional).
    pub duration_ms: f64,
    /// What it did, or why it failed.
    pub detail: String,
}

/// Runs `f` as the step `name`: its error becomes `ok: false` with the reason, so one
/// failing step does not hide the others. A lost database still fails the whole call,
/// since no later step could run either.
pub fn step(
    name: impl Into<String>,
    f: impl FnOnce() -> Result<String, AppError>,
) -> Result<Step, AppError> {
    let started = Instant::now();
    let result = f();
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let name = name.into();
    match result {
        Ok(detail) => Ok(Step {
            name,
            ok: true,
            duration_ms,
            detail,
        }),
        Err(e @ AppError::DatabaseUnavailable(_)) => Err(e),
        Err(e) => {
            tracing::warn!(step = %name, error = %e, "maintenance step failed");
            Ok(Step {
                name,
                ok: false,
                duration_ms,
                detail: describe(&e),
            })
        }
    }
}

/// A failed step's reason for the platform admin: PostgreSQL's own message (never SQL
/// text, never bind values).
fn describe(e: &AppError) -> String {
    match e {
        AppError::Internal(cause) => cause.clone(),
        other => other.to_string(),
    }
}
