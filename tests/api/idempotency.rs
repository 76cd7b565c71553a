//! `Idempotency-Key` (docs/API.md §1): a retry within 24 h gets the first answer and
//! changes nothing; another body with the key is `422`; the key while its first request
//! runs is `409`; many concurrent replays make exactly one change; `/utils/db/optimize`
//! removes expired keys.

use axum::body::Body;
use axum::http::{Method, Request};
use diesel::RunQueryDsl;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::harness::{Resp, TestApp};

pub async fn post_keyed(app: &TestApp, path: &str, token: &str, key: &str, body: &Value) -> Resp {
    app.send(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

/// `POST /api/v1/projects {"name": name}` as the tenant's admin, with `key`.
async fn create_project(app: &TestApp, token: &str, key: &str, name: &str) -> Resp {
    post_keyed(
        app,
        "/api/v1/projects",
        token,
        key,
        &json!({ "name": name }),
    )
    .await
}

/// Takes or releases (`pg_advisory_lock`/`_unlock`) a tenant key's lock on `conn`, as
/// a running first request holds it.
fn advisory(conn: &mut diesel::PgConnection, function: &str, tenant: uuid::Uuid, key: &str) {
    diesel::sql_query(format!(
        "SELECT {function}(hashtextextended('{tenant}' || ':' || '{key}', 7))"
    ))
    .execute(conn)
    .expect(function);
}

/// Ages a stored key past its 24 h.
fn expire_key(app: &TestApp, tenant: uuid::Uuid, key: &str) {
    app.db.exec(&format!(
        "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE tenant_id = '{tenant}' AND key = '{key}'"
    ));
}

fn projects_named(app: &TestApp, tenant: uuid::Uuid, name: &str) -> i64 {
    app.db.scalar(&format!(
        "SELECT count(*) FROM projects WHERE tenant_id = '{tenant}' AND name = '{name}'"
    ))
}

#[tokio::test]
async fn a_retry_gets_the_first_answer_and_changes_nothing() {
    let app = TestApp::new().await;
    let t = app.tenant("idem-a").await;
    let body = json!({"name": "Launch"});
    let first = post_keyed(&app, "/api/v1/projects", &t.admin.token, "key-1", &body).await;
    first.expect(201, None);
    assert!(first.header("idempotent-replayed").is_none());
    let again = post_keyed(&app, "/api/v1/projects", &t.admin.token, "key-1", &body).await;
    again.expect(201, None);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(
        again.body, first.body,
        "the same answer, byte for byte in JSON"
    );
    assert_eq!(projects_named(&app, t.id, "Launch"), 1);
    assert_eq!(app.audit_count(t.id, "project.created"), 1, "one audit row");

    // Another body with the key: refused, nothing made.
    let other = create_project(&app, &t.admin.token, "key-1", "Other").await;
    other.expect(422, Some("idempotency_key_reused"));
    assert_eq!(projects_named(&app, t.id, "Other"), 0);
    // The same key on another route is another request too.
    let p = first.id();
    let task = post_keyed(
        &app,
        &format!("/api/v1/projects/{p}/tasks"),
        &t.admin.token,
        "key-1",
        &json!({"title": "T"}),
    )
    .await;
    task.expect(422, Some("idempotency_key_reused"));

    // Keys belong to a tenant: another tenant's same key is its own.
    let u = app.tenant("idem-b").await;
    let theirs = post_keyed(&app, "/api/v1/projects", &u.admin.token, "key-1", &body).await;
    theirs.expect(201, None);
    assert!(theirs.header("idempotent-replayed").is_none());
    assert_ne!(theirs.id(), first.id());

    // A versioned create replays its ETag too.
    let created = post_keyed(
        &app,
        &format!("/api/v1/projects/{p}/tasks"),
        &t.admin.token,
        "task-1",
        &json!({"title": "T"}),
    )
    .await;
    created.expect(201, None);
    let replay = post_keyed(
        &app,
        &format!("/api/v1/projects/{p}/tasks"),
        &t.admin.token,
        "task-1",
        &json!({"title": "T"}),
    )
    .await;
    replay.expect(201, None);
    assert_eq!(replay.header("etag"), Some("\"1\""));
    assert_eq!(replay.body["id"], created.body["id"]);
}

#[tokio::test]
async fn a_failed_request_leaves_its_key_unused_and_bad_keys_are_refused() {
    let app = TestApp::new().await;
    let t = app.tenant("idem-fail").await;
    let bad = create_project(&app, &t.admin.token, "k", "").await;
    bad.expect(422, Some("validation_failed"));
    let good = create_project(&app, &t.admin.token, "k", "Fine").await;
    good.expect(201, None);
    assert!(good.header("idempotent-replayed").is_none());
    for key in ["with space", &"k".repeat(256)] {
        let r = create_project(&app, &t.admin.token, key, "X").await;
        r.expect(422, Some("validation_failed"));
        assert_eq!(r.body["errors"][0]["field"], "Idempotency-Key");
    }
    assert_eq!(projects_named(&app, t.id, "X"), 0);
}

#[tokio::test]
async fn concurrent_replays_of_one_key_make_exactly_one_change() {
    let app = TestApp::new().await;
    let t = app.tenant("idem-race").await;
    let body = json!({"name": "Raced"});
    let answers: Vec<Resp> = join_all(
        (0..16).map(|_| post_keyed(&app, "/api/v1/projects", &t.admin.token, "race", &body)),
    )
    .await;
    assert_eq!(projects_named(&app, t.id, "Raced"), 1, "exactly one change");
    assert_eq!(app.audit_count(t.id, "project.created"), 1);
    let fresh: Vec<&Resp> = answers
        .iter()
        .filter(|r| r.status == 201 && r.header("idempotent-replayed").is_none())
        .collect();
    assert_eq!(fresh.len(), 1, "one request made the change");
    for r in &answers {
        match r.status.as_u16() {
            201 => assert_eq!(r.body["id"], fresh[0].body["id"]),
            409 => assert_eq!(r.code(), "idempotency_in_progress"),
            s => panic!("unexpected {s}: {}", r.text),
        }
    }
    // Once the first has finished, every retry is a replay.
    let late = post_keyed(&app, "/api/v1/projects", &t.admin.token, "race", &body).await;
    late.expect(201, None);
    assert_eq!(late.header("idempotent-replayed"), Some("true"));
}

#[tokio::test]
async fn a_key_whose_first_request_still_runs_is_409() {
    let app = TestApp::new().await;
    let t = app.tenant("idem-busy").await;
    // Hold the key's lock from another session, as a running first request does.
    let mut holder = app.db.conn();
    advisory(&mut holder, "pg_advisory_lock", t.id, "busy");
    let r = create_project(&app, &t.admin.token, "busy", "Busy").await;
    r.expect(409, Some("idempotency_in_progress"));
    assert_eq!(projects_named(&app, t.id, "Busy"), 0);
    advisory(&mut holder, "pg_advisory_unlock", t.id, "busy");
    let r = create_project(&app, &t.admin.token, "busy", "Busy").await;
    r.expect(201, None);
}

#[tokio::test]
async fn an_approval_replayed_debits_the_budget_once() {
    let app = TestApp::new().await;
    let t = app.tenant("idem-approve").await;
    let member = app.user(&t, "member").await;
    let today = chrono::Utc::now().date_naive();
    let period = today.format("%Y-%m").to_string();
    app.post(
        "/api/v1/budgets",
        &t.admin.token,
        json!({"category": "travel", "period": period, "amount_cents": 10_000}),
    )
    .await
    .expect(201, None);
    let e = app
        .post("/api/v1/expenses", &member.token, json!({"category": "travel", "amount_cents": 700, "description": "taxi", "incurred_on": today.to_string()}))
        .await;
    e.expect(201, None);
    let id = e.id();
    app.post(
        &format!("/api/v1/expenses/{id}/submit"),
        &member.token,
        json!({"version": 1}),
    )
    .await
    .expect(200, None);
    let path = format!("/api/v1/expenses/{id}/approve");
    let version = json!({"version": 2});
    let answers: Vec<Resp> =
        join_all((0..4).map(|_| post_keyed(&app, &path, &t.admin.token, "approve-1", &version)))
            .await;
    let spent = app.db.scalar(&format!(
        "SELECT spent_cents FROM budgets WHERE tenant_id = '{}'",
        t.id
    ));
    assert_eq!(spent, 700, "debited once");
    assert_eq!(app.audit_count(t.id, "expense.approved"), 1);
    for r in &answers {
        assert!(
            (r.status == 200 && r.body["status"] == "approved")
                || r.code() == "idempotency_in_progress",
            "{}",
            r.text
        );
    }
    let replay = post_keyed(
        &app,
        &path,
        &t.admin.token,
        "approve-1",
        &json!({"version": 2}),
    )
    .await;
    replay.expect(200, None);
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(replay.header("etag"), Some("\"3\""));
}

#[tokio::test]
async fn optimize_removes_expired_keys_and_an_expired_key_is_new_again() {
    let app = TestApp::new().await;
    let t = app.tenant("idem-expire").await;
    let body = json!({"name": "Old"});
    post_keyed(&app, "/api/v1/projects", &t.admin.token, "old", &body)
        .await
        .expect(201, None);
    create_project(&app, &t.admin.token, "fresh", "New")
        .await
        .expect(201, None);
    expire_key(&app, t.id, "old");
    // Expired but not yet removed: no longer answered from the store.
    let again = post_keyed(&app, "/api/v1/projects", &t.admin.token, "old", &body).await;
    again.expect(201, None);
    assert!(again.header("idempotent-replayed").is_none());
    assert_eq!(projects_named(&app, t.id, "Old"), 2);

    expire_key(&app, t.id, "old");
    let r = app
        .post("/utils/db/optimize", &app.platform_token(), json!({}))
        .await;
    r.expect(200, None);
    let step = r.body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == "delete_expired_idempotency_keys")
        .expect("the step")
        .clone();
    assert_eq!(step["ok"], true, "{step}");
    let keys = |key: &str| {
        app.db.scalar(&format!(
            "SELECT count(*) FROM idempotency_keys WHERE tenant_id = '{}' AND key = '{key}'",
            t.id
        ))
    };
    assert_eq!(keys("old"), 0, "expired key removed");
    assert_eq!(keys("fresh"), 1, "a live key is kept");
}
