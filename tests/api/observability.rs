//! `/metrics` (Prometheus text) and the slow-query log.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use diesel::prelude::*;
use diesel::sql_types::Text;
use tenantry::db::instrumentation::QueryTimer;

use crate::harness::{TestApp, TestDb};

/// Parses Prometheus text: every non-comment line is `name{labels} value` (labels
/// optional) with a float value; returns series (name with labels) → value.
fn parse(text: &str) -> HashMap<String, f64> {
    let mut series = HashMap::new();
    let mut typed = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            typed.push(parts.next().expect("name").to_string());
            let kind = parts.next().expect("type");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            continue;
        }
        if line.starts_with('#') {
            assert!(line.starts_with("# HELP "), "{line}");
            continue;
        }
        let (key, value) = line.rsplit_once(' ').expect("name and value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("float value: {line}"));
        let name_end = key.find('{').unwrap_or(key.len());
        let name = &key[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "metric name: {line}"
        );
        if name_end < key.len() {
            let labels = key[name_end..]
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("label braces: {line}"));
            for pair in split_labels(labels) {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("label: {line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "{line}"
                );
                assert!(
                    v.len() >= 2 && v.starts_with('"') && v.ends_with('"'),
                    "{line}"
                );
            }
        }
        // Every sample belongs to a family announced by # TYPE.
        assert!(
            typed.iter().any(|t| name == t
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|s| name.strip_suffix(s) == Some(t.as_str()))),
            "no # TYPE for {name}"
        );
        series.insert(key.to_string(), value);
    }
    series
}

/// Splits `a="x",b="y,z"` at the commas between labels (not inside quoted values).
fn split_labels(labels: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut current, mut quoted, mut escaped) = (String::new(), false, false);
    for c in labels.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    assert!(!quoted, "unterminated label value: {labels}");
    if !current.is_empty() {
        out.push(current);
    }
    out
}

async fn scrape(app: &TestApp) -> HashMap<String, f64> {
    let r = app.call(Method::GET, "/metrics", None, None).await;
    r.expect(200, None);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.header("content-type")
    );
    parse(&r.text)
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_the_requests_made() {
    let app = TestApp::new().await;
    let t = app.tenant("prom").await;
    // HEAD requests to /health/live: no other test sends them, so the count is exact
    // although every test of this binary shares the process-wide registry.
    let head = r#"tenantry_http_requests_total{method="HEAD",route="/health/live",status="2xx"}"#;
    let not_found =
        r#"tenantry_http_requests_total{method="GET",route="/api/v1/items/{id}",status="4xx"}"#;
    let before = scrape(&app).await;
    for _ in 0..3 {
        let r = app
            .send(
                Request::builder()
                    .method(Method::HEAD)
                    .uri("/health/live")
                    .body(Body::empty())
                    .expect("request"),
            )
            .await;
        assert_eq!(r.status, 200);
    }
    for _ in 0..2 {
        app.get(
            &format!("/api/v1/items/{}", uuid::Uuid::now_v7()),
            &t.admin.token,
        )
        .await
        .expect(404, Some("not_found"));
    }
    let after = scrape(&app).await;
    let count = |m: &HashMap<String, f64>, k: &str| m.get(k).copied().unwrap_or(0.0);
    assert_eq!(count(&after, head) - count(&before, head), 3.0);
    assert!(count(&after, not_found) - count(&before, not_found) >= 2.0);
    let live_count = r#"tenantry_http_request_duration_seconds_count{method="HEAD",route="/health/live",status="2xx"}"#;
    let live_inf = r#"tenantry_http_request_duration_seconds_bucket{method="HEAD",route="/health/live",status="2xx",le="+Inf"}"#;
    assert!(count(&after, live_count) - count(&before, live_count) >= 3.0);
    assert_eq!(count(&after, live_count), count(&after, live_inf));
    assert!(count(&after, "tenantry_db_query_duration_seconds_count") > 0.0);
    assert_eq!(after.get("tenantry_db_pool_max_size"), Some(&8.0));
    assert!(after.contains_key("tenantry_db_pool_wait_timeouts_total"));
    // Every database-backed request waited for a connection once.
    assert!(
        count(&after, "tenantry_db_pool_wait_seconds_count")
            - count(&before, "tenantry_db_pool_wait_seconds_count")
            >= 2.0
    );
    // The scrape itself is in flight while it renders.
    assert!(count(&after, "tenantry_http_requests_in_flight") >= 1.0);
    assert!(count(&after, "process_resident_memory_bytes") > 1e6);
    assert!(count(&after, "process_open_fds") >= 3.0);
    assert!(count(&after, "process_start_time_seconds") > 1.6e9);
    assert!(after.contains_key("process_cpu_seconds_total"));
    assert!(after.contains_key("tenantry_login_limit_refusals_total"));
    assert!(after.contains_key("tenantry_rate_limit_refusals_total"));
    assert!(after.contains_key("tenantry_password_hash_queue"));
    assert_eq!(after.get("tenantry_db_up"), Some(&1.0));
    let build = format!(
        r#"tenantry_build_info{{version="{}"}}"#,
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(after.get(&build), Some(&1.0));
}

#[tokio::test]
async fn methods_are_separate_series_and_unknown_ones_are_other() {
    let app = TestApp::new().await;
    let t = app.tenant("methods").await;
    let id = uuid::Uuid::now_v7();
    let path = format!("/api/v1/items/{id}");
    let before = scrape(&app).await;
    app.get(&path, &t.admin.token).await.expect(404, None);
    app.patch(&path, &t.admin.token, serde_json::json!({"title": "x"}))
        .await;
    let odd = Method::from_bytes(b"BREW").expect("method");
    app.call(odd, &path, Some(&t.admin.token), None).await;
    let after = scrape(&app).await;
    let per_method = |m: &str| {
        after
            .iter()
            .filter(|(k, _)| {
                k.starts_with(&format!(
                    r#"tenantry_http_requests_total{{method="{m}",route="/api/v1/items/{{id}}""#
                ))
            })
            .map(|(k, v)| v - before.get(k).copied().unwrap_or(0.0))
            .sum::<f64>()
    };
    assert!(per_method("GET") >= 1.0);
    assert!(per_method("PATCH") >= 1.0);
    assert!(
        after.keys().all(|k| !k.contains("BREW")),
        "a made-up method never becomes a label value"
    );
    assert!(
        after
            .keys()
            .filter(|k| k.starts_with("tenantry_http_requests_total{"))
            .all(|k| tenantry::metrics::METHODS
                .iter()
                .any(|m| k.contains(&format!(r#"method="{m}""#))))
    );
}

/// Collects what a test subscriber writes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
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

#[test]
fn slow_queries_on_a_real_connection_are_logged_without_binds() {
    let db = TestDb::new();
    let mut conn = db.conn();
    conn.set_instrumentation(QueryTimer::new(Duration::from_millis(100)));
    let capture = Capture::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(capture.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            secret: String,
        }
        let row: Row = diesel::sql_query("SELECT $1::text AS secret FROM pg_sleep(0.2)")
            .bind::<Text, _>("hunter2-password")
            .get_result(&mut conn)
            .expect("slow query");
        assert_eq!(row.secret, "hunter2-password");
        diesel::sql_query("SELECT 42")
            .execute(&mut conn)
            .expect("fast query");
    });
    let out = String::from_utf8(capture.0.lock().expect("lock").clone()).expect("utf8");
    assert_eq!(out.matches("slow query").count(), 1, "{out}");
    assert!(out.contains("pg_sleep(0.2)"), "{out}");
    assert!(
        !out.contains("hunter2"),
        "bind values are not logged: {out}"
    );
    assert!(!out.contains("SELECT 42"), "{out}");
}
