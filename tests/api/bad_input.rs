//! Bad input never gives a 5xx, and every error is problem+json (docs/API.md §1).

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::json;

use crate::harness::{TenantFixture, TestApp};

fn raw(
    method: Method,
    path: &str,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> Request<Body> {
    let mut b = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"));
    if let Some(ct) = content_type {
        b = b.header("content-type", ct);
    }
    b.body(Body::from(body)).expect("request")
}

/// An app with one tenant, whose admin sends the bad requests.
async fn bad_app() -> (TestApp, TenantFixture) {
    let app = TestApp::new().await;
    let t = app.tenant("bad").await;
    (app, t)
}

#[tokio::test]
async fn a_body_that_is_not_json_or_is_too_large_gets_its_own_code() {
    let (app, t) = bad_app().await;
    let tok = &t.admin.token;
    let users = "/api/v1/users";
    app.send(raw(
        Method::POST,
        users,
        tok,
        Some("application/json"),
        b"{\"email\":".to_vec(),
    ))
    .await
    .expect(400, Some("malformed_json"));
    app.send(raw(
        Method::POST,
        users,
        tok,
        Some("text/plain"),
        b"{}".to_vec(),
    ))
    .await
    .expect(415, Some("unsupported_media_type"));
    app.send(raw(Method::POST, users, tok, None, b"{}".to_vec()))
        .await
        .expect(415, Some("unsupported_media_type"));
    let big = format!("{{\"email\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    app.send(raw(
        Method::POST,
        users,
        tok,
        Some("application/json"),
        big.into_bytes(),
    ))
    .await
    .expect(413, Some("payload_too_large"));
    // Parameters on the media type are fine.
    app.send(raw(
        Method::POST,
        users,
        tok,
        Some("application/json; charset=utf-8"),
        serde_json::to_vec(
            &json!({"email": "c@bad.example", "username": "c", "password": "long enough pw"}),
        )
        .expect("json"),
    ))
    .await
    .expect(201, None);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM users WHERE tenant_id = '{}'",
            t.id
        )),
        2,
        "only the one valid create wrote"
    );
}

#[tokio::test]
async fn a_path_id_that_is_not_a_uuid_is_400_invalid_id() {
    let (app, t) = bad_app().await;
    let tok = &t.admin.token;
    app.get("/api/v1/users/not-a-uuid", tok)
        .await
        .expect(400, Some("invalid_id"));
    app.patch("/api/v1/users/123", tok, json!({}))
        .await
        .expect(400, Some("invalid_id"));
    app.get(&format!("/api/v1/tenants/{}", "x"), &app.platform_token())
        .await
        .expect(400, Some("invalid_id"));
}

#[tokio::test]
async fn body_fields_unknown_mistyped_null_or_outside_their_set_are_422_naming_the_field() {
    let (app, t) = bad_app().await;
    let tok = &t.admin.token;
    let users = "/api/v1/users";
    let unknown = app.post(users, tok, json!({"email": "d@bad.example", "username": "d", "password": "long enough pw", "tenant_id": t.id})).await;
    unknown.expect(422, Some("validation_failed"));
    insta::assert_json_snapshot!(unknown.body, {".request_id" => "[request_id]"}, @r#"
    {
      "code": "validation_failed",
      "detail": "the request is not valid",
      "errors": [
        {
          "field": "tenant_id",
          "message": "is not accepted by this endpoint"
        }
      ],
      "request_id": "[request_id]",
      "status": 422,
      "title": "Unprocessable Entity",
      "type": "about:blank"
    }
    "#);
    let wrong_type = app
        .post(
            users,
            tok,
            json!({"email": 5, "username": "d", "password": "long enough pw"}),
        )
        .await;
    wrong_type.expect(422, Some("validation_failed"));
    insta::assert_json_snapshot!(wrong_type.body, {".request_id" => "[request_id]"}, @r#"
    {
      "code": "validation_failed",
      "detail": "the request is not valid",
      "errors": [
        {
          "field": "email",
          "message": "must be a string"
        }
      ],
      "request_id": "[request_id]",
      "status": 422,
      "title": "Unprocessable Entity",
      "type": "about:blank"
    }
    "#);
    let null = app
        .post(
            users,
            tok,
            json!({"email": null, "username": "d", "password": "long enough pw"}),
        )
        .await;
    null.expect(422, Some("validation_failed"));
    let bad_enum = app.post(users, tok, json!({"email": "e@bad.example", "username": "d", "password": "long enough pw", "role": "god"})).await;
    bad_enum.expect(422, Some("validation_failed"));
    assert_eq!(bad_enum.body["errors"][0]["field"], "role");
    let nul = app
        .post(
            users,
            tok,
            json!({"email": "f@bad.example", "username": "a\u{0}b", "password": "long enough pw"}),
        )
        .await;
    nul.expect(422, Some("validation_failed"));
    assert_eq!(nul.body["errors"][0]["field"], "username");
    let not_object = app.post(users, tok, json!([1, 2])).await;
    not_object.expect(422, Some("validation_failed"));
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM users WHERE tenant_id = '{}'",
            t.id
        )),
        1,
        "nothing was created"
    );
}

#[tokio::test]
async fn query_values_that_do_not_parse_are_400_and_out_of_range_ones_422() {
    let (app, t) = bad_app().await;
    let tok = &t.admin.token;
    app.get("/api/v1/users?limit=abc", tok)
        .await
        .expect(400, Some("invalid_query"));
    app.get("/api/v1/users?limit=0", tok)
        .await
        .expect(422, Some("validation_failed"));
    app.get("/api/v1/users?limit=101", tok)
        .await
        .expect(422, Some("validation_failed"));
    let garbage = app.get("/api/v1/users?cursor=garbage", tok).await;
    garbage.expect(400, Some("invalid_cursor"));
    insta::assert_json_snapshot!(garbage.body, {".request_id" => "[request_id]"}, @r#"
    {
      "code": "invalid_cursor",
      "detail": "the cursor is malformed or was not issued for this list",
      "request_id": "[request_id]",
      "status": 400,
      "title": "Bad Request",
      "type": "about:blank"
    }
    "#);
    app.get("/api/v1/audit-logs?from=yesterday", tok)
        .await
        .expect(400, Some("invalid_query"));
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let (app, t) = bad_app().await;
    let tok = &t.admin.token;
    let users = "/api/v1/users";
    let nowhere = app.get("/api/v1/nowhere", tok).await;
    nowhere.expect(404, Some("not_found"));
    let unauth_nowhere = app
        .call(Method::GET, "/definitely/not/here", None, None)
        .await;
    unauth_nowhere.expect(404, Some("not_found"));
    let wrong_method = app
        .call(Method::PUT, users, Some(tok), Some(json!({})))
        .await;
    wrong_method.expect(405, Some("method_not_allowed"));
    let wrong_method = app.delete("/api/v1/users/me", tok).await;
    assert_eq!(wrong_method.status, 405);
}

#[tokio::test]
async fn every_response_has_security_headers_and_a_request_id() {
    let app = TestApp::new().await;
    let with_id = app
        .send(
            Request::builder()
                .uri("/health/live")
                .header("x-request-id", "trace-me-123")
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    with_id.expect(200, None);
    assert_eq!(with_id.header("x-request-id"), Some("trace-me-123"));
    let too_long = app
        .send(
            Request::builder()
                .uri("/nope")
                .header("x-request-id", "x".repeat(129))
                .body(Body::empty())
                .expect("req"),
        )
        .await;
    let id = too_long
        .header("x-request-id")
        .expect("request id")
        .to_string();
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "a new UUID replaces an invalid id"
    );
    assert_eq!(
        too_long.body["request_id"], id,
        "the error body carries the same id"
    );
    for r in [&with_id, &too_long] {
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(
            r.header("content-security-policy"),
            Some("default-src 'none'; frame-ancestors 'none'")
        );
    }
}

#[tokio::test]
async fn health_and_openapi_are_public() {
    let app = TestApp::new().await;
    let live = app.call(Method::GET, "/health/live", None, None).await;
    live.expect(200, None);
    assert_eq!(live.body, json!({"status": "ok"}));
    app.call(Method::GET, "/health/ready", None, None)
        .await
        .expect(200, None);
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    doc.expect(200, None);
    assert!(
        doc.body["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.1")
    );
}

/// Every route: path and method, as the OpenAPI document names them.
const ROUTES: &[(&str, &str)] = &[
    ("/api/v1/auth/login", "post"),
    ("/api/v1/tenants", "post"),
    ("/api/v1/tenants", "get"),
    ("/api/v1/tenants/{id}", "get"),
    ("/api/v1/tenants/{id}", "patch"),
    ("/api/v1/tenants/{id}", "delete"),
    ("/api/v1/tenant", "get"),
    ("/api/v1/users", "post"),
    ("/api/v1/users", "get"),
    ("/api/v1/users/me", "get"),
    ("/api/v1/users/{id}", "get"),
    ("/api/v1/users/{id}", "patch"),
    ("/api/v1/audit-logs", "get"),
    ("/api/v1/projects", "post"),
    ("/api/v1/projects", "get"),
    ("/api/v1/projects/{id}", "get"),
    ("/api/v1/projects/{id}", "patch"),
    ("/api/v1/projects/{id}", "delete"),
    ("/api/v1/projects/{id}/tasks", "post"),
    ("/api/v1/projects/{id}/tasks", "get"),
    ("/api/v1/tasks", "get"),
    ("/api/v1/tasks/{id}", "get"),
    ("/api/v1/tasks/{id}", "patch"),
    ("/api/v1/tasks/{id}", "delete"),
    ("/api/v1/budgets", "post"),
    ("/api/v1/budgets", "get"),
    ("/api/v1/budgets/{id}", "get"),
    ("/api/v1/budgets/{id}", "patch"),
    ("/api/v1/expenses", "post"),
    ("/api/v1/expenses", "get"),
    ("/api/v1/expenses/{id}", "get"),
    ("/api/v1/expenses/{id}", "patch"),
    ("/api/v1/expenses/{id}", "delete"),
    ("/api/v1/expenses/{id}/submit", "post"),
    ("/api/v1/expenses/{id}/approve", "post"),
    ("/api/v1/expenses/{id}/reject", "post"),
    ("/api/v1/reports/expenses", "get"),
    ("/api/v1/items", "post"),
    ("/api/v1/items", "get"),
    ("/api/v1/items/{id}", "get"),
    ("/api/v1/items/{id}", "patch"),
    ("/api/v1/items/{id}", "delete"),
    ("/api/v1/tenant/metrics", "get"),
    ("/utils/db/health", "get"),
    ("/utils/db/stats", "get"),
    ("/utils/db/optimize", "post"),
    ("/utils/db/vacuum", "post"),
    ("/utils/db/reindex", "post"),
    ("/utils/db/tenant/{id}/performance", "get"),
    ("/health/live", "get"),
    ("/health/ready", "get"),
    ("/metrics", "get"),
];

#[tokio::test]
async fn the_served_document_lists_every_route_with_the_answers_its_shape_implies() {
    let app = TestApp::new().await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await;
    doc.expect(200, None);
    let paths = doc.body["paths"].as_object().expect("paths");
    for &(path, method) in ROUTES {
        let op = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"))[method];
        assert!(op.is_object(), "{method} {path} missing");
        // Query parameters are documented as such, and optional.
        for param in op["parameters"].as_array().into_iter().flatten() {
            if ["limit", "cursor", "q", "from", "to"]
                .contains(&param["name"].as_str().unwrap_or(""))
            {
                assert_eq!(param["in"], "query", "{method} {path}: {param}");
                assert_ne!(param["required"], true, "{method} {path}: {param}");
            }
        }
        if path.contains("{id}") {
            assert!(
                op["responses"]["400"].is_object() && op["responses"]["404"].is_object(),
                "{method} {path}"
            );
        }
        let versioned = [
            "/api/v1/tasks/{id}",
            "/api/v1/budgets/{id}",
            "/api/v1/expenses/{id}",
        ];
        if ["/submit", "/approve", "/reject"]
            .iter()
            .any(|a| path.ends_with(a))
            || (method == "patch" && versioned.contains(&path))
        {
            for status in ["409", "412", "428"] {
                assert!(
                    op["responses"][status].is_object(),
                    "{method} {path} documents {status}"
                );
            }
        }
        if (path.starts_with("/api/v1/") && path != "/api/v1/auth/login")
            || path.starts_with("/utils/db/")
        {
            assert!(
                op["responses"]["401"].is_object() && op["responses"]["403"].is_object(),
                "{method} {path}"
            );
        }
    }
}
