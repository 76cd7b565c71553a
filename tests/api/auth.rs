//! JWT verification and login (docs/API.md §2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{JWT_SECRET, PASSWORD, TenantFixture, TestApp};

fn sign(alg: Algorithm, key: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).expect("sign")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Asserts a 401 `unauthorized` with `WWW-Authenticate: Bearer`.
async fn assert_rejected(app: &TestApp, authorization: Option<String>, what: &str) {
    let mut req = axum::http::Request::builder().uri("/api/v1/users/me");
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let r = app
        .send(req.body(axum::body::Body::empty()).expect("req"))
        .await;
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(r.code(), "unauthorized", "{what}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}");
    assert_eq!(
        r.header("content-type"),
        Some("application/problem+json"),
        "{what}"
    );
    // The same body whatever the attack: nothing says which check failed.
    insta::allow_duplicates! {
        insta::assert_json_snapshot!(r.body, {".request_id" => "[request_id]"}, @r#"
        {
          "code": "unauthorized",
          "detail": "a valid bearer token is required",
          "request_id": "[request_id]",
          "status": 401,
          "title": "Unauthorized",
          "type": "about:blank"
        }
        "#);
    }
}

/// Two tenants, and tenant A's admin's genuine claims and HS256 token, which works, so
/// every rejection in the tests below is about the attack alone.
async fn jwt_app() -> (TestApp, TenantFixture, TenantFixture, Value, String) {
    let app = TestApp::new().await;
    let a = app.tenant("jwt-a").await;
    let b = app.tenant("jwt-b").await;
    let good = json!({"sub": a.admin.id, "tenant_id": a.id, "role": "admin", "iat": now(), "exp": now() + 600});
    let ok = sign(Algorithm::HS256, JWT_SECRET.as_bytes(), &good);
    app.get("/api/v1/users/me", &ok).await.expect(200, None);
    (app, a, b, good, ok)
}

/// `Authorization` with `claims` signed by the server's key and algorithm.
fn hs256(claims: &Value) -> Option<String> {
    Some(format!(
        "Bearer {}",
        sign(Algorithm::HS256, JWT_SECRET.as_bytes(), claims)
    ))
}

#[tokio::test]
async fn a_token_not_signed_with_the_servers_key_and_algorithm_is_401() {
    let (app, _, b, good, ok) = jwt_app().await;
    // alg: none (unsigned).
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&good).expect("json"));
    assert_rejected(
        &app,
        Some(format!("Bearer {header}.{payload}.")),
        "alg none",
    )
    .await;
    // HS512 with the right key.
    assert_rejected(
        &app,
        Some(format!(
            "Bearer {}",
            sign(Algorithm::HS512, JWT_SECRET.as_bytes(), &good)
        )),
        "HS512",
    )
    .await;
    // Wrong key.
    let wrong = sign(
        Algorithm::HS256,
        b"another-secret-another-secret-0123456789",
        &good,
    );
    assert_rejected(&app, Some(format!("Bearer {wrong}")), "wrong key").await;
    // A tampered payload (role and tenant swapped in, signature kept).
    let parts: Vec<&str> = ok.split('.').collect();
    let forged = json!({"sub": b.admin.id, "tenant_id": b.id, "role": "admin", "iat": now(), "exp": now() + 600});
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).expect("json")),
        parts[2]
    );
    assert_rejected(&app, Some(format!("Bearer {tampered}")), "tampered").await;
}

#[tokio::test]
async fn an_expired_token_or_one_without_exp_or_iat_is_401() {
    let (app, a, ..) = jwt_app().await;
    // Expired beyond the 60 s leeway.
    let expired = json!({"sub": a.admin.id, "tenant_id": a.id, "role": "admin", "iat": now() - 600, "exp": now() - 61});
    assert_rejected(&app, hs256(&expired), "expired").await;
    let no_exp = json!({"sub": a.admin.id, "tenant_id": a.id, "role": "admin", "iat": now()});
    assert_rejected(&app, hs256(&no_exp), "no exp").await;
    let no_iat = json!({"sub": a.admin.id, "tenant_id": a.id, "role": "admin", "exp": now() + 600});
    assert_rejected(&app, hs256(&no_iat), "no iat").await;
}

#[tokio::test]
async fn a_signed_token_with_claims_that_name_no_user_of_its_tenant_is_401() {
    let (app, a, b, ..) = jwt_app().await;
    // A tenant role without tenant_id.
    let no_tenant = json!({"sub": a.admin.id, "role": "admin", "iat": now(), "exp": now() + 600});
    assert_rejected(&app, hs256(&no_tenant), "no tenant_id").await;
    // A valid user's sub with another tenant's tenant_id.
    let cross = json!({"sub": a.admin.id, "tenant_id": b.id, "role": "admin", "iat": now(), "exp": now() + 600});
    assert_rejected(&app, hs256(&cross), "cross tenant").await;
    let role = json!({"sub": a.admin.id, "tenant_id": a.id, "role": "owner", "iat": now(), "exp": now() + 600});
    assert_rejected(&app, hs256(&role), "unknown role").await;
    let not_uuid = json!({"sub": "root", "tenant_id": a.id, "role": "admin", "iat": now(), "exp": now() + 600});
    assert_rejected(&app, hs256(&not_uuid), "sub not uuid").await;
}

#[tokio::test]
async fn a_missing_or_malformed_authorization_header_is_401() {
    let (app, .., ok) = jwt_app().await;
    assert_rejected(&app, Some("Bearer not.a.jwt".into()), "garbage").await;
    assert_rejected(&app, Some(ok.clone()), "missing Bearer prefix").await;
    assert_rejected(&app, Some(format!("Basic {ok}")), "basic scheme").await;
    assert_rejected(&app, None, "no header").await;
}

#[tokio::test]
async fn expiry_within_the_leeway_is_accepted() {
    let app = TestApp::new().await;
    let a = app.tenant("leeway").await;
    let claims = json!({"sub": a.admin.id, "tenant_id": a.id, "role": "admin", "iat": now() - 600, "exp": now() - 30});
    let token = sign(Algorithm::HS256, JWT_SECRET.as_bytes(), &claims);
    app.get("/api/v1/users/me", &token).await.expect(200, None);
}

fn login_body(code: &str, email: &str, password: &str) -> Value {
    json!({"tenant_code": code, "email": email, "password": password})
}

async fn login(app: &TestApp, code: &str, email: &str, password: &str) -> crate::harness::Resp {
    app.call(
        axum::http::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(login_body(code, email, password)),
    )
    .await
}

#[tokio::test]
async fn login_failures_are_indistinguishable() {
    let app = TestApp::new().await;
    let t = app.tenant("login").await;
    let wrong_password = login(&app, &t.code, &t.admin.email, "not the password").await;
    let unknown_email = login(&app, &t.code, "nobody@login.example", PASSWORD).await;
    let unknown_tenant = login(
        &app,
        &crate::harness::tenant_code("no-such-tenant"),
        &t.admin.email,
        PASSWORD,
    )
    .await;
    for r in [&wrong_password, &unknown_email, &unknown_tenant] {
        r.expect(401, Some("invalid_credentials"));
    }
    assert_eq!(
        wrong_password.body_without_request_id(),
        unknown_email.body_without_request_id()
    );
    assert_eq!(
        wrong_password.body_without_request_id(),
        unknown_tenant.body_without_request_id()
    );

    // An inactive user with the right password gets the same answer.
    let member = app.user(&t, "member").await;
    app.patch(
        &format!("/api/v1/users/{}", member.id),
        &t.admin.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200, None);
    let inactive = login(&app, &t.code, &member.email, PASSWORD).await;
    inactive.expect(401, Some("invalid_credentials"));
    assert_eq!(
        inactive.body_without_request_id(),
        wrong_password.body_without_request_id()
    );

    // Failed logins to an existing tenant are audited as warnings; none for the unknown tenant.
    let failed = app.audit_count(t.id, "auth.login_failed");
    assert_eq!(failed, 3, "wrong password, unknown email, inactive user");
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}' AND action = 'auth.login_failed' AND severity <> 'warning'",
            t.id
        )),
        0
    );
}

#[tokio::test]
async fn successful_login_sets_last_login_and_audits() {
    let app = TestApp::new().await;
    // Made through the API: the hash tenant creation stores is the one login verifies.
    let t = app.tenant_via_api("ok-login", json!({})).await;
    let r = login(&app, &t.code, &t.admin.email.to_uppercase(), PASSWORD).await;
    r.expect(200, None);
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 3600);
    assert!(r.body["user"]["last_login_at"].is_string());
    assert!(r.body["user"].get("password_hash").is_none());
    let token = r.body["access_token"].as_str().expect("token").to_string();
    let me = app.get("/api/v1/users/me", &token).await;
    me.expect(200, None);
    assert_eq!(me.body["id"], t.admin.id.to_string());
    assert_eq!(me.body["last_login_at"], r.body["user"]["last_login_at"]);
    assert_eq!(app.audit_count(t.id, "auth.login"), 1);
    let row = app
        .get("/api/v1/audit-logs?action=auth.login", &token)
        .await;
    row.expect(200, None);
    assert_eq!(row.body["data"][0]["user_id"], t.admin.id.to_string());
    assert_eq!(
        row.body["data"][0]["request_id"],
        r.header("x-request-id").expect("request id")
    );
}

#[tokio::test]
async fn sixth_failure_within_five_minutes_is_429_even_with_the_right_password() {
    let app = TestApp::new().await;
    let t = app.tenant("lockout").await;
    for _ in 0..5 {
        login(&app, &t.code, &t.admin.email, "wrong password!")
            .await
            .expect(401, Some("invalid_credentials"));
    }
    let locked = login(&app, &t.code, &t.admin.email, PASSWORD).await;
    locked.expect(429, Some("rate_limited"));
    let retry: u64 = locked
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=300).contains(&retry), "{retry}");
    // The lock is per tenant + email: another user of the tenant can still log in.
    let other = app.user(&t, "member").await;
    login(&app, &t.code, &other.email, PASSWORD)
        .await
        .expect(200, None);
    // Unknown tenants are locked the same way (no oracle).
    let ghost = crate::harness::tenant_code("ghost");
    for _ in 0..5 {
        login(&app, &ghost, "x@ghost.example", "whatever123")
            .await
            .expect(401, Some("invalid_credentials"));
    }
    login(&app, &ghost, "x@ghost.example", "whatever123")
        .await
        .expect(429, Some("rate_limited"));
    // Once the window has passed, tries are allowed again.
    app.db.exec(&format!(
        "UPDATE login_throttles SET window_started_at = now() - interval '6 minutes' \
         WHERE tenant_code = '{}'",
        t.code
    ));
    login(&app, &t.code, &t.admin.email, PASSWORD)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn suspended_tenant_cannot_log_in_or_use_tokens() {
    let app = TestApp::new().await;
    let t = app.tenant("suspend").await;
    let platform = app.platform_token();
    app.get("/api/v1/tenant", &t.admin.token)
        .await
        .expect(200, None);
    app.patch(
        &format!("/api/v1/tenants/{}", t.id),
        &platform,
        json!({"status": "suspended"}),
    )
    .await
    .expect(200, None);
    app.get("/api/v1/tenant", &t.admin.token)
        .await
        .expect(403, Some("tenant_suspended"));
    login(&app, &t.code, &t.admin.email, PASSWORD)
        .await
        .expect(403, Some("tenant_suspended"));
    // A wrong password on a suspended tenant stays 401: status is not revealed to guessers.
    login(&app, &t.code, &t.admin.email, "wrong password")
        .await
        .expect(401, Some("invalid_credentials"));
    app.patch(
        &format!("/api/v1/tenants/{}", t.id),
        &platform,
        json!({"status": "active"}),
    )
    .await
    .expect(200, None);
    app.get("/api/v1/tenant", &t.admin.token)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn platform_and_tenant_tokens_stay_on_their_side() {
    let app = TestApp::new().await;
    let t = app.tenant("sides").await;
    let platform = app.platform_token();
    for path in [
        "/api/v1/users",
        "/api/v1/users/me",
        "/api/v1/tenant",
        "/api/v1/audit-logs",
    ] {
        app.get(path, &platform)
            .await
            .expect(403, Some("forbidden"));
    }
    for path in ["/api/v1/tenants", &format!("/api/v1/tenants/{}", t.id)] {
        app.get(path, &t.admin.token)
            .await
            .expect(403, Some("forbidden"));
    }
    app.post(
        "/api/v1/tenants",
        &t.admin.token,
        json!({"name": "x", "code": "x"}),
    )
    .await
    .expect(403, Some("forbidden"));
    app.delete(&format!("/api/v1/tenants/{}", t.id), &t.admin.token)
        .await
        .expect(403, Some("forbidden"));
    // Nothing was deleted.
    app.get(&format!("/api/v1/tenants/{}", t.id), &platform)
        .await
        .expect(200, None);
    let _ = Uuid::nil();
}
