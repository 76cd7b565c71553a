//! Logins cannot be used to take the server down (docs/API.md §2): a limit per client
//! address, and password hashing on bounded workers so a flood of logins with random
//! emails leaves other tenants served and answers nothing but 401, 429 or 503.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use serde_json::json;

use crate::harness::{PASSWORD, Resp, TestApp, serve_tcp};

async fn login_from(app: &TestApp, peer: &str, xff: Option<&str>, email: &str) -> Resp {
    let body = json!({"tenant_code": "nobody", "email": email, "password": "wrong password"});
    let mut req = Request::post("/api/v1/auth/login").header("content-type", "application/json");
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    let mut req = req.body(Body::from(body.to_string())).expect("request");
    let peer: SocketAddr = peer.parse().expect("addr");
    req.extensions_mut().insert(ConnectInfo(peer));
    app.send(req).await
}

#[tokio::test]
async fn logins_are_limited_per_client_address() {
    let app = TestApp::with_env(&[
        ("LOGIN_RATE_LIMIT_PER_MIN", "5"),
        ("TRUSTED_PROXIES", "10.0.0.0/8"),
    ])
    .await;
    for i in 0..5 {
        login_from(&app, "1.1.1.1:1000", None, &format!("u{i}@x.example"))
            .await
            .expect(401, Some("invalid_credentials"));
    }
    let r = login_from(&app, "1.1.1.1:1001", None, "u9@x.example").await;
    r.expect(429, Some("rate_limited"));
    assert!(r.header("retry-after").is_some());
    // A client cannot pick another address with X-Forwarded-For.
    login_from(&app, "1.1.1.1:1002", Some("9.9.9.9"), "u9@x.example")
        .await
        .expect(429, Some("rate_limited"));
    // Another address is not affected.
    login_from(&app, "2.2.2.2:1000", None, "u9@x.example")
        .await
        .expect(401, Some("invalid_credentials"));
    // Behind a trusted proxy, the forwarded address is the client.
    for i in 0..5 {
        login_from(
            &app,
            "10.0.0.1:80",
            Some("3.3.3.3, 10.0.0.7"),
            &format!("p{i}@x.example"),
        )
        .await
        .expect(401, Some("invalid_credentials"));
    }
    login_from(&app, "10.0.0.1:80", Some("3.3.3.3"), "p9@x.example")
        .await
        .expect(429, Some("rate_limited"));
    login_from(&app, "10.0.0.1:80", Some("4.4.4.4"), "p9@x.example")
        .await
        .expect(401, Some("invalid_credentials"));
    // Nothing was stored for the refused ones beyond the throttle rows of the tries.
    // (Only this test's addresses: in Citus mode other tests share the database.)
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM audit_logs WHERE metadata::text LIKE '%@x.example%'"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_leaves_other_tenants_served_and_answers_only_401_429_503() {
    // The per-address limit is off so the flood reaches the hashing workers.
    let app = TestApp::with_env(&[
        ("LOGIN_RATE_LIMIT_PER_MIN", "0"),
        ("HASH_WORKERS", "2"),
        ("DB_POOL_SIZE", "8"),
    ])
    .await;
    let victim = app.tenant("flooded").await;
    let bystander = app.tenant("bystander").await;
    let server = serve_tcp(&app).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(400)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client");

    // The bystander's normal latency, before the flood.
    let mut baseline = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = client
            .get(format!("{}/api/v1/users/me", server.base))
            .bearer_auth(&bystander.admin.token)
            .send()
            .await
            .expect("read answered");
        assert_eq!(r.status(), 200);
        baseline.push(t.elapsed());
    }
    baseline.sort();
    let normal = baseline[baseline.len() / 2];

    let flood_started = Instant::now();
    let mut flood = Vec::new();
    for i in 0..300 {
        let (client, base, code) = (client.clone(), server.base.clone(), victim.code.clone());
        flood.push(tokio::spawn(async move {
            let email = format!("{}-{i}@flooded.example", uuid::Uuid::new_v4().simple());
            client
                .post(format!("{base}/api/v1/auth/login"))
                .json(&json!({"tenant_code": code, "email": email, "password": PASSWORD}))
                .send()
                .await
                .map(|r| (r.status().as_u16(), r.headers().contains_key("retry-after")))
        }));
    }
    // Meanwhile the other tenant reads, one request after another.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut latencies = Vec::new();
    for _ in 0..40 {
        let t = Instant::now();
        let r = client
            .get(format!("{}/api/v1/users/me", server.base))
            .bearer_auth(&bystander.admin.token)
            .send()
            .await
            .expect("read answered");
        assert_eq!(r.status(), 200);
        latencies.push(t.elapsed());
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for f in flood {
        let (status, retry_after) = f.await.expect("task").expect("login answered");
        assert!(
            matches!(status, 401 | 429 | 503),
            "a login answered {status}"
        );
        if status == 503 || status == 429 {
            assert!(retry_after, "{status} without Retry-After");
        }
        *statuses.entry(status).or_default() += 1;
    }
    let flood_done = Instant::now();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    eprintln!(
        "login flood: {statuses:?} in {:?} ({:.0} logins/s answered); bystander reads before {normal:?}, during p50 {:?} p99 {p99:?}",
        flood_done - flood_started,
        300.0 / (flood_done - flood_started).as_secs_f64(),
        latencies[latencies.len() / 2],
    );
    // Not a benchmark: a bound loose enough for a busy CI machine, far below what
    // unbounded hashing does to every other request (seconds).
    let during = latencies[latencies.len() / 2];
    assert!(
        during <= (normal * 10).max(Duration::from_millis(250)),
        "the bystander's reads slowed from {normal:?} to {during:?} during the flood"
    );
    // The flooded tenant got at most one failed-login audit row per attempt that
    // reached a worker, and nothing else.
    assert!(app.audit_count(victim.id, "auth.login_failed") <= 300);
    assert_eq!(app.audit_count(bystander.id, "auth.login_failed"), 0);
}
