//! The HTTP conventions of docs/API.md §1: `If-None-Match` → `304`, `Link: rel="next"`,
//! compression above 1 KiB only, CORS from `CORS_ALLOWED_ORIGINS`, and `RateLimit-*`.

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{Resp, TenantFixture, TestApp};

async fn get_with(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> Resp {
    let mut req = Request::builder().method("GET").uri(path);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.send(req.body(Body::empty()).expect("request")).await
}

async fn project_with_tasks(app: &TestApp, t: &TenantFixture, n: usize) -> Uuid {
    let p = app
        .post("/api/v1/projects", &t.admin.token, json!({"name": "P"}))
        .await;
    p.expect(201, None);
    let project = p.id();
    for i in 0..n {
        app.post(
            &format!("/api/v1/projects/{project}/tasks"),
            &t.admin.token,
            json!({"title": format!("task {i} {}", "x".repeat(200))}),
        )
        .await
        .expect(201, None);
    }
    project
}

#[tokio::test]
async fn if_none_match_answers_304_only_while_the_version_is_current() {
    let app = TestApp::new().await;
    let t = app.tenant("cv-etag").await;
    let project = project_with_tasks(&app, &t, 1).await;
    let list = app
        .get(&format!("/api/v1/projects/{project}/tasks"), &t.admin.token)
        .await;
    let id = list.body["data"][0]["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/tasks/{id}");
    let first = get_with(&app, &path, Some(&t.admin.token), &[]).await;
    first.expect(200, None);
    let etag = first.header("etag").expect("etag").to_string();

    let cached = get_with(
        &app,
        &path,
        Some(&t.admin.token),
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(cached.status, 304, "{}", cached.text);
    assert!(cached.text.is_empty(), "a 304 has no body");
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    let weak = format!("W/{etag}");
    let cached = get_with(
        &app,
        &path,
        Some(&t.admin.token),
        &[("if-none-match", &weak)],
    )
    .await;
    assert_eq!(cached.status, 304);

    app.patch(
        &path,
        &t.admin.token,
        json!({"version": 1, "title": "changed"}),
    )
    .await
    .expect(200, None);
    let fresh = get_with(
        &app,
        &path,
        Some(&t.admin.token),
        &[("if-none-match", &etag)],
    )
    .await;
    fresh.expect(200, None);
    assert_eq!(fresh.header("etag"), Some("\"2\""));
    assert_eq!(fresh.body["title"], "changed");
}

#[tokio::test]
async fn lists_link_to_their_next_page_with_the_same_query() {
    let app = TestApp::new().await;
    let t = app.tenant("cv-link").await;
    let project = project_with_tasks(&app, &t, 3).await;
    let first = app
        .get(
            &format!("/api/v1/tasks?project_id={project}&limit=2&sort=created_at"),
            &t.admin.token,
        )
        .await;
    first.expect(200, None);
    let cursor = first.body["next_cursor"].as_str().expect("next cursor");
    let link = first.header("link").expect("Link header").to_string();
    assert!(link.ends_with("; rel=\"next\""), "{link}");
    let target = link
        .strip_prefix('<')
        .and_then(|l| l.split_once('>'))
        .map(|(u, _)| u.to_string())
        .expect("<url>");
    assert!(target.starts_with("/api/v1/tasks?"), "{target}");
    assert!(
        target.contains(&format!("project_id={project}")),
        "{target}"
    );
    assert!(
        target.contains("limit=2") && target.contains("sort=created_at"),
        "{target}"
    );
    assert!(target.contains(&format!("cursor={cursor}")), "{target}");

    let second = app.get(&target, &t.admin.token).await;
    second.expect(200, None);
    assert_eq!(second.body["data"].as_array().expect("data").len(), 1);
    assert!(second.body["next_cursor"].is_null());
    assert!(
        second.header("link").is_none(),
        "the last page has no next link"
    );
}

#[tokio::test]
async fn only_answers_over_one_kib_are_compressed() {
    let app = TestApp::new().await;
    let t = app.tenant("cv-gzip").await;
    project_with_tasks(&app, &t, 10).await;
    for encoding in ["gzip", "br"] {
        let big = get_with(
            &app,
            "/api/v1/tasks",
            Some(&t.admin.token),
            &[("accept-encoding", encoding)],
        )
        .await;
        assert_eq!(big.status, 200);
        assert_eq!(big.header("content-encoding"), Some(encoding));
        let plain = get_with(&app, "/api/v1/tasks", Some(&t.admin.token), &[]).await;
        assert!(plain.header("content-encoding").is_none());
        assert!(plain.text.len() > 1024);
        assert!(big.text.len() < plain.text.len(), "{encoding} is smaller");
    }
    // A small answer is left alone even when the client would accept gzip.
    let small = get_with(
        &app,
        "/api/v1/users/me",
        Some(&t.admin.token),
        &[("accept-encoding", "gzip, br")],
    )
    .await;
    small.expect(200, None);
    assert!(small.text.len() < 1024);
    assert!(
        small.header("content-encoding").is_none(),
        "small answers are not compressed"
    );
}

async fn preflight(app: &TestApp, origin: &str) -> Resp {
    app.send(
        Request::builder()
            .method("OPTIONS")
            .uri("/api/v1/tasks")
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization, if-match, idempotency-key",
            )
            .body(Body::empty())
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn cors_follows_cors_allowed_origins() {
    let app = TestApp::with_env(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://app.example.com, https://b.example",
    )])
    .await;
    let t = app.tenant("cv-cors").await;
    let pre = preflight(&app, "https://app.example.com").await;
    assert_eq!(pre.status, 204, "{:?}", pre.headers);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    let methods = pre.header("access-control-allow-methods").expect("methods");
    assert!(methods.contains("PATCH"), "{methods}");
    let allowed = pre
        .header("access-control-allow-headers")
        .expect("headers")
        .to_ascii_lowercase();
    assert!(
        allowed.contains("if-match") && allowed.contains("idempotency-key"),
        "{allowed}"
    );

    let r = get_with(
        &app,
        "/api/v1/users/me",
        Some(&t.admin.token),
        &[("origin", "https://b.example")],
    )
    .await;
    r.expect(200, None);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://b.example")
    );
    let exposed = r
        .header("access-control-expose-headers")
        .expect("exposed")
        .to_ascii_lowercase();
    for h in [
        "etag",
        "link",
        "retry-after",
        "x-request-id",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(exposed.contains(h), "{h} exposed: {exposed}");
    }
    let other = get_with(
        &app,
        "/api/v1/users/me",
        Some(&t.admin.token),
        &[("origin", "https://evil.example")],
    )
    .await;
    assert!(other.header("access-control-allow-origin").is_none());

    let off = TestApp::new().await;
    let t = off.tenant("cv-nocors").await;
    let r = get_with(
        &off,
        "/api/v1/users/me",
        Some(&t.admin.token),
        &[("origin", "https://app.example.com")],
    )
    .await;
    r.expect(200, None);
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "no CORS headers when unset: {:?}",
        r.headers
    );
    let pre = preflight(&off, "https://app.example.com").await;
    assert_ne!(pre.status, 204);
    assert!(pre.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn ratelimit_headers_while_the_limit_is_on() {
    let app = TestApp::with_env(&[("RATE_LIMIT_RPS", "1"), ("RATE_LIMIT_BURST", "3")]).await;
    let t = app.tenant("cv-rl").await;
    let first = app.get("/api/v1/users/me", &t.admin.token).await;
    first.expect(200, None);
    assert_eq!(first.header("ratelimit-limit"), Some("3"));
    let remaining: u32 = first
        .header("ratelimit-remaining")
        .expect("remaining")
        .parse()
        .expect("n");
    assert!(remaining <= 2, "one token spent: {remaining}");
    let reset: u64 = first
        .header("ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("secs");
    assert!((1..=3).contains(&reset), "{reset}");
    let mut last = first;
    for _ in 0..4 {
        last = app.get("/api/v1/users/me", &t.admin.token).await;
    }
    last.expect(429, Some("rate_limited"));
    assert_eq!(last.header("ratelimit-remaining"), Some("0"));
    assert!(last.header("retry-after").is_some());

    let off = TestApp::new().await;
    let t = off.tenant("cv-norl").await;
    let r = off.get("/api/v1/users/me", &t.admin.token).await;
    r.expect(200, None);
    assert!(
        r.header("ratelimit-limit").is_none(),
        "no RateLimit-* while the limit is off"
    );
}
