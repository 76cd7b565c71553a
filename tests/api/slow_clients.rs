//! Slow and idle clients hold nothing for long (docs/API.md §10): a head sent a byte at a
//! time is cut off after `HEADER_READ_TIMEOUT_MS`, an idle keep-alive connection after
//! `IDLE_TIMEOUT_MS` (and not sooner), and no more than `MAX_CONNECTIONS` are served.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TestApp, serve_tcp};

/// Reads until the peer closes (`Ok(bytes)`) or `limit` passes (`Err`).
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Result<Vec<u8>, ()> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return Err(()),
        }
    }
}

/// Sends one request and reads one complete (small, `content-length`) response.
async fn round_trip(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .expect("answer in time")
            .expect("read");
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_string)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_sent_a_byte_at_a_time_is_cut_off_after_the_header_timeout() {
    let app = TestApp::with_env(&[
        ("HEADER_READ_TIMEOUT_MS", "300"),
        ("IDLE_TIMEOUT_MS", "60000"),
    ])
    .await;
    let server = serve_tcp(&app).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    let head = b"GET /health/live HTTP/1.1\r\nhost: x\r\nx-slow: ";
    let mut closed = false;
    // Keep trickling for up to 10 s; the server must hang up long before.
    for i in 0..200 {
        let byte = head.get(i).copied().unwrap_or(b'a');
        if stream.write_all(&[byte]).await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(50), stream.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                closed = true;
                break;
            }
            Ok(Ok(_)) | Err(_) => {}
        }
    }
    assert!(closed, "a trickled head kept its connection");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "cut off after {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_not_before() {
    let app = TestApp::with_env(&[
        ("HEADER_READ_TIMEOUT_MS", "300"),
        ("IDLE_TIMEOUT_MS", "1500"),
    ])
    .await;
    let server = serve_tcp(&app).await;
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    assert!(round_trip(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Idle for longer than the header timeout: still open.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(round_trip(&mut stream).await.starts_with("HTTP/1.1 200"));
    // Then closed once idle for the idle timeout.
    let idle_from = Instant::now();
    read_until_closed(&mut stream, Duration::from_secs(10))
        .await
        .expect("the idle connection is closed");
    assert!(idle_from.elapsed() >= Duration::from_millis(1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_wait_for_a_free_one() {
    let app = TestApp::with_env(&[("MAX_CONNECTIONS", "2")]).await;
    let server = serve_tcp(&app).await;
    let mut a = TcpStream::connect(server.addr).await.expect("a");
    let mut b = TcpStream::connect(server.addr).await.expect("b");
    assert!(round_trip(&mut a).await.starts_with("HTTP/1.1 200"));
    assert!(round_trip(&mut b).await.starts_with("HTTP/1.1 200"));
    // The third connects (the kernel queues it) but is not served while two are open.
    let mut c = TcpStream::connect(server.addr).await.expect("c");
    c.write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = [0u8; 64];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), c.read(&mut buf))
            .await
            .is_err(),
        "a third connection was served"
    );
    drop(a);
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
        .await
        .expect("served once a slot frees")
        .expect("read");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}
