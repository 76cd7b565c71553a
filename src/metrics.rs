//! Process-wide counters and histograms rendered as Prometheus text at `GET /metrics`.
//!
//! Hand-rolled on purpose: a handful of atomics and one mutex-guarded map cover what is
//! exported (requests by route and status, request latency, query time, pool state), and
//! the text format is a few lines of code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds, in seconds, of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A cumulative histogram with fixed buckets.
#[derive(Default)]
struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add(d.as_micros() as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        for (i, bound) in BUCKETS.iter().enumerate() {
            let n = self.counts[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {count}");
    }
}

#[derive(Default)]
struct Registry {
    /// route → its counters and latency histogram. Keyed by route alone so the hot path
    /// finds its entry by `&str`, without allocating.
    routes: BTreeMap<String, RouteStats>,
}

#[derive(Default)]
struct RouteStats {
    /// (method, status, count): a handful per route, so a linear search is fastest.
    counts: Vec<(String, u16, u64)>,
    latency: Histogram,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
static QUERY_TIME: std::sync::LazyLock<Histogram> = std::sync::LazyLock::new(Histogram::default);
static POOL_WAIT_TIMEOUTS: AtomicU64 = AtomicU64::new(0);

/// Counts one finished request.
pub fn record_request(method: &str, route: &str, status: u16, elapsed: Duration) {
    // Unknown methods are refused before this is reached; should one still get here, it
    // must not become a label value of its own (every value is a series kept forever).
    let method = match method {
        "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "PATCH" | "OPTIONS" | "TRACE" | "CONNECT" => {
            method
        }
        _ => "OTHER",
    };
    let Ok(mut guard) = REGISTRY.lock() else {
        return;
    };
    let reg = guard.get_or_insert_with(Registry::default);
    if !reg.routes.contains_key(route) {
        reg.routes.insert(route.to_string(), RouteStats::default());
    }
    let Some(stats) = reg.routes.get_mut(route) else {
        return;
    };
    match stats
        .counts
        .iter_mut()
        .find(|(m, s, _)| m == method && *s == status)
    {
        Some((_, _, n)) => *n += 1,
        None => stats.counts.push((method.to_string(), status, 1)),
    }
    stats.latency.observe(elapsed);
}

/// Times one database query (called by the Diesel instrumentation).
pub fn record_query(elapsed: Duration) {
    QUERY_TIME.observe(elapsed);
}

/// Counts a request that gave up waiting for a pooled connection.
pub fn record_pool_timeout() {
    POOL_WAIT_TIMEOUTS.fetch_add(1, Ordering::Relaxed);
}

/// Pool figures sampled at render time.
#[derive(Debug, Clone, Copy)]
pub struct PoolSnapshot {
    pub max_size: u32,
    pub connections: u32,
    pub idle: u32,
}

/// Renders every metric in the Prometheus text exposition format (version 0.0.4).
pub fn render(pool: PoolSnapshot) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP tenantry_http_requests_total HTTP requests by method, route and status.\n",
    );
    out.push_str("# TYPE tenantry_http_requests_total counter\n");
    let guard = REGISTRY.lock().ok();
    if let Some(reg) = guard.as_ref().and_then(|g| g.as_ref()) {
        for (route, method, status, n) in reg
            .routes
            .iter()
            .flat_map(|(route, st)| st.counts.iter().map(move |(m, s, n)| (route, m, s, n)))
        {
            let _ = writeln!(
                out,
                "tenantry_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                escape(method),
                escape(route)
            );
        }
        out.push_str("# HELP tenantry_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE tenantry_http_request_duration_seconds histogram\n");
        for (route, st) in &reg.routes {
            let labels = format!("route=\"{}\"", escape(route));
            st.latency
                .render(&mut out, "tenantry_http_request_duration_seconds", &labels);
        }
    } else {
        out.push_str("# HELP tenantry_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE tenantry_http_request_duration_seconds histogram\n");
    }
    drop(guard);
    out.push_str("# HELP tenantry_db_query_duration_seconds Time spent in database queries.\n");
    out.push_str("# TYPE tenantry_db_query_duration_seconds histogram\n");
    QUERY_TIME.render(&mut out, "tenantry_db_query_duration_seconds", "");
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
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
    let _ = writeln!(
        out,
        "# HELP tenantry_db_pool_wait_timeouts_total Checkouts that timed out waiting for a connection.\n\
         # TYPE tenantry_db_pool_wait_timeouts_total counter\n\
         tenantry_db_pool_wait_timeouts_total {}",
        POOL_WAIT_TIMEOUTS.load(Ordering::Relaxed)
    );
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
    fn histogram_buckets_are_cumulative() {
        let h = Histogram::default();
        h.observe(Duration::from_micros(300));
        h.observe(Duration::from_millis(30));
        let mut out = String::new();
        h.render(&mut out, "x", "");
        assert!(out.contains("x_bucket{le=\"0.0005\"} 1"));
        assert!(out.contains("x_bucket{le=\"0.05\"} 2"));
        assert!(out.contains("x_bucket{le=\"+Inf\"} 2"));
        assert!(out.contains("x_count 2"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
