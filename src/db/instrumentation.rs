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
                if CAPTURING.load(Ordering::Relaxed) {
                    if let Ok(mut seen) = CAPTURED.lock() {
                        seen.push(sql_only(&query.to_string()).to_string());
                    }
                }
                report(elapsed, self.threshold, query);
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

/// Records one finished query: always in the query-time metric, and as a warning when it
/// took `threshold` or longer. Returns whether it was logged. The query is rendered only
/// then, since rendering costs an allocation per query.
fn report(elapsed: Duration, threshold: Duration, query: &dyn std::fmt::Display) -> bool {
    crate::metrics::record_query(elapsed);
    if elapsed < threshold {
        return false;
    }
    tracing::warn!(
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        sql = %sql_only(&query.to_string()),
        "slow query"
    );
    true
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
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::{report, sql_only};

    /// Collects what a test subscriber writes.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
        type Writer = Capture;
        fn make_writer(&'a self) -> Capture {
            self.clone()
        }
    }

    fn logged(f: impl FnOnce()) -> String {
        let capture = Capture::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(capture.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, f);
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn slow_queries_are_logged_once_without_their_binds_and_fast_ones_not_at_all() {
        let query = r#"SELECT * FROM users WHERE email = $1 -- binds: ["secret@x.co"]"#;
        let threshold = Duration::from_millis(100);
        let out = logged(|| {
            assert!(report(Duration::from_millis(250), threshold, &query));
            assert!(
                report(threshold, threshold, &query),
                "the threshold itself is slow"
            );
            assert!(!report(Duration::from_millis(99), threshold, &"SELECT 1"));
        });
        assert_eq!(out.matches("slow query").count(), 2, "{out}");
        assert!(out.contains("WARN"), "{out}");
        assert!(
            out.contains("SELECT * FROM users WHERE email = $1"),
            "{out}"
        );
        assert!(out.contains("duration_ms=250"), "{out}");
        assert!(!out.contains("secret@x.co"), "{out}");
        assert!(!out.contains("SELECT 1"), "{out}");
    }

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
