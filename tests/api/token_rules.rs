//! Token lifetimes and revocation, viewer rights, `Cache-Control`, and principal-cache
//! invalidation that survives a dropped request (docs/API.md §1, §2).

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::harness::{JWT_SECRET, PASSWORD, TestApp};

fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("sign")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn future_iat_future_nbf_and_long_lived_tenant_tokens_are_401() {
    let app = TestApp::new().await;
    let t = app.tenant("lifetimes").await;
    let base = |iat: i64, exp: i64| json!({"sub": t.admin.id.to_string(), "tenant_id": t.id, "role": "admin", "iat": iat, "exp": exp});
    let n = now();
    // Accepted: a normal token, a small skew, a 24 h token, a past nbf.
    let mut past_nbf = base(n, n + 600);
    past_nbf["nbf"] = json!(n - 10);
    for ok in [
        base(n, n + 3600),
        base(n + 30, n + 3600),
        base(n, n + 24 * 3600),
        past_nbf,
    ] {
        app.get("/api/v1/users/me", &sign(&ok))
            .await
            .expect(200, None);
    }
    let mut future_nbf = base(n, n + 7200);
    future_nbf["nbf"] = json!(n + 3600);
    for bad in [
        base(n + 3600, n + 7200),
        future_nbf,
        base(n, n + 10 * 365 * 24 * 3600),
        base(n - 10, n + 24 * 3600 + 1),
    ] {
        let r = app.get("/api/v1/users/me", &sign(&bad)).await;
        r.expect(401, Some("unauthorized"));
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    // A platform token's lifetime is the operator's choice; a future iat is not.
    let mut platform =
        json!({"sub": "ops", "role": "platform_admin", "iat": n, "exp": n + 30 * 24 * 3600});
    app.get("/api/v1/tenants", &sign(&platform))
        .await
        .expect(200, None);
    platform["iat"] = json!(n + 3600);
    app.get("/api/v1/tenants", &sign(&platform))
        .await
        .expect(401, Some("unauthorized"));
}

/// A token for `user` issued `ago` seconds ago.
fn issued_ago(t: &crate::harness::TenantFixture, user: uuid::Uuid, ago: i64) -> String {
    let n = now();
    sign(
        &json!({"sub": user.to_string(), "tenant_id": t.id, "role": "member", "iat": n - ago, "exp": n + 3600}),
    )
}

#[tokio::test]
async fn a_password_change_and_a_deactivation_revoke_older_tokens_at_once() {
    let app = TestApp::new().await;
    let t = app.tenant("revoke").await;
    let member = app.user(&t, "member").await;
    let old = issued_ago(&t, member.id, 5);
    // Warm the principal cache with the old token.
    app.get("/api/v1/users/me", &old).await.expect(200, None);
    app.patch(
        &format!("/api/v1/users/{}", member.id),
        &old,
        json!({"password": "a brand new password"}),
    )
    .await
    .expect(200, None);
    app.get("/api/v1/users/me", &old)
        .await
        .expect(401, Some("unauthorized"));
    // The new password logs in, and its token works.
    let login = app
        .call(
            axum::http::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"tenant_code": t.code, "email": member.email, "password": "a brand new password"})),
        )
        .await;
    login.expect(200, None);
    let fresh = login.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    app.get("/api/v1/users/me", &fresh).await.expect(200, None);

    // Deactivation revokes too, and reactivation does not bring old tokens back.
    let other = app.user(&t, "member").await;
    let old = issued_ago(&t, other.id, 5);
    app.get("/api/v1/users/me", &old).await.expect(200, None);
    for active in [false, true] {
        app.patch(
            &format!("/api/v1/users/{}", other.id),
            &t.admin.token,
            json!({"is_active": active}),
        )
        .await
        .expect(200, None);
    }
    app.get("/api/v1/users/me", &old)
        .await
        .expect(401, Some("unauthorized"));
    // A username change revokes nothing.
    let third = app.user(&t, "member").await;
    let old = issued_ago(&t, third.id, 5);
    app.patch(
        &format!("/api/v1/users/{}", third.id),
        &old,
        json!({"username": "renamed"}),
    )
    .await
    .expect(200, None);
    app.get("/api/v1/users/me", &old).await.expect(200, None);
}

#[tokio::test]
async fn a_viewer_cannot_submit_an_expense() {
    let app = TestApp::new().await;
    let t = app.tenant("viewer-submit").await;
    let member = app.user(&t, "member").await;
    let e = app
        .post(
            "/api/v1/expenses",
            &member.token,
            json!({"category": "travel", "amount_cents": 5, "description": "taxi", "incurred_on": "2026-01-02"}),
        )
        .await;
    e.expect(201, None);
    // Demoted to viewer: its own draft can no longer be submitted.
    app.patch(
        &format!("/api/v1/users/{}", member.id),
        &t.admin.token,
        json!({"role": "viewer"}),
    )
    .await
    .expect(200, None);
    app.post(
        &format!("/api/v1/expenses/{}/submit", e.id()),
        &member.token,
        json!({"version": 1}),
    )
    .await
    .expect(403, Some("forbidden"));
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM expenses WHERE tenant_id = '{}' AND status = 'draft'",
            t.id
        )),
        1
    );
}

#[tokio::test]
async fn every_api_response_is_no_store() {
    let app = TestApp::new().await;
    let t = app.tenant("nostore").await;
    for (path, token) in [
        ("/api/v1/users/me", Some(t.admin.token.as_str())),
        ("/api/v1/projects", Some(t.admin.token.as_str())),
        ("/api/v1/projects", None),
        ("/api/v1/nowhere", Some(t.admin.token.as_str())),
    ] {
        let r = app.call(axum::http::Method::GET, path, token, None).await;
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
    }
    let r = app
        .call(
            axum::http::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"tenant_code": t.code, "email": t.admin.email, "password": PASSWORD})),
        )
        .await;
    r.expect(200, None);
    assert_eq!(r.header("cache-control"), Some("no-store"));
}

/// The admin's request is dropped right after its transaction committed (before the
/// handler could run again): the deactivated user must still lose access at once.
#[tokio::test(flavor = "current_thread")]
async fn a_request_dropped_after_its_commit_still_invalidates_the_principal_cache() {
    use diesel::connection::SimpleConnection;
    let app = std::sync::Arc::new(TestApp::new().await);
    let t = app.tenant("dropped").await;
    let member = app.user(&t, "member").await;
    app.get("/api/v1/users/me", &member.token)
        .await
        .expect(200, None);
    app.get("/api/v1/users/me", &t.admin.token)
        .await
        .expect(200, None);

    // Hold the member's row so the deactivation waits inside its transaction.
    let mut blocker = app.db.conn();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM users WHERE tenant_id = '{}' AND id = '{}' FOR UPDATE",
            t.id, member.id
        ))
        .expect("lock");
    let request = {
        let (app, token, id) = (app.clone(), t.admin.token.clone(), member.id);
        tokio::spawn(async move {
            app.patch(
                &format!("/api/v1/users/{id}"),
                &token,
                json!({"is_active": false}),
            )
            .await
        })
    };
    // Wait (yielding to the runtime) until the update is blocked on the lock. On Citus
    // it waits on the worker holding the row (the coordinator's backend waits on the
    // network), which citus_stat_activity shows.
    let db_url = app.db.url.clone();
    let activity = if crate::harness::citus() {
        "citus_stat_activity"
    } else {
        "pg_stat_activity"
    };
    let poll = format!(
        "SELECT count(*) FROM {activity} WHERE wait_event_type = 'Lock' AND query LIKE 'UPDATE%'"
    );
    for _ in 0..200 {
        let (url, poll) = (db_url.clone(), poll.clone());
        let waiting = tokio::task::spawn_blocking(move || crate::harness::scalar_at(&url, &poll))
            .await
            .expect("poll");
        if waiting > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // From here on the runtime's only thread is blocked: the handler cannot resume.
    blocker.batch_execute("COMMIT").expect("release");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while app.db.scalar(&format!(
        "SELECT count(*) FROM users WHERE tenant_id = '{}' AND id = '{}' AND NOT is_active",
        t.id, member.id
    )) == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "deactivation never committed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Give the database task time to finish after its commit, still without yielding.
    std::thread::sleep(Duration::from_millis(200));
    request.abort();
    let _ = request.await;
    app.get("/api/v1/users/me", &member.token)
        .await
        .expect(401, Some("unauthorized"));
}
