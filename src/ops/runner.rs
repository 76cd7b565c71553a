//! Runs maintenance as a list of steps within a time budget.
//!
//! Each step reports `{name, ok, duration_ms, detail}`; a failing step is reported and
//! the next one still runs. The budget keeps a maintenance call inside its request's
//! time: a step is not started once the budget is spent, and a running statement is cut
//! off by a `statement_timeout` set to what is left of it. VACUUM cannot run in a
//! transaction, so the timeout is a session setting: the connection's own value is read
//! first and put back when the run ends, before the connection returns to the pool.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::Text;
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
    /// What it did, why it failed, or why it was skipped.
    pub detail: String,
}

/// Runs steps on one connection until done or out of time.
pub struct Runner<'c> {
    conn: &'c mut PgConnection,
    deadline: Option<Instant>,
    /// The connection's `statement_timeout` before the run, restored by [`finish`](Self::finish).
    original_timeout: String,
    steps: Vec<Step>,
}

impl<'c> Runner<'c> {
    /// A runner whose steps must all end within `budget` (none: no limit beyond the
    /// connection's own statement timeout).
    pub fn new(conn: &'c mut PgConnection, budget: Option<Duration>) -> Result<Self, AppError> {
        let original_timeout = setting(conn)?;
        Ok(Runner {
            conn,
            deadline: budget.map(|b| Instant::now() + b),
            original_timeout,
            steps: Vec::new(),
        })
    }

    /// Records a step that was not run.
    pub fn skip(&mut self, name: impl Into<String>, why: &str) {
        self.steps.push(Step {
            name: name.into(),
            ok: true,
            duration_ms: 0.0,
            detail: format!("skipped: {why}"),
        });
    }

    /// Runs `f` as the step `name`. Its error becomes `ok: false` with the reason; only
    /// a lost database ends the whole run, since no later step could run either.
    pub fn step(
        &mut self,
        name: impl Into<String>,
        f: impl FnOnce(&mut PgConnection) -> Result<String, AppError>,
    ) -> Result<(), AppError> {
        let name = name.into();
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < Duration::from_millis(1) {
                self.skip(name, "the request's time budget is spent; run it again");
                return Ok(());
            }
            set_timeout(self.conn, &format!("{}ms", left.as_millis()))?;
        }
        let started = Instant::now();
        let result = f(self.conn);
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (ok, detail) = match result {
            Ok(detail) => (true, detail),
            Err(e @ AppError::DatabaseUnavailable(_)) => return Err(e),
            Err(e) => {
                tracing::warn!(step = %name, error = %e, "maintenance step failed");
                (false, describe(&e))
            }
        };
        self.steps.push(Step {
            name,
            ok,
            duration_ms,
            detail,
        });
        Ok(())
    }

    /// Restores the connection's statement timeout and returns the steps.
    pub fn finish(self) -> Result<Vec<Step>, AppError> {
        if self.deadline.is_some() {
            set_timeout(self.conn, &self.original_timeout)?;
        }
        Ok(self.steps)
    }
}

/// A failed step's reason for the platform admin: PostgreSQL's own message (never SQL
/// text, never bind values).
fn describe(e: &AppError) -> String {
    match e {
        AppError::Internal(cause) => cause.clone(),
        // The step's own time budget (its statement timeout) ran out: say so, since the
        // operator's remedy is to run the call again, not to look for a fault.
        AppError::Timeout | AppError::StatementTimeout(_) => {
            "cut off by the statement timeout: the step did not fit the request's time budget"
                .into()
        }
        other => other.to_string(),
    }
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Text)]
    value: String,
}

fn setting(conn: &mut PgConnection) -> Result<String, AppError> {
    let s: Setting = diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
        .get_result(conn)?;
    Ok(s.value)
}

/// Sets the session's statement timeout; the value is bound, never pasted.
fn set_timeout(conn: &mut PgConnection, value: &str) -> Result<(), AppError> {
    diesel::sql_query("SELECT set_config('statement_timeout', $1, false) AS value")
        .bind::<Text, _>(value)
        .load::<Setting>(conn)?;
    Ok(())
}
