//! Tasks: CRUD, optimistic locking, concurrency, filters, sorts and pagination (docs/API.md §5).

use std::collections::HashSet;

use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Resp, TenantFixture, TestApp};

async fn project(app: &TestApp, t: &TenantFixture) -> Uuid {
    let r = app
        .post("/api/v1/projects", &t.admin.token, json!({"name": "P"}))
        .await;
    r.expect(201, None);
    r.id()
}

async fn task(app: &TestApp, t: &TenantFixture, project: Uuid, body: Value) -> Resp {
    app.post(
        &format!("/api/v1/projects/{project}/tasks"),
        &t.admin.token,
        body,
    )
    .await
}

async fn patch_if_match(app: &TestApp, token: &str, id: Uuid, if_match: &str, body: Value) -> Resp {
    app.send(
        axum::http::Request::builder()
            .method("PATCH")
            .uri(format!("/api/v1/tasks/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("if-match", if_match)
            .body(axum::body::Body::from(body.to_string()))
            .expect("request"),
    )
    .await
}

#[tokio::test]
async fn task_lifecycle_with_etags_and_completion() {
    let app = TestApp::new().await;
    let t = app.tenant("life").await;
    let p = project(&app, &t).await;
    let created = task(&app, &t, p, json!({"title": "Write", "priority": 3})).await;
    created.expect(201, None);
    assert_eq!(created.header("etag"), Some("\"1\""));
    assert_eq!(created.body["version"], 1);
    assert_eq!(created.body["status"], "pending");
    assert_eq!(created.body["completed"], false);
    assert!(created.body["completed_at"].is_null());
    let id = created.id();

    let got = app
        .get(&format!("/api/v1/tasks/{id}"), &t.admin.token)
        .await;
    got.expect(200, None);
    assert_eq!(got.header("etag"), Some("\"1\""));

    let done = app
        .patch(
            &format!("/api/v1/tasks/{id}"),
            &t.admin.token,
            json!({"version": 1, "status": "completed"}),
        )
        .await;
    done.expect(200, None);
    assert_eq!(done.body["version"], 2);
    assert_eq!(done.header("etag"), Some("\"2\""));
    assert_eq!(done.body["completed"], true);
    let completed_at = done.body["completed_at"]
        .as_str()
        .expect("completed_at set")
        .to_string();
    // Staying completed keeps the time; leaving completed clears it.
    let renamed = app
        .patch(
            &format!("/api/v1/tasks/{id}"),
            &t.admin.token,
            json!({"version": 2, "title": "Written", "status": "completed"}),
        )
        .await;
    renamed.expect(200, None);
    assert_eq!(renamed.body["completed_at"], completed_at.as_str());
    let reopened = patch_if_match(
        &app,
        &t.admin.token,
        id,
        "\"3\"",
        json!({"status": "in_progress", "due_at": "2030-01-02T03:04:05.123456Z"}),
    )
    .await;
    reopened.expect(200, None);
    assert_eq!(reopened.body["completed"], false);
    assert!(reopened.body["completed_at"].is_null());
    assert_eq!(
        reopened.body["due_at"], "2030-01-02T03:04:05.123456Z",
        "microseconds kept"
    );
    assert_eq!(reopened.body["version"], 4);
    // Clearing nullable fields with null.
    let cleared = app
        .patch(
            &format!("/api/v1/tasks/{id}"),
            &t.admin.token,
            json!({"version": 4, "due_at": null, "description": null}),
        )
        .await;
    cleared.expect(200, None);
    assert!(cleared.body["due_at"].is_null());

    assert_eq!(app.audit_count(t.id, "task.created"), 1);
    assert_eq!(app.audit_count(t.id, "task.updated"), 4);
    app.delete(&format!("/api/v1/tasks/{id}"), &t.admin.token)
        .await
        .expect(204, None);
    app.get(&format!("/api/v1/tasks/{id}"), &t.admin.token)
        .await
        .expect(404, Some("not_found"));
    assert_eq!(app.audit_count(t.id, "task.deleted"), 1);
}

#[tokio::test]
async fn optimistic_locking_errors() {
    let app = TestApp::new().await;
    let t = app.tenant("lock").await;
    let p = project(&app, &t).await;
    let id = task(&app, &t, p, json!({"title": "x"})).await.id();
    let path = format!("/api/v1/tasks/{id}");
    app.patch(&path, &t.admin.token, json!({"title": "no version"}))
        .await
        .expect(428, Some("precondition_required"));
    app.patch(&path, &t.admin.token, json!({"version": 1, "title": "v2"}))
        .await
        .expect(200, None);
    let stale = app
        .patch(
            &path,
            &t.admin.token,
            json!({"version": 1, "title": "stale"}),
        )
        .await;
    stale.expect(409, Some("version_conflict"));
    assert_eq!(stale.body["current_version"], 2);
    let stale = patch_if_match(&app, &t.admin.token, id, "\"1\"", json!({"title": "stale"})).await;
    stale.expect(412, Some("precondition_failed"));
    assert_eq!(stale.body["current_version"], 2);
    patch_if_match(
        &app,
        &t.admin.token,
        id,
        "W/\"2\"",
        json!({"title": "weak ok"}),
    )
    .await
    .expect(200, None);
    patch_if_match(&app, &t.admin.token, id, "garbage", json!({"title": "x"}))
        .await
        .expect(412, Some("precondition_failed"));
    app.patch(&path, &t.admin.token, json!({"version": 3}))
        .await
        .expect(422, Some("validation_failed"));
    app.patch(&path, &t.admin.token, json!({"version": 3, "priority": 11}))
        .await
        .expect(422, Some("validation_failed"));
    app.patch(
        &path,
        &t.admin.token,
        json!({"version": 3, "status": "done"}),
    )
    .await
    .expect(422, Some("validation_failed"));
    app.patch(&path, &t.admin.token, json!({"version": 3, "title": null}))
        .await
        .expect(422, Some("validation_failed"));
    let current = app.get(&path, &t.admin.token).await;
    assert_eq!(current.body["version"], 3);
    assert_eq!(
        current.body["title"], "weak ok",
        "failed updates changed nothing"
    );
    assert_eq!(app.audit_count(t.id, "task.updated"), 2);

    // Delete with a stale If-Match is refused; with the right one it goes.
    let del = |tag: &'static str| {
        app.send(
            axum::http::Request::builder()
                .method("DELETE")
                .uri(&path)
                .header("authorization", format!("Bearer {}", t.admin.token))
                .header("if-match", tag)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
    };
    del("\"2\"").await.expect(412, Some("precondition_failed"));
    del("\"3\"").await.expect(204, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_32_concurrent_updates_of_one_version_exactly_one_wins() {
    let app = TestApp::with_env(&[("DB_POOL_SIZE", "16")]).await;
    let t = app.tenant("race32").await;
    let p = project(&app, &t).await;
    let id = task(&app, &t, p, json!({"title": "contended"})).await.id();
    let path = format!("/api/v1/tasks/{id}");
    let calls = (0..32).map(|i| {
        app.patch(
            &path,
            &t.admin.token,
            json!({"version": 1, "title": format!("writer {i}")}),
        )
    });
    let results = futures_util::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.status == 200).count();
    let conflicts: Vec<&Resp> = results.iter().filter(|r| r.status == 409).collect();
    assert_eq!((ok, conflicts.len()), (1, 31));
    assert!(
        conflicts
            .iter()
            .all(|r| r.code() == "version_conflict" && r.body["current_version"] == 2)
    );
    assert_eq!(app.get(&path, &t.admin.token).await.body["version"], 2);
    assert_eq!(app.audit_count(t.id, "task.updated"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_modify_write_with_retries_loses_no_update() {
    let app = TestApp::with_env(&[("DB_POOL_SIZE", "16")]).await;
    let t = app.tenant("rmw").await;
    let p = project(&app, &t).await;
    let id = task(&app, &t, p, json!({"title": "counter", "description": "0"}))
        .await
        .id();
    let path = format!("/api/v1/tasks/{id}");
    const CLIENTS: usize = 16;
    const WRITES_EACH: usize = 3;
    let client = |_: usize| async {
        let mut conflicts = 0;
        for _ in 0..WRITES_EACH {
            loop {
                let cur = app.get(&path, &t.admin.token).await;
                let n: u64 = cur.body["description"]
                    .as_str()
                    .expect("counter")
                    .parse()
                    .expect("number");
                let v = cur.body["version"].as_i64().expect("version");
                let r = app
                    .patch(
                        &path,
                        &t.admin.token,
                        json!({"version": v, "description": (n + 1).to_string()}),
                    )
                    .await;
                match r.status.as_u16() {
                    200 => break,
                    409 => conflicts += 1,
                    s => panic!("unexpected {s}: {}", r.text),
                }
            }
        }
        conflicts
    };
    let conflicts: usize = futures_util::future::join_all((0..CLIENTS).map(client))
        .await
        .into_iter()
        .sum();
    let last = app.get(&path, &t.admin.token).await;
    let successes = (CLIENTS * WRITES_EACH) as i64;
    assert_eq!(last.body["version"], 1 + successes);
    assert_eq!(
        last.body["description"],
        successes.to_string(),
        "every increment survived"
    );
    assert_eq!(app.audit_count(t.id, "task.updated"), successes);
    // Contention really happened (otherwise this test proves nothing about locking).
    assert!(conflicts > 0, "no conflicts observed");
}

/// The ids of every page, walking the cursor.
async fn walk(app: &TestApp, token: &str, query: &str, limit: usize) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/tasks?limit={limit}&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let r = app.get(&path, token).await;
        r.expect(200, None);
        let data = r.body["data"].as_array().expect("data");
        assert!(data.len() <= limit);
        ids.extend(
            data.iter()
                .map(|t| t["id"].as_str().expect("id").to_string()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    ids
}

#[tokio::test]
async fn pagination_walks_every_sort_in_order() {
    let app = TestApp::new().await;
    let t = app.tenant("pages").await;
    let p = project(&app, &t).await;
    for i in 0..120 {
        let mut body = json!({"title": format!("t{i}"), "priority": i % 11});
        if i % 4 != 0 {
            body["due_at"] = json!(format!("2031-01-{:02}T00:00:00Z", 1 + (i * 7) % 28));
        }
        task(&app, &t, p, body).await.expect(201, None);
    }
    let expected = |order: &str| -> Vec<String> {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
        }
        use diesel::RunQueryDsl;
        diesel::sql_query(format!(
            "SELECT id::text AS id FROM tasks WHERE tenant_id = '{}' ORDER BY {order}",
            t.id
        ))
        .load::<Id>(&mut app.db.conn())
        .expect("ids")
        .into_iter()
        .map(|r| r.id)
        .collect()
    };
    for (sort, order) in [
        ("sort=-created_at", "created_at DESC, id DESC"),
        ("sort=created_at", "created_at ASC, id ASC"),
        ("sort=due_at", "due_at ASC NULLS LAST, id ASC"),
        ("sort=-priority", "priority DESC, id DESC"),
    ] {
        let ids = walk(&app, &t.admin.token, sort, 50).await;
        assert_eq!(ids.len(), 120, "{sort}");
        assert_eq!(
            ids.iter().collect::<HashSet<_>>().len(),
            120,
            "{sort}: no duplicates"
        );
        assert_eq!(ids, expected(order), "{sort}");
    }
    // The default is newest first.
    assert_eq!(
        walk(&app, &t.admin.token, "", 50).await,
        expected("created_at DESC, id DESC")
    );

    app.get("/api/v1/tasks?limit=0", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    app.get("/api/v1/tasks?limit=101", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    app.get("/api/v1/tasks?sort=title", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    let first = app.get("/api/v1/tasks?limit=50", &t.admin.token).await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_string();
    let mut tampered: Vec<char> = cursor.chars().collect();
    tampered[5] = if tampered[5] == 'x' { 'y' } else { 'x' };
    let tampered: String = tampered.into_iter().collect();
    app.get(&format!("/api/v1/tasks?cursor={tampered}"), &t.admin.token)
        .await
        .expect(400, Some("invalid_cursor"));
    // A cursor of one ordering is refused by another.
    app.get(
        &format!("/api/v1/tasks?sort=-priority&cursor={cursor}"),
        &t.admin.token,
    )
    .await
    .expect(400, Some("invalid_cursor"));
}

#[tokio::test]
async fn filters_return_exactly_the_rows_built_for_them() {
    let app = TestApp::new().await;
    let t = app.tenant("filters").await;
    let bob = app.user(&t, "member").await;
    let p1 = project(&app, &t).await;
    let p2 = project(&app, &t).await;
    let mk = |p: Uuid, body: Value| {
        let app = &app;
        let t = &t;
        async move { task(app, t, p, body).await.id() }
    };
    let a = mk(p1, json!({"title": "a", "status": "completed", "priority": 9, "due_at": "2030-01-01T00:00:00Z", "assignee_id": bob.id})).await;
    let b = mk(p1, json!({"title": "b", "status": "in_progress", "priority": 5, "due_at": "2030-02-01T00:00:00Z"})).await;
    let c = mk(p2, json!({"title": "c", "priority": 1, "due_at": "2030-03-01T00:00:00Z", "assignee_id": bob.id})).await;
    let d = mk(p2, json!({"title": "d"})).await;
    let ids = |r: Resp| -> HashSet<Uuid> {
        r.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|t| Uuid::parse_str(t["id"].as_str().expect("id")).expect("uuid"))
            .collect()
    };
    let q = |query: String| {
        let app = &app;
        let token = t.admin.token.clone();
        async move { app.get(&format!("/api/v1/tasks?{query}"), &token).await }
    };
    let set = |v: &[Uuid]| v.iter().copied().collect::<HashSet<_>>();
    assert_eq!(ids(q(format!("project_id={p1}")).await), set(&[a, b]));
    assert_eq!(
        ids(app
            .get(&format!("/api/v1/projects/{p2}/tasks"), &t.admin.token)
            .await),
        set(&[c, d])
    );
    assert_eq!(ids(q("status=completed".into()).await), set(&[a]));
    assert_eq!(ids(q("status=pending".into()).await), set(&[c, d]));
    assert_eq!(
        ids(q(format!("assignee_id={}", bob.id)).await),
        set(&[a, c])
    );
    assert_eq!(ids(q("priority_gte=5".into()).await), set(&[a, b]));
    assert_eq!(
        ids(q("due_before=2030-02-01T00:00:00Z".into()).await),
        set(&[a]),
        "due_before is exclusive"
    );
    assert_eq!(
        ids(q("due_after=2030-02-01T00:00:00Z".into()).await),
        set(&[b, c]),
        "due_after is inclusive"
    );
    assert_eq!(
        ids(q(format!("project_id={p1}&priority_gte=6&status=completed")).await),
        set(&[a])
    );
    q("status=done".into())
        .await
        .expect(422, Some("validation_failed"));
    q("priority_gte=high".into())
        .await
        .expect(400, Some("invalid_query"));
    q("due_before=tomorrow".into())
        .await
        .expect(400, Some("invalid_query"));
    q("project_id=nope".into())
        .await
        .expect(400, Some("invalid_query"));
    let sorted = q("sort=-priority".into()).await;
    let order: Vec<i64> = sorted.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|t| t["priority"].as_i64().expect("p"))
        .collect();
    assert_eq!(order, [9, 5, 1, 0]);
}

#[tokio::test]
async fn roles_gate_task_writes() {
    let app = TestApp::new().await;
    let t = app.tenant("task-roles").await;
    let viewer = app.user(&t, "viewer").await;
    let member = app.user(&t, "member").await;
    let p = project(&app, &t).await;
    let id = task(&app, &t, p, json!({"title": "x"})).await.id();
    app.post(
        &format!("/api/v1/projects/{p}/tasks"),
        &viewer.token,
        json!({"title": "v"}),
    )
    .await
    .expect(403, Some("forbidden"));
    app.patch(
        &format!("/api/v1/tasks/{id}"),
        &viewer.token,
        json!({"version": 1, "title": "v"}),
    )
    .await
    .expect(403, Some("forbidden"));
    app.delete(&format!("/api/v1/tasks/{id}"), &viewer.token)
        .await
        .expect(403, Some("forbidden"));
    app.get(&format!("/api/v1/tasks/{id}"), &viewer.token)
        .await
        .expect(200, None);
    app.patch(
        &format!("/api/v1/tasks/{id}"),
        &member.token,
        json!({"version": 1, "title": "m"}),
    )
    .await
    .expect(200, None);
    let bad = task(
        &app,
        &t,
        p,
        json!({"title": "", "priority": -1, "description": "x".repeat(10_001)}),
    )
    .await;
    bad.expect(422, Some("validation_failed"));
    assert_eq!(bad.body["errors"].as_array().map(Vec::len), Some(3));
}
