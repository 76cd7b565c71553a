//! Diesel instrumentation installed on every pooled connection: times each query,
//! logs the slow ones once as a warning (inside the request's span, so the line carries
//! the request id and tenant id), and feeds the query-time metric.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent};

/// Per-connection query timer.
pub struct QueryTimer {
    threshold: Duration,
    started: Option<Instant>,
}

impl QueryTimer {
    pub fn new(threshold: Duration) -> Self {
        QueryTimer {
            threshold,
            started: None,
        }
    }
}

impl Instrumentation for QueryTimer {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartQuery { .. } => self.started = Some(Instant::now()),
            InstrumentationEvent::FinishQuery { query, .. } => {
                let Some(started) = self.started.take() else {
                    return;
                };
                let elapsed = started.elapsed();
                crate::metrics::record_query(elapsed);
                if CAPTURING.load(Ordering::Relaxed) {
                    if let Ok(mut seen) = CAPTURED.lock() {
                        seen.push(sql_only(&query.to_string()).to_string());
                    }
                }
                if elapsed >= self.threshold {
                    tracing::warn!(
                        duration_ms = elapsed.as_secs_f64() * 1000.0,
                        sql = %sql_only(&query.to_string()),
                        "slow query"
                    );
                }
            }
            _ => {}
        }
    }
}

static CAPTURING: AtomicBool = AtomicBool::new(false);
static CAPTURED: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Starts recording the SQL text (with `$n` placeholders, no values) of every query
/// run from now on, process-wide. For the test that EXPLAINs every repository query;
/// costs one relaxed atomic load per query when off.
#[doc(hidden)]
pub fn start_capture() {
    CAPTURING.store(true, Ordering::Relaxed);
}

/// Stops recording and returns what was recorded.
#[doc(hidden)]
pub fn take_captured() -> Vec<String> {
    CAPTURING.store(false, Ordering::Relaxed);
    CAPTURED
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default()
}

/// Drops the bind values Diesel appends to a query's text: they may hold password
/// hashes or other secrets, and the SQL alone says which query was slow.
fn sql_only(rendered: &str) -> &str {
    rendered
        .split(" -- binds:")
        .next()
        .unwrap_or(rendered)
        .trim()
}

#[cfg(test)]
mod tests {
    use super::sql_only;

    #[test]
    fn bind_values_are_not_logged() {
        let rendered =
            r#"SELECT 1 FROM users WHERE password_hash = $1 -- binds: ["$argon2id$secret"]"#;
        assert_eq!(
            sql_only(rendered),
            "SELECT 1 FROM users WHERE password_hash = $1"
        );
    }
}
