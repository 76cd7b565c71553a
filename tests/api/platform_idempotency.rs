//! `Idempotency-Key` on the platform `POST`s (docs/API.md §1, §12): creating a tenant and
//! the `/utils/db` maintenance calls replay their first answer and change nothing, refuse
//! the key with another body, and many concurrent replays run the work once.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{PASSWORD, Resp, TestApp, tenant_code};
use crate::idempotency::post_keyed;

fn tenants_with_code(app: &TestApp, code: &str) -> i64 {
    app.db.scalar(&format!(
        "SELECT count(*) FROM tenants WHERE code = '{code}'"
    ))
}

/// A key no other test (or earlier run on a shared Citus database) has used: a tenant
/// created with a key gets an id derived from it.
fn unique_key(name: &str) -> String {
    format!("{name}-{}", uuid::Uuid::new_v4().simple())
}

fn new_tenant(code: &str) -> Value {
    json!({
        "name": format!("Tenant {code}"),
        "code": code,
        "admin": {"email": format!("admin@{code}.example"), "username": "admin", "password": PASSWORD},
    })
}

/// The one answer that did the work; every other is a replay of it or `409`.
fn exactly_one_fresh(answers: &[Resp], status: u16) -> &Resp {
    let fresh: Vec<&Resp> = answers
        .iter()
        .filter(|r| r.status == status && r.header("idempotent-replayed").is_none())
        .collect();
    assert_eq!(fresh.len(), 1, "one request did the work");
    for r in answers {
        if r.status == status {
            assert_eq!(r.body, fresh[0].body, "a replay is the first answer");
        } else {
            assert_eq!(r.code(), "idempotency_in_progress", "{}", r.text);
        }
    }
    fresh[0]
}

#[tokio::test]
async fn creating_a_tenant_with_a_key_replays_and_refuses_another_body() {
    let app = TestApp::new().await;
    let token = app.platform_token();
    let (code, other_code) = (tenant_code("idem-tenant"), tenant_code("idem-other"));
    let (k1, k2) = (unique_key("t-1"), unique_key("t-2"));
    let body = new_tenant(&code);
    let first = post_keyed(&app, "/api/v1/tenants", &token, &k1, &body).await;
    first.expect(201, None);
    assert!(first.header("idempotent-replayed").is_none());
    let again = post_keyed(&app, "/api/v1/tenants", &token, &k1, &body).await;
    again.expect(201, None);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body, "the same answer");
    assert_eq!(tenants_with_code(&app, &code), 1);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM users WHERE tenant_id = '{}'",
            first.id()
        )),
        1,
        "one admin"
    );
    // The same key with another body: refused, nothing made.
    let other = post_keyed(
        &app,
        "/api/v1/tenants",
        &token,
        &k1,
        &new_tenant(&other_code),
    )
    .await;
    other.expect(422, Some("idempotency_key_reused"));
    assert_eq!(tenants_with_code(&app, &other_code), 0);
    // A failed first request (a taken code) leaves the key unused.
    let taken = post_keyed(&app, "/api/v1/tenants", &token, &k2, &body).await;
    taken.expect(409, Some("already_exists"));
    let fine = post_keyed(
        &app,
        "/api/v1/tenants",
        &token,
        &k2,
        &new_tenant(&tenant_code("idem-fine")),
    )
    .await;
    fine.expect(201, None);
    assert!(fine.header("idempotent-replayed").is_none());
    // Without a key each request is its own.
    let plain = json!({"name": "N", "code": tenant_code("idem-nokey")});
    app.post("/api/v1/tenants", &token, plain.clone())
        .await
        .expect(201, None);
    app.post("/api/v1/tenants", &token, plain.clone())
        .await
        .expect(409, Some("already_exists"));
    // Deleting the tenant removes its key with it.
    let id = first.id();
    let r = app
        .call(
            axum::http::Method::DELETE,
            &format!("/api/v1/tenants/{id}"),
            Some(&token),
            None,
        )
        .await;
    r.expect(204, None);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM idempotency_keys WHERE tenant_id = '{id}'"
        )),
        0
    );
}

#[tokio::test]
async fn concurrent_tenant_creations_with_one_key_make_one_tenant() {
    let app = TestApp::new().await;
    let token = app.platform_token();
    let code = tenant_code("idem-raced");
    let key = unique_key("race");
    let body = new_tenant(&code);
    let answers: Vec<Resp> =
        join_all((0..16).map(|_| post_keyed(&app, "/api/v1/tenants", &token, &key, &body))).await;
    exactly_one_fresh(&answers, 201);
    assert_eq!(tenants_with_code(&app, &code), 1, "exactly one change");
    let late = post_keyed(&app, "/api/v1/tenants", &token, &key, &body).await;
    late.expect(201, None);
    assert_eq!(late.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn maintenance_calls_with_a_key_run_once() {
    let app = TestApp::new().await;
    let token = app.platform_token();
    for (path, body, other) in [
        ("/utils/db/optimize", json!({}), None),
        (
            "/utils/db/vacuum",
            json!({"table": "tenants"}),
            Some(json!({"table": "users"})),
        ),
        (
            "/utils/db/reindex",
            json!({"table": "tenants"}),
            Some(json!({"table": "users"})),
        ),
    ] {
        let key = format!("m-{path}");
        let first = post_keyed(&app, path, &token, &key, &body).await;
        first.expect(200, None);
        assert!(first.header("idempotent-replayed").is_none(), "{path}");
        let again = post_keyed(&app, path, &token, &key, &body).await;
        again.expect(200, None);
        assert_eq!(again.header("idempotent-replayed"), Some("true"), "{path}");
        // The steps' durations too: the work did not run again.
        assert_eq!(again.body, first.body, "{path}");
        if let Some(other) = other {
            post_keyed(&app, path, &token, &key, &other)
                .await
                .expect(422, Some("idempotency_key_reused"));
        }
        // A refused first request leaves the key unused.
        let bad_key = format!("bad-{path}");
        if path != "/utils/db/optimize" {
            post_keyed(&app, path, &token, &bad_key, &json!({"table": "pg_class"}))
                .await
                .expect(422, Some("validation_failed"));
            let r = post_keyed(&app, path, &token, &bad_key, &body).await;
            r.expect(200, None);
            assert!(r.header("idempotent-replayed").is_none());
        }
    }
    // Many at once with one key: the work runs once.
    let body = json!({"table": "projects"});
    let answers: Vec<Resp> = join_all(
        (0..12).map(|_| post_keyed(&app, "/utils/db/vacuum", &token, "vacuum-race", &body)),
    )
    .await;
    exactly_one_fresh(&answers, 200);
}
