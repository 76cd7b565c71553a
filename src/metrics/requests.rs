//! Request counts and latency by method, route and status class.
//!
//! Each route gets one [`RouteStats`] the first time it is seen, leaked so it lives as
//! long as the process (routes are the router's matched paths plus `<unmatched>`, a
//! fixed set). After that, recording a request is a read lock, a map lookup by `&str`
//! and three atomic adds: no allocation, no lock held while counting.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::time::Duration;

use axum::http::Method;

use super::histogram::Histogram;

/// The method label's values: the standard methods, then `OTHER` for anything else,
/// so a client cannot mint series by sending made-up methods.
pub const METHODS: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT", "OTHER",
];

/// The status label's values, by the status code's first digit.
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// Index into [`METHODS`].
pub fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        Method::PATCH => 4,
        Method::DELETE => 5,
        Method::OPTIONS => 6,
        Method::TRACE => 7,
        Method::CONNECT => 8,
        _ => 9,
    }
}

/// Index into [`CLASSES`]; codes outside 100..=599 count as `5xx`.
fn class_index(status: u16) -> usize {
    match status {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

/// One latency histogram (whose count is the request counter) per method and class.
#[derive(Default)]
struct RouteStats {
    cells: [[Histogram; CLASSES.len()]; METHODS.len()],
}

static ROUTES: RwLock<Option<HashMap<Box<str>, &'static RouteStats>>> = RwLock::new(None);

fn stats_for(route: &str) -> Option<&'static RouteStats> {
    if let Some(found) = ROUTES
        .read()
        .ok()
        .and_then(|map| map.as_ref().and_then(|m| m.get(route).copied()))
    {
        return Some(found);
    }
    let mut guard = ROUTES.write().ok()?;
    let map = guard.get_or_insert_with(HashMap::new);
    // First request of this route (or a racing second one): allocate once.
    Some(
        *map.entry(route.into())
            .or_insert_with(|| Box::leak(Box::default())),
    )
}

/// Counts one finished request.
pub fn record(method: &Method, route: &str, status: u16, elapsed: Duration) {
    if let Some(stats) = stats_for(route) {
        stats.cells[method_index(method)][class_index(status)].observe(elapsed);
    }
}

/// Writes the request counter and the latency histogram; only combinations that have
/// seen a request are written. The read lock is held throughout: it only delays a
/// route's very first request.
pub fn render(out: &mut String) {
    let guard = ROUTES.read().ok();
    let mut routes: Vec<(&str, &RouteStats)> = guard
        .as_ref()
        .and_then(|g| g.as_ref())
        .map(|m| m.iter().map(|(k, v)| (k.as_ref(), *v)).collect())
        .unwrap_or_default();
    routes.sort_unstable_by_key(|(route, _)| *route);
    let seen = || {
        routes.iter().flat_map(|(route, stats)| {
            stats.cells.iter().enumerate().flat_map(move |(m, row)| {
                row.iter()
                    .enumerate()
                    .filter(|(_, h)| h.count() > 0)
                    .map(move |(c, h)| {
                        (
                            format!(
                                "method=\"{}\",route=\"{}\",status=\"{}\"",
                                METHODS[m],
                                super::escape(route),
                                CLASSES[c]
                            ),
                            h,
                        )
                    })
            })
        })
    };
    out.push_str(
        "# HELP tenantry_http_requests_total HTTP requests by method, route and status class.\n\
         # TYPE tenantry_http_requests_total counter\n",
    );
    for (labels, h) in seen() {
        let _ = writeln!(
            out,
            "tenantry_http_requests_total{{{labels}}} {}",
            h.count()
        );
    }
    out.push_str(
        "# HELP tenantry_http_request_duration_seconds Request latency by method, route and status class.\n\
         # TYPE tenantry_http_request_duration_seconds histogram\n",
    );
    for (labels, h) in seen() {
        h.render(out, "tenantry_http_request_duration_seconds", &labels);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_share_one_label() {
        let odd = Method::from_bytes(b"BREW").expect("method");
        assert_eq!(METHODS[method_index(&odd)], "OTHER");
        assert_eq!(METHODS[method_index(&Method::PATCH)], "PATCH");
        assert_eq!(CLASSES[class_index(503)], "5xx");
        assert_eq!(CLASSES[class_index(204)], "2xx");
    }

    #[test]
    fn methods_and_classes_are_separate_series() {
        let route = "/unit-test/methods";
        record(&Method::GET, route, 200, Duration::from_millis(2));
        record(&Method::PATCH, route, 200, Duration::from_millis(13));
        record(&Method::PATCH, route, 409, Duration::from_millis(1));
        record(
            &Method::from_bytes(b"BREW").expect("m"),
            route,
            405,
            Duration::ZERO,
        );
        let mut out = String::new();
        render(&mut out);
        for line in [
            "tenantry_http_requests_total{method=\"GET\",route=\"/unit-test/methods\",status=\"2xx\"} 1\n",
            "tenantry_http_requests_total{method=\"PATCH\",route=\"/unit-test/methods\",status=\"2xx\"} 1\n",
            "tenantry_http_requests_total{method=\"PATCH\",route=\"/unit-test/methods\",status=\"4xx\"} 1\n",
            "tenantry_http_requests_total{method=\"OTHER\",route=\"/unit-test/methods\",status=\"4xx\"} 1\n",
            "tenantry_http_request_duration_seconds_bucket{method=\"PATCH\",route=\"/unit-test/methods\",status=\"2xx\",le=\"0.01\"} 0\n",
            "tenantry_http_request_duration_seconds_bucket{method=\"GET\",route=\"/unit-test/methods\",status=\"2xx\",le=\"0.0025\"} 1\n",
        ] {
            assert!(out.contains(line), "missing {line} in\n{out}");
        }
        assert!(!out.contains("BREW"));
    }
}
