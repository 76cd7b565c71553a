//! Trace context over real TCP against the real binary: `traceparent` continued (or a
//! trace started) and returned, `trace_id`/`span_id` on every log line of the request,
//! and spans exported over OTLP/HTTP to a receiver this test runs (a small axum server
//! on loopback that decodes the protobuf with opentelemetry-proto).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message as _;
use serde_json::Value;

use crate::harness::{TestDb, open_tempdir};
use crate::tcp::{create_tenant, spawn_server_with};

/// The trace context specification's example header.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

/// Splits a response's `traceparent` into (trace id, span id, flags).
fn parts(header: &str) -> (String, String, String) {
    let p: Vec<&str> = header.split('-').collect();
    assert_eq!(p.len(), 4, "{header}");
    assert_eq!(p[0], "00", "{header}");
    assert!(
        p[1].len() == 32 && p[2].len() == 16 && p[3].len() == 2,
        "{header}"
    );
    assert!(
        header[3..]
            .chars()
            .all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "{header}"
    );
    (p[1].into(), p[2].into(), p[3].into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traceparent_is_continued_returned_and_on_every_log_line() {
    let db = tokio::task::spawn_blocking(TestDb::new).await.expect("db");
    let dir = open_tempdir();
    let log_path = dir.path().join("server.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    // SLOW_QUERY_MS=0 makes the readiness query log a line of its own inside the
    // request, so the request has more than its access line.
    let server = spawn_server_with(
        &db.url,
        &[("RUST_LOG", "info"), ("SLOW_QUERY_MS", "0")],
        Stdio::from(log),
    )
    .await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/health/ready", server.base))
        .header("traceparent", format!("00-{TRACE_ID}-{PARENT_ID}-01"))
        .header("x-request-id", "trace-continued")
        .send()
        .await
        .expect("ready");
    assert_eq!(r.status(), 200);
    let (trace, span, flags) = parts(
        r.headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .expect("traceparent in the response"),
    );
    assert_eq!(trace, TRACE_ID, "the caller's trace is continued");
    assert_ne!(span, PARENT_ID, "the server's span is a new one");
    assert_eq!(flags, "01");

    // No header, or a malformed one: a new trace.
    let mut fresh = Vec::new();
    for header in [None, Some("00-not-a-trace-01")] {
        let mut req = client.get(format!("{}/health/live", server.base));
        if let Some(h) = header {
            req = req.header("traceparent", h);
        }
        let r = req.send().await.expect("live");
        let (trace, _, _) = parts(r.headers()["traceparent"].to_str().expect("ascii"));
        assert_ne!(trace, TRACE_ID);
        assert_ne!(trace, "0".repeat(32));
        fresh.push(trace);
    }
    assert_ne!(fresh[0], fresh[1]);
    drop(server);

    let text = std::fs::read_to_string(&log_path).expect("read log");
    let lines: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &Value| l["span"]["request_id"] == "trace-continued")
        .collect();
    assert!(
        lines.len() >= 2,
        "the request logged several lines:\n{text}"
    );
    for line in &lines {
        assert_eq!(line["span"]["trace_id"], TRACE_ID, "{line}");
        assert_eq!(line["span"]["span_id"], span.as_str(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "slow query"),
        "{text}"
    );
}

/// An OTLP/HTTP receiver: keeps every request body posted to `/v1/traces`.
async fn receiver() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().expect("lock").push(body);
                (
                    [("content-type", "application/x-protobuf")],
                    // An empty ExportTraceServiceResponse: full success.
                    Bytes::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), bodies)
}

fn attribute<'a>(span: &'a Span, key: &str) -> Option<&'a AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_over_otlp_http_with_route_status_and_tenant() {
    let (endpoint, bodies) = receiver().await;
    let db = tokio::task::spawn_blocking(TestDb::new).await.expect("db");
    let server = spawn_server_with(
        &db.url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "tenantry-under-test"),
        ],
        Stdio::null(),
    )
    .await;
    let client = reqwest::Client::new();
    let (token, tenant) = create_tenant(&client, &server.base, "otlp").await;
    let tenant_id = tenant["id"].as_str().expect("tenant id").to_string();
    let trace_id = format!("{:032x}", rand_id());
    let r = client
        .get(format!("{}/api/v1/users/me", server.base))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{trace_id}-{PARENT_ID}-01"))
        .send()
        .await
        .expect("me");
    assert_eq!(r.status(), 200);
    let (_, span_id, _) = parts(r.headers()["traceparent"].to_str().expect("ascii"));

    let deadline = Instant::now() + Duration::from_secs(30);
    let (span, service) = loop {
        let found = bodies.lock().expect("lock").iter().find_map(|body| {
            let req = ExportTraceServiceRequest::decode(body.as_ref()).expect("protobuf");
            req.resource_spans.iter().find_map(|rs| {
                let service = rs.resource.as_ref().and_then(|r| {
                    r.attributes
                        .iter()
                        .find(|kv| kv.key == "service.name")
                        .and_then(|kv| kv.value.clone())
                });
                rs.scope_spans
                    .iter()
                    .flat_map(|ss| ss.spans.iter())
                    .find(|s| hex(&s.trace_id) == trace_id)
                    .map(|s| (s.clone(), service))
            })
        });
        if let Some(found) = found {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no span of trace {trace_id} exported in 30 s ({} export requests)",
            bodies.lock().expect("lock").len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        hex(&span.span_id),
        span_id,
        "the exported span is the one named in the response"
    );
    assert_eq!(hex(&span.parent_span_id), PARENT_ID);
    assert_eq!(
        attribute(&span, "route"),
        Some(&AnyValue::StringValue("/api/v1/users/me".into()))
    );
    assert_eq!(attribute(&span, "status"), Some(&AnyValue::IntValue(200)));
    // Only a server error marks the span as failed (status code 2 = ERROR).
    assert_ne!(span.status.as_ref().map(|s| s.code), Some(2));
    assert_eq!(
        attribute(&span, "tenant_id"),
        Some(&AnyValue::StringValue(tenant_id))
    );
    assert_eq!(
        service.and_then(|v| v.value),
        Some(AnyValue::StringValue("tenantry-under-test".into()))
    );
}

fn rand_id() -> u128 {
    u128::from(std::process::id()) << 64 | u128::from(uuid::Uuid::now_v7().as_u64_pair().1)
}
