//! One tenant cannot take the whole pool (docs/API.md §10, `TENANT_POOL_SHARE`).

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use serde_json::json;

use crate::harness::TestApp;

/// Statements waiting on a lock in an `INSERT` (the blocked task creates).
fn insert_lock_waits(url: &str) -> i64 {
    crate::harness::scalar_at(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT%'",
    )
}

/// Polls (yielding to the runtime, for up to 4 s) until `n` inserts wait on a lock;
/// returns the last count seen.
async fn wait_for_insert_lock_waits(url: &str, n: i64) -> i64 {
    let mut blocked = 0;
    for _ in 0..200 {
        let url = url.to_string();
        blocked = tokio::task::spawn_blocking(move || insert_lock_waits(&url))
            .await
            .expect("poll");
        if blocked >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    blocked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_saturating_its_share_leaves_others_served() {
    crate::skip_on_citus!(
        "the test sees the blocked requests as Lock waits in the coordinator's pg_stat_activity; \
         on Citus a statement waiting on a worker's lock is not one. The share is enforced in \
         the server before any SQL runs, the same code on either"
    );
    let app = Arc::new(
        TestApp::with_env(&[
            ("DB_POOL_SIZE", "8"),
            ("TENANT_POOL_SHARE", "0.5"),
            ("DB_ACQUIRE_TIMEOUT_MS", "8000"),
        ])
        .await,
    );
    let greedy = app.tenant("greedy").await;
    let other = app.tenant("other").await;
    let project = app
        .post(
            "/api/v1/projects",
            &greedy.admin.token,
            json!({"name": "P"}),
        )
        .await;
    project.expect(201, None);
    let project = project.id();
    // Warm the principal cache of both.
    app.get("/api/v1/users/me", &greedy.admin.token)
        .await
        .expect(200, None);
    app.get("/api/v1/users/me", &other.admin.token)
        .await
        .expect(200, None);

    // Every task create of the greedy tenant waits on this lock, holding a connection.
    let mut blocker = app.db.conn();
    blocker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM projects WHERE id = '{project}' FOR UPDATE"
        ))
        .expect("lock");
    let mut greedy_requests = Vec::new();
    for i in 0..12 {
        let (app, token) = (app.clone(), greedy.admin.token.clone());
        greedy_requests.push(tokio::spawn(async move {
            app.post(
                &format!("/api/v1/projects/{project}/tasks"),
                &token,
                json!({"title": format!("t{i}")}),
            )
            .await
            .status
            .as_u16()
        }));
    }
    // Until the greedy tenant holds everything it can.
    let blocked = wait_for_insert_lock_waits(&app.db.url, 4).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        insert_lock_waits(&app.db.url),
        4,
        "the greedy tenant holds exactly its share (saw {blocked} while waiting)"
    );
    // The other tenant is served, reads and writes, while the greedy one waits.
    for i in 0..10 {
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            app.get("/api/v1/projects", &other.admin.token),
        )
        .await
        .expect("served while the other tenant saturates its share");
        r.expect(200, None);
        let r = app
            .post(
                "/api/v1/projects",
                &other.admin.token,
                json!({"name": format!("o{i}")}),
            )
            .await;
        r.expect(201, None);
    }
    blocker.batch_execute("COMMIT").expect("release");
    for r in greedy_requests {
        assert_eq!(
            r.await.expect("task"),
            201,
            "the greedy tenant's waits end well"
        );
    }
}

/// A read that cannot finish within `STATEMENT_TIMEOUT_MS` is cut off by the database
/// and answers 503 at once, instead of holding its connection for the whole request.
#[tokio::test]
async fn a_read_past_the_statement_timeout_is_cancelled_and_503() {
    let app = TestApp::with_env(&[
        ("STATEMENT_TIMEOUT_MS", "300"),
        ("REQUEST_TIMEOUT_MS", "20000"),
    ])
    .await;
    let t = app.tenant("slowread").await;
    app.get("/api/v1/projects", &t.admin.token)
        .await
        .expect(200, None);
    let mut blocker = app.db.conn();
    blocker
        .batch_execute("BEGIN; LOCK TABLE projects IN ACCESS EXCLUSIVE MODE")
        .expect("lock");
    let started = std::time::Instant::now();
    let r = app.get("/api/v1/projects", &t.admin.token).await;
    r.expect(503, Some("database_unavailable"));
    assert!(r.header("retry-after").is_some());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "answered after {:?}",
        started.elapsed()
    );
    blocker.batch_execute("ROLLBACK").expect("release");
    // The connection is fine afterwards.
    app.get("/api/v1/projects", &t.admin.token)
        .await
        .expect(200, None);
}
