//! Client mistakes that used to reach PostgreSQL (or chrono's arithmetic) and answer
//! 500: far dates, U+0000 in query values, over-long login fields, a 414, and a 4xx
//! from a layer the error middleware does not know (docs/API.md §1, §2).

use axum::http::Method;
use serde_json::json;
use uuid::Uuid;

use crate::harness::{PASSWORD, TenantFixture, TestApp};

/// Years outside 0001..=9999, in every spelling chrono accepts.
const FAR_TIMESTAMPS: [&str; 4] = [
    "-5000-01-01T00:00:00Z",
    "%2B10000-01-01T00:00:00Z",
    "0000-06-01T00:00:00Z",
    "0001-01-01T00:00:00%2B01:00",
];
const FAR_BODY_TIMESTAMPS: [&str; 4] = [
    "-5000-01-01T00:00:00Z",
    "+10000-01-01T00:00:00Z",
    "0000-06-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
];
const FAR_DATES: [&str; 3] = ["-5000-01-01", "-262143-01-01", "%2B10000-01-01"];
const FAR_BODY_DATES: [&str; 3] = ["-5000-01-01", "0000-01-01", "+10000-01-01"];

/// A tenant with a project, a task and an expense, whose admin sends the far dates.
struct Far {
    app: TestApp,
    t: TenantFixture,
    project: Uuid,
    task: Uuid,
    expense: Uuid,
}

async fn far() -> Far {
    let app = TestApp::new().await;
    let t = app.tenant("far").await;
    let tok = &t.admin.token;
    let project = app
        .post("/api/v1/projects", tok, json!({"name": "P"}))
        .await;
    project.expect(201, None);
    let project = project.id();
    let task = app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            tok,
            json!({"title": "t"}),
        )
        .await;
    task.expect(201, None);
    let task = task.id();
    let expense = app
        .post(
            "/api/v1/expenses",
            tok,
            json!({"category": "travel", "amount_cents": 5, "description": "taxi", "incurred_on": "2026-01-02"}),
        )
        .await;
    expense.expect(201, None);
    let expense = expense.id();
    Far {
        app,
        t,
        project,
        task,
        expense,
    }
}

#[tokio::test]
async fn far_dates_in_a_query_are_400_at_the_boundary() {
    let Far {
        app, t, project, ..
    } = far().await;
    let tok = &t.admin.token;
    for ts in FAR_TIMESTAMPS {
        for path in [
            format!("/api/v1/tasks?due_before={ts}"),
            format!("/api/v1/tasks?due_after={ts}"),
            format!("/api/v1/projects/{project}/tasks?due_before={ts}"),
            format!("/api/v1/audit-logs?from={ts}"),
            format!("/api/v1/audit-logs?to={ts}"),
        ] {
            let r = app.get(&path, tok).await;
            assert_eq!(r.status, 400, "{path}: {}", r.text);
            r.expect(400, Some("invalid_query"));
        }
    }
    for d in FAR_DATES {
        for path in [
            format!("/api/v1/tenant/metrics?from={d}"),
            format!("/api/v1/tenant/metrics?to={d}"),
        ] {
            let r = app.get(&path, tok).await;
            assert_eq!(r.status, 400, "{path}: {}", r.text);
            r.expect(400, Some("invalid_query"));
        }
    }
    // The earliest allowed `to` still works: the default `from` is clamped, not overflowed.
    app.get("/api/v1/tenant/metrics?to=0001-01-01", tok)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_far_due_at_is_422_and_changes_no_task() {
    let Far {
        app,
        t,
        project,
        task,
        ..
    } = far().await;
    let tok = &t.admin.token;
    for ts in FAR_BODY_TIMESTAMPS {
        let r = app
            .post(
                &format!("/api/v1/projects/{project}/tasks"),
                tok,
                json!({"title": "t", "due_at": ts}),
            )
            .await;
        r.expect(422, Some("validation_failed"));
        assert_eq!(r.body["errors"][0]["field"], "due_at", "{}", r.text);
        let r = app
            .patch(
                &format!("/api/v1/tasks/{task}"),
                tok,
                json!({"version": 1, "due_at": ts}),
            )
            .await;
        r.expect(422, Some("validation_failed"));
        assert_eq!(r.body["errors"][0]["field"], "due_at", "{}", r.text);
    }
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM tasks WHERE tenant_id = '{}' AND due_at IS NOT NULL",
            t.id
        )),
        0
    );
}

#[tokio::test]
async fn a_far_incurred_on_or_budget_period_is_422_and_changes_nothing() {
    let Far {
        app, t, expense, ..
    } = far().await;
    let tok = &t.admin.token;
    for d in FAR_BODY_DATES {
        let r = app
            .post(
                "/api/v1/expenses",
                tok,
                json!({"category": "travel", "amount_cents": 5, "description": "taxi", "incurred_on": d}),
            )
            .await;
        r.expect(422, Some("validation_failed"));
        assert_eq!(r.body["errors"][0]["field"], "incurred_on", "{}", r.text);
        let r = app
            .patch(
                &format!("/api/v1/expenses/{expense}"),
                tok,
                json!({"version": 1, "incurred_on": d}),
            )
            .await;
        r.expect(422, Some("validation_failed"));
        assert_eq!(r.body["errors"][0]["field"], "incurred_on", "{}", r.text);
    }
    for period in ["0000-01", "-500-01"] {
        app.post(
            "/api/v1/budgets",
            tok,
            json!({"category": "travel", "period": period, "amount_cents": 1}),
        )
        .await
        .expect(422, Some("validation_failed"));
    }
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM expenses WHERE tenant_id = '{}'",
            t.id
        )),
        1
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM budgets WHERE tenant_id = '{}'",
            t.id
        )),
        0
    );
}

#[tokio::test]
async fn nul_in_any_query_value_is_invalid_query() {
    let app = TestApp::new().await;
    let t = app.tenant("nul").await;
    let tok = &t.admin.token;
    for path in [
        "/api/v1/audit-logs?action=%00",
        "/api/v1/audit-logs?resource_type=a%00b",
        "/api/v1/audit-logs?severity=info%00",
        "/api/v1/tasks?status=%00",
        "/api/v1/tasks?sort=%00",
        "/api/v1/items?q=a%00b",
        "/api/v1/users?role=%00",
        "/api/v1/projects?cursor=%00",
        "/api/v1/projects?x%00y=1",
    ] {
        let r = app.get(path, tok).await;
        assert_eq!(r.status, 400, "{path}: {}", r.text);
        r.expect(400, Some("invalid_query"));
    }
}

#[tokio::test]
async fn free_text_filters_are_capped() {
    let app = TestApp::new().await;
    let t = app.tenant("caps").await;
    let tok = &t.admin.token;
    let long = "a".repeat(5000);
    for path in [
        format!("/api/v1/items?q={long}"),
        format!("/api/v1/audit-logs?action={long}"),
        format!("/api/v1/audit-logs?resource_type={long}"),
    ] {
        let r = app.get(&path, tok).await;
        assert_eq!(r.status, 422, "{}", r.text);
        r.expect(422, Some("validation_failed"));
    }
    // Within the bounds they are served.
    app.get(&format!("/api/v1/items?q={}", "ab+".repeat(100)), tok)
        .await
        .expect(200, None);
    app.get(
        &format!("/api/v1/audit-logs?action={}", "a".repeat(100)),
        tok,
    )
    .await
    .expect(200, None);
}

async fn login(app: &TestApp, code: &str, email: &str, password: &str) -> crate::harness::Resp {
    app.call(
        Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"tenant_code": code, "email": email, "password": password})),
    )
    .await
}

#[tokio::test]
async fn over_long_login_fields_are_invalid_credentials_and_store_nothing() {
    let app = TestApp::new().await;
    let t = app.tenant("long").await;
    let long_email = format!("{}@long.example", "a".repeat(100_000));
    let random_code: String = (0..20_000)
        .map(|i| char::from(b'a' + ((i * 7919 + 13) % 26) as u8))
        .collect();
    let cases = [
        (t.code.clone(), long_email.clone(), PASSWORD.to_string()),
        (
            t.code.clone(),
            format!("{}@l.example", "b".repeat(245)),
            PASSWORD.to_string(),
        ),
        (t.code.clone(), t.admin.email.clone(), "p".repeat(129)),
        (random_code, t.admin.email.clone(), PASSWORD.to_string()),
        ("UPPER".into(), t.admin.email.clone(), PASSWORD.to_string()),
        ("-dash".into(), t.admin.email.clone(), PASSWORD.to_string()),
        ("a".repeat(51), t.admin.email.clone(), PASSWORD.to_string()),
    ];
    let reference = login(&app, &t.code, "nobody@long.example", "wrong password!").await;
    reference.expect(401, Some("invalid_credentials"));
    let throttles_before = app.db.scalar("SELECT count(*) FROM login_throttles");
    let audit_before = app.audit_count(t.id, "auth.login_failed");
    for (code, email, password) in &cases {
        let r = login(&app, code, email, password).await;
        r.expect(401, Some("invalid_credentials"));
        assert_eq!(
            r.body_without_request_id(),
            reference.body_without_request_id()
        );
    }
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM login_throttles"),
        throttles_before,
        "no throttle row for a refused login"
    );
    assert_eq!(app.audit_count(t.id, "auth.login_failed"), audit_before);
    assert!(
        app.db.scalar(
            "SELECT coalesce(max(length(tenant_code) + length(email)), 0) FROM login_throttles"
        ) <= 254 + 50
    );
    assert!(
        app.db
            .scalar("SELECT coalesce(max(length(metadata::text)), 0) FROM audit_logs")
            < 1000,
        "no audit row holds a raw over-long value"
    );
    // The right password at the bound still logs in.
    login(&app, &t.code, &t.admin.email, PASSWORD)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_uri_too_long_is_problem_json_with_the_security_headers() {
    // Over real TCP: hyper answers 414 itself, before the router sees anything.
    let app = TestApp::new().await;
    let server = crate::harness::serve_tcp(&app).await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!(
            "{}/api/v1/projects?x={}",
            server.base,
            "a".repeat(20_000)
        ))
        .send()
        .await
        .expect("answer");
    let status = r.status().as_u16();
    assert_eq!(status, 414);
    let headers = r.headers().clone();
    assert_eq!(
        headers
            .get("content-type")
            .map(|v| v.to_str().unwrap_or("")),
        Some("application/problem+json")
    );
    for h in [
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "content-security-policy",
    ] {
        assert!(headers.contains_key(h), "{h} on {status}");
    }
    let body: serde_json::Value = r.json().await.expect("json body");
    assert_eq!(body["status"], status);
    assert!(body["code"].is_string());
}

/// The series of `/metrics` (name and labels, without values).
async fn series(app: &TestApp) -> std::collections::BTreeSet<String> {
    let r = app.call(Method::GET, "/metrics", None, None).await;
    r.expect(200, None);
    r.text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(series, _)| series.to_string()))
        .collect()
}

#[tokio::test]
async fn unknown_methods_are_501_and_leave_metrics_unchanged() {
    let app = TestApp::new().await;
    let t = app.tenant("methods").await;
    // Twice, so the scrape's own series exists before the comparison.
    series(&app).await;
    let before = series(&app).await;
    for i in 0..15 {
        let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).expect("method");
        for path in ["/api/v1/projects", "/metrics", "/nowhere"] {
            let r = app
                .call(method.clone(), path, Some(&t.admin.token), None)
                .await;
            r.expect(501, Some("not_implemented"));
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        }
    }
    // A known method a route does not take is 405.
    app.call(Method::PUT, "/api/v1/projects", Some(&t.admin.token), None)
        .await
        .expect(405, Some("method_not_allowed"));
    let after = series(&app).await;
    let added: Vec<_> = after.difference(&before).collect();
    assert!(
        added.iter().all(|s| !s.contains("MADEUP")),
        "made-up methods became series: {added:?}"
    );
    assert!(
        added.iter().all(|s| s.contains("method=\"PUT\"")),
        "only the PUT's series is new: {added:?}"
    );
}
