//! Request heads bigger than hyper itself takes (a URI over 64 KiB, a head over its read
//! buffer, more header fields than it parses): over a raw TCP socket, each is answered
//! with the contract's problem+json and the security headers, not hyper's bare status.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestApp, serve_tcp};

/// A parsed HTTP/1.1 answer: status, lower-cased headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `head` (written from its own task, so a server that stops reading cannot
/// block the test) and reads the answer until the server closes.
async fn send_raw(addr: std::net::SocketAddr, head: Vec<u8>) -> Answer {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        // The server may answer and close before it has read everything.
        let _ = write.write_all(&head).await;
        write
    });
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), read.read_to_end(&mut raw))
        .await
        .expect("the server answers and closes within 20 s")
        .expect("read the answer (no reset before it)");
    drop(writer.await);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("a complete answer, got {text:?}"));
    let mut lines = head.lines();
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("status in {status_line:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn assert_problem(answer: &Answer, status: u16, code: &str, case: &str) {
    assert_eq!(answer.status, status, "{case}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/problem+json"),
        "{case}"
    );
    for h in [
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
        "x-request-id",
    ] {
        assert!(answer.header(h).is_some(), "{h} missing on {case}");
    }
    let body: serde_json::Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("{case}: problem body: {e}"));
    assert_eq!(body["status"], status, "{case}: {body}");
    assert_eq!(body["code"], code, "{case}: {body}");
    assert_eq!(
        body["request_id"].as_str(),
        answer.header("x-request-id"),
        "{case}"
    );
}

fn get_with_uri_of(len: usize) -> Vec<u8> {
    let path = format!("/api/v1/projects?x={}", "a".repeat(len));
    format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").into_bytes()
}

#[tokio::test]
async fn uris_and_heads_beyond_hypers_limits_get_problem_json() {
    let app = TestApp::new().await;
    let server = serve_tcp(&app).await;
    // Under hyper's URI limit the router answers; above it hyper would (100 KiB), and
    // above its read buffer it would say 431 for what is a long URI (1 MiB).
    for len in [20 * 1024, 100 * 1024, 1024 * 1024] {
        let answer = send_raw(server.addr, get_with_uri_of(len)).await;
        assert_problem(&answer, 414, "uri_too_long", &format!("URI of {len} bytes"));
    }
    // A head over hyper's read buffer: one 600 KiB header field.
    let big_field = format!(
        "GET /health/live HTTP/1.1\r\nhost: localhost\r\nx-big: {}\r\n\r\n",
        "b".repeat(600 * 1024)
    );
    let answer = send_raw(server.addr, big_field.into_bytes()).await;
    assert_problem(&answer, 431, "header_fields_too_large", "600 KiB field");
    // More fields than hyper parses (the router's own bound is lower still).
    let mut many = String::from("GET /health/live HTTP/1.1\r\nhost: localhost\r\n");
    for i in 0..400 {
        many.push_str(&format!("x-f{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let answer = send_raw(server.addr, many.into_bytes()).await;
    assert_problem(&answer, 431, "header_fields_too_large", "400 fields");
    // A head hyper cannot parse is a 400 of ours too.
    let answer = send_raw(
        server.addr,
        b"GET /health/live HTTP/1.1\r\nhost: localhost\r\nno colon here\r\n\r\n".to_vec(),
    )
    .await;
    assert_problem(&answer, 400, "bad_request", "unparsable head");
    // The server is unharmed, and an ordinary answer is left as it is.
    let answer = send_raw(
        server.addr,
        b"GET /health/live HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".to_vec(),
    )
    .await;
    assert_eq!(answer.status, 200);
}
