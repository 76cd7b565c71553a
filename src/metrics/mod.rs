//! Process-wide counters and histograms rendered as Prometheus text at `GET /metrics`.
//!
//! Hand-rolled on purpose, rather than `metrics` + `metrics-exporter-prometheus`: every
//! series here has a label set known in advance (method, route, status class), so it
//! can be a fixed array of atomics reached without hashing label strings or allocating
//! per request, which a generic label-keyed recorder cannot offer; the text format is a
//! few `writeln!`s, and the families are checked by `promtool check metrics` in the tests.

mod histogram;
mod process;
mod requests;

use std::fmt::Write as _;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use axum::http::Method;

use histogram::Histogram;
pub use requests::METHODS;

/// The login route: its `429`s are login-limit refusals, every other `429` a rate-limit one.
const LOGIN_ROUTE: &str = "/api/v1/auth/login";

static QUERY_TIME: LazyLock<Histogram> = LazyLock::new(Histogram::default);
static POOL_WAIT: LazyLock<Histogram> = LazyLock::new(Histogram::default);
static POOL_WAIT_TIMEOUTS: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicI64 = AtomicI64::new(0);
static RATE_LIMIT_REFUSALS: AtomicU64 = AtomicU64::new(0);
static LOGIN_LIMIT_REFUSALS: AtomicU64 = AtomicU64::new(0);
static PASSWORD_HASH_QUEUE: AtomicU64 = AtomicU64::new(0);

/// Counts one finished request (and, for a `429`, the refusal by its limiter).
pub fn record_request(method: &Method, route: &str, status: u16, elapsed: Duration) {
    requests::record(method, route, status, elapsed);
    if status == 429 {
        let counter = if route == LOGIN_ROUTE {
            &LOGIN_LIMIT_REFUSALS
        } else {
            &RATE_LIMIT_REFUSALS
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// Times one database query (called by the Diesel instrumentation).
pub fn record_query(elapsed: Duration) {
    QUERY_TIME.observe(elapsed);
}

/// Times one wait for a pooled connection: the slot semaphore plus the r2d2 checkout.
pub fn record_pool_wait(elapsed: Duration) {
    POOL_WAIT.observe(elapsed);
}

/// Counts a request that gave up waiting for a pooled connection.
pub fn record_pool_timeout() {
    POOL_WAIT_TIMEOUTS.fetch_add(1, Ordering::Relaxed);
}

/// Counts one password hash as queued or running until dropped (the hashing pool holds
/// one per caller, from its wait for a worker to the end of the hash).
#[must_use = "the hash counts as queued only while the guard lives"]
pub struct PasswordHashQueued(());

impl PasswordHashQueued {
    pub fn enter() -> Self {
        PASSWORD_HASH_QUEUE.fetch_add(1, Ordering::Relaxed);
        PasswordHashQueued(())
    }
}

impl Drop for PasswordHashQueued {
    fn drop(&mut self) {
        PASSWORD_HASH_QUEUE.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The password-hash queue gauge's current value.
pub fn password_hash_queue() -> u64 {
    PASSWORD_HASH_QUEUE.load(Ordering::Relaxed)
}

/// Counts a request as in flight until dropped (so a cancelled request is uncounted too).
#[must_use = "the request counts as in flight only while the guard lives"]
pub struct InFlight(());

impl InFlight {
    pub fn start() -> Self {
        IN_FLIGHT.fetch_add(1, Ordering::Relaxed);
        InFlight(())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Pool figures sampled at render time.
#[derive(Debug, Clone, Copy)]
pub struct PoolSnapshot {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
}

/// Writes one `# HELP`/`# TYPE` header and an unlabelled sample.
fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
    );
}

/// Renders every metric in the Prometheus text exposition format (version 0.0.4).
pub fn render(pool: PoolSnapshot, db_up: bool) -> String {
    let mut out = String::with_capacity(16 * 1024);
    requests::render(&mut out);
    out.push_str(
        "# HELP tenantry_db_query_duration_seconds Time spent in database queries.\n\
         # TYPE tenantry_db_query_duration_seconds histogram\n",
    );
    QUERY_TIME.render(&mut out, "tenantry_db_query_duration_seconds", "");
    out.push_str(
        "# HELP tenantry_db_pool_wait_seconds Wait for a pooled connection (slot and checkout).\n\
         # TYPE tenantry_db_pool_wait_seconds histogram\n",
    );
    POOL_WAIT.render(&mut out, "tenantry_db_pool_wait_seconds", "");
    let gauges = [
        (
            "tenantry_db_pool_max_size",
            "Maximum pool size.",
            pool.max_size,
        ),
        (
            "tenantry_db_pool_connections",
            "Open pooled connections.",
            pool.connections,
        ),
        (
            "tenantry_db_pool_idle",
            "Idle pooled connections.",
            pool.idle,
        ),
    ];
    for (name, help, value) in gauges {
        single(&mut out, name, "gauge", help, value);
    }
    let counters = [
        (
            "tenantry_db_pool_wait_timeouts_total",
            "Checkouts that timed out waiting for a connection.",
            &POOL_WAIT_TIMEOUTS,
        ),
        (
            "tenantry_rate_limit_refusals_total",
            "Requests refused by the per-tenant rate limit.",
            &RATE_LIMIT_REFUSALS,
        ),
        (
            "tenantry_login_limit_refusals_total",
            "Login attempts refused by the login limits.",
            &LOGIN_LIMIT_REFUSALS,
        ),
    ];
    for (name, help, value) in counters {
        single(
            &mut out,
            name,
            "counter",
            help,
            value.load(Ordering::Relaxed),
        );
    }
    single(
        &mut out,
        "tenantry_db_up",
        "gauge",
        "1 when the database answered the probe made for this scrape, else 0.",
        u8::from(db_up),
    );
    single(
        &mut out,
        "tenantry_http_requests_in_flight",
        "gauge",
        "Requests being served.",
        IN_FLIGHT.load(Ordering::Relaxed),
    );
    single(
        &mut out,
        "tenantry_password_hash_queue",
        "gauge",
        "Password hashes queued or running.",
        PASSWORD_HASH_QUEUE.load(Ordering::Relaxed),
    );
    let _ = writeln!(
        out,
        "# HELP tenantry_build_info The running build; the value is always 1.\n\
         # TYPE tenantry_build_info gauge\n\
         tenantry_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    process::render(&mut out);
    out
}

/// Escapes a label value (backslash, quote, newline) per the exposition format.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }

    #[test]
    fn refusals_are_told_apart_by_route() {
        let before = (
            LOGIN_LIMIT_REFUSALS.load(Ordering::Relaxed),
            RATE_LIMIT_REFUSALS.load(Ordering::Relaxed),
        );
        record_request(&Method::POST, LOGIN_ROUTE, 429, Duration::ZERO);
        record_request(&Method::GET, "/api/v1/projects", 429, Duration::ZERO);
        record_request(&Method::GET, "/api/v1/projects", 200, Duration::ZERO);
        assert!(LOGIN_LIMIT_REFUSALS.load(Ordering::Relaxed) > before.0);
        assert!(RATE_LIMIT_REFUSALS.load(Ordering::Relaxed) > before.1);
    }

    #[test]
    fn the_hash_queue_gauge_counts_live_guards() {
        let queued = PasswordHashQueued::enter();
        let out = render(
            PoolSnapshot {
                max_size: 1,
                connections: 0,
                idle: 0,
            },
            true,
        );
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("tenantry_password_hash_queue "))
            .and_then(|v| v.parse::<u64>().ok());
        assert!(line.is_some_and(|n| n >= 1), "{out}");
        assert!(out.contains("tenantry_build_info{version=\""), "{out}");
        assert!(out.contains("\ntenantry_db_up 1\n"), "{out}");
        drop(queued);
    }
}
