//! `/utils/db/*` (docs/API.md §10): platform admins only; maintenance runs on allow-listed
//! tables only.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tenantry::app::App;
use tenantry::db::pool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::harness::{JWT_SECRET, Resp, TestApp, test_config};

/// Every route with a body that makes it succeed.
fn routes(tenant: Uuid) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/utils/db/health".into(), None),
        (Method::GET, "/utils/db/stats".into(), None),
        (Method::POST, "/utils/db/optimize".into(), None),
        (
            Method::POST,
            "/utils/db/vacuum".into(),
            Some(json!({"table": "users"})),
        ),
        (
            Method::POST,
            "/utils/db/reindex".into(),
            Some(json!({"table": "users"})),
        ),
        (
            Method::GET,
            format!("/utils/db/tenant/{tenant}/performance"),
            None,
        ),
    ]
}

fn vacuums_of(app: &TestApp, table: &str) -> i64 {
    app.db.scalar(&format!(
        "SELECT coalesce(sum(vacuum_count), 0) FROM pg_stat_user_tables WHERE relname = '{table}'"
    ))
}

fn index_oid(app: &TestApp, index: &str) -> i64 {
    app.db
        .scalar(&format!("SELECT '{index}'::regclass::oid::bigint"))
}

fn steps(r: &Resp) -> Vec<Value> {
    r.body["steps"].as_array().expect("steps").clone()
}

#[tokio::test]
async fn only_platform_admins_get_in() {
    // Runs every maintenance call: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let t = app.tenant("udb-auth").await;
    let platform = app.platform_token();
    for (method, path, body) in routes(t.id) {
        app.call(method.clone(), &path, None, body.clone())
            .await
            .expect(401, Some("unauthorized"));
        app.call(method.clone(), &path, Some(&t.admin.token), body.clone())
            .await
            .expect(403, Some("forbidden"));
        let r = app.call(method.clone(), &path, Some(&platform), body).await;
        r.expect(200, None);
        if method == Method::POST {
            for s in steps(&r) {
                assert_eq!(s["ok"], true, "{path}: {s}");
                assert!(s["name"].is_string() && s["detail"].is_string());
                assert!(s["duration_ms"].as_f64().is_some_and(|d| d >= 0.0));
            }
            assert!(!steps(&r).is_empty(), "{path}");
        }
    }
}

#[tokio::test]
async fn health_and_stats_describe_the_database_and_pool() {
    // Whole-database maintenance: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let platform = app.platform_token();
    let h = app.get("/utils/db/health", &platform).await;
    h.expect(200, None);
    assert_eq!(h.body["status"], "ok");
    assert_eq!(h.body["database"]["connected"], true);
    assert!(
        h.body["database"]["latency_ms"]
            .as_f64()
            .is_some_and(|l| l >= 0.0)
    );
    assert!(
        h.body["database"]["server_version"]
            .as_str()
            .is_some_and(|v| v.starts_with(char::is_numeric)),
        "{}",
        h.text
    );
    assert_eq!(h.body["pool"]["max_size"], 8);
    assert!(
        h.body["pool"]["connections"]
            .as_u64()
            .is_some_and(|c| c >= 1)
    );
    assert!(h.body["pool"]["idle"].is_u64());

    let s = app.get("/utils/db/stats", &platform).await;
    s.expect(200, None);
    assert!(s.body["database_bytes"].as_i64().is_some_and(|b| b > 0));
    let tables = s.body["tables"].as_array().expect("tables");
    let users = tables
        .iter()
        .find(|t| t["name"] == "users")
        .expect("users listed");
    for field in [
        "rows_estimate",
        "total_bytes",
        "index_bytes",
        "seq_scans",
        "index_scans",
    ] {
        assert!(users[field].is_i64(), "{field}: {users}");
    }
    assert!(users["total_bytes"].as_i64() > Some(0));
    for name in ["tenants", "items", "audit_logs_default", "tenant_metrics"] {
        assert!(tables.iter().any(|t| t["name"] == name), "{name}");
    }
    let indexes = s.body["indexes"].as_array().expect("indexes");
    let search = indexes
        .iter()
        .find(|i| i["name"] == "items_tenant_search_idx")
        .expect("search index listed");
    assert_eq!(search["table"], "items");
    assert!(search["scans"].is_i64() && search["bytes"].as_i64() > Some(0));
    assert_eq!(s.body["pool"]["max_size"], 8);
    if crate::harness::citus() {
        // The shards, not the coordinator's empty shell: 32 shards of users, each with
        // at least its heap and index pages, on the workers.
        let shell = app.db.scalar("SELECT pg_total_relation_size('users')");
        let shards = app.db.scalar("SELECT citus_total_relation_size('users')");
        assert!(shards > 32 * 8192, "{shards}");
        assert_eq!(
            users["total_bytes"].as_i64(),
            Some(shards),
            "shell: {shell}"
        );
        assert!(
            search["bytes"].as_i64() > Some(32 * 8192),
            "the search index's shards: {search}"
        );
    }
}

#[tokio::test]
async fn health_answers_503_with_the_same_shape_when_the_database_is_gone() {
    // A pool pointing at a port nobody listens on.
    let config = test_config(
        "postgres://nobody:nothing@127.0.0.1:1/none",
        &[("DB_ACQUIRE_TIMEOUT_MS", "300")],
    );
    let pool = pool::build(
        "postgres://nobody:nothing@127.0.0.1:1/none",
        &pool::PoolOptions {
            max_size: 2,
            acquire_timeout: Duration::from_millis(300),
            statement_timeout: Duration::from_secs(1),
            slow_query: Duration::from_secs(1),
        },
    );
    let state = App::new(config, pool, JWT_SECRET);
    let token = state
        .jwt
        .issue_platform_admin("test-operator", 60)
        .expect("token");
    let router = tenantry::router(state);
    let started = std::time::Instant::now();
    let res = router
        .oneshot(
            Request::builder()
                .uri("/utils/db/health")
                .header("authorization", format!("Bearer {token}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert!(started.elapsed() < Duration::from_secs(5), "never a hang");
    assert_eq!(res.status(), 503);
    let body: Value =
        serde_json::from_slice(&res.into_body().collect().await.expect("body").to_bytes())
            .expect("json");
    assert_eq!(body["status"], "error");
    assert_eq!(body["database"]["connected"], false);
    assert!(body["database"]["latency_ms"].is_null());
    assert!(body["database"]["server_version"].is_null());
    assert_eq!(body["pool"]["max_size"], 2);
}

#[tokio::test]
async fn names_outside_the_allow_list_are_refused_and_run_nothing() {
    // Whole-database maintenance: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let platform = app.platform_token();
    let pkey_before = index_oid(&app, "users_pkey");
    for path in ["/utils/db/vacuum", "/utils/db/reindex"] {
        for name in [
            "users; DROP TABLE users",
            "\"users\"",
            "Users",
            "users ",
            "pg_class",
            "login_throttles",
            "__diesel_schema_migrations",
            "",
        ] {
            let r = app.post(path, &platform, json!({"table": name})).await;
            r.expect(422, Some("validation_failed"));
            assert_eq!(r.body["errors"][0]["field"], "table");
            assert!(!r.text.contains("DROP"), "input not echoed");
        }
        // Wrong shapes are refused too.
        app.post(path, &platform, json!({"table": ["users"]}))
            .await
            .expect(422, Some("validation_failed"));
        app.post(path, &platform, json!({"table": "users", "full": true}))
            .await
            .expect(422, Some("validation_failed"));
    }
    assert_eq!(vacuums_of(&app, "users"), 0, "no VACUUM ran");
    assert_eq!(index_oid(&app, "users_pkey"), pkey_before, "no REINDEX ran");
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM pg_class WHERE relname = 'users'"),
        1
    );

    // The same routes do run for an allow-listed name.
    let r = app
        .post(
            "/utils/db/vacuum",
            &platform,
            json!({"table": "users", "analyze": false}),
        )
        .await;
    r.expect(200, None);
    assert_eq!(steps(&r).len(), 1);
    assert_eq!(steps(&r)[0]["name"], "vacuum users");
    assert_eq!(vacuums_of(&app, "users"), 1);
    app.post("/utils/db/reindex", &platform, json!({"table": "users"}))
        .await
        .expect(200, None);
    assert_ne!(index_oid(&app, "users_pkey"), pkey_before, "rebuilt");
}

#[tokio::test]
async fn vacuum_and_reindex_cover_every_existing_own_table() {
    // Whole-database maintenance: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let platform = app.platform_token();
    let t = app.tenant("udb-all").await;
    app.post("/api/v1/items", &t.admin.token, json!({"title": "x"}))
        .await
        .expect(201, None);

    // No body at all: every table, with ANALYZE.
    let r = app
        .call(Method::POST, "/utils/db/vacuum", Some(&platform), None)
        .await;
    r.expect(200, None);
    let names: Vec<String> = steps(&r)
        .iter()
        .map(|s| s["name"].as_str().unwrap_or("").to_string())
        .collect();
    for table in ["tenants", "users", "items", "audit_logs", "tenant_metrics"] {
        assert!(names.contains(&format!("vacuum {table}")), "{names:?}");
    }
    assert!(steps(&r).iter().all(|s| s["ok"] == true), "{}", r.text);
    assert_eq!(vacuums_of(&app, "items"), 1);
    assert!(
        app.db.scalar(
            "SELECT coalesce(sum(analyze_count), 0) FROM pg_stat_user_tables WHERE relname = 'items'"
        ) >= 1
    );
    // Partitions of audit_logs are vacuumed through their parent.
    assert!(vacuums_of(&app, "audit_logs_default") >= 1);

    let r = app.post("/utils/db/reindex", &platform, json!({})).await;
    r.expect(200, None);
    assert!(steps(&r).iter().all(|s| s["ok"] == true), "{}", r.text);
    assert!(steps(&r).iter().any(|s| s["name"] == "reindex audit_logs"));

    // A name on the allow-list answers 200 whether or not this schema has the table yet.
    let r = app
        .post("/utils/db/vacuum", &platform, json!({"table": "projects"}))
        .await;
    r.expect(200, None);
    assert_eq!(steps(&r).len(), 1);
    assert_eq!(steps(&r)[0]["ok"], true);
    // A body sent without Content-Type is still refused.
    let raw = app
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/utils/db/reindex")
                .header("authorization", format!("Bearer {platform}"))
                .body(Body::from("{}"))
                .expect("request"),
        )
        .await;
    raw.expect(415, Some("unsupported_media_type"));
}

#[tokio::test]
async fn optimize_recreates_missing_partitions_and_clears_expired_throttles() {
    // Whole-database maintenance: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let platform = app.platform_token();
    let next_month = "'audit_logs_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') \
                      + interval '1 month', 'YYYY_MM')";
    app.db.exec(&format!(
        "DO $$ BEGIN EXECUTE format('DROP TABLE %I', {next_month}); END $$"
    ));
    let exists = format!("SELECT count(*) FROM pg_class WHERE relname = {next_month}");
    assert_eq!(app.db.scalar(&exists), 0);
    app.db.exec(
        "INSERT INTO login_throttles VALUES \
         ('old', 'a@b.co', 5, now() - interval '10 minutes'), \
         ('new', 'a@b.co', 2, now() - interval '1 minute')",
    );

    let r = app.post("/utils/db/optimize", &platform, json!({})).await;
    r.expect(200, None);
    let names: Vec<&str> = r.body["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|s| s["name"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "ensure_audit_partitions",
            "delete_expired_login_throttles",
            "delete_expired_idempotency_keys",
            "analyze",
            "refresh_tenant_metrics"
        ]
    );
    assert!(
        r.body["steps"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("audit_logs_")),
        "{}",
        r.text
    );
    assert_eq!(app.db.scalar(&exists), 1, "next month's partition is back");
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM login_throttles WHERE tenant_code = 'old'"),
        0
    );
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM login_throttles WHERE tenant_code = 'new'"),
        1,
        "a live window is kept"
    );
    // Again: nothing is missing now.
    let r = app.post("/utils/db/optimize", &platform, json!({})).await;
    r.expect(200, None);
    assert_eq!(r.body["steps"][0]["detail"], "all partitions present");
}

#[tokio::test]
async fn tenant_performance_counts_the_tenants_own_rows() {
    let app = TestApp::new().await;
    let platform = app.platform_token();
    let a = app.tenant("perf-a").await;
    let b = app.tenant("perf-b").await;
    for _ in 0..2 {
        app.user_via_api(&a, "member").await;
    }
    for i in 0..3 {
        app.post(
            "/api/v1/items",
            &a.admin.token,
            json!({"title": format!("a{i}")}),
        )
        .await
        .expect(201, None);
    }
    app.post("/api/v1/items", &b.admin.token, json!({"title": "b"}))
        .await
        .expect(201, None);

    let r = app
        .get(&format!("/utils/db/tenant/{}/performance", a.id), &platform)
        .await;
    r.expect(200, None);
    assert_eq!(r.body["tenant_id"], a.id.to_string());
    let audit_rows = app.db.scalar(&format!(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}'",
        a.id
    ));
    assert_eq!(audit_rows, 5, "2 users + 3 items");
    assert_eq!(
        r.body["counts"],
        json!({"users": 3, "projects": 0, "tasks": 0, "items": 3, "expenses": 0, "audit_logs": audit_rows})
    );
    assert_eq!(r.body["audit_logs_24h"], audit_rows);
    assert!(
        r.body["storage_mb"]
            .as_f64()
            .is_some_and(|mb| mb > 0.0 && mb < 1.0)
    );
    let largest = r.body["largest_tables"].as_array().expect("largest_tables");
    let bytes: Vec<i64> = largest
        .iter()
        .map(|t| t["bytes"].as_i64().unwrap_or(-1))
        .collect();
    assert!(
        bytes.windows(2).all(|w| w[0] >= w[1]),
        "largest first: {bytes:?}"
    );
    let items = largest
        .iter()
        .find(|t| t["table"] == "items")
        .expect("items");
    assert_eq!(items["rows"], 3);
    assert!(items["bytes"].as_i64() > Some(0));

    // Audit rows older than a day count in total but not in the last 24 hours.
    app.db.exec(&format!(
        "UPDATE audit_logs SET \"timestamp\" = now() - interval '2 days' \
         WHERE tenant_id = '{}' AND action = 'user.created'",
        a.id
    ));
    let r = app
        .get(&format!("/utils/db/tenant/{}/performance", a.id), &platform)
        .await;
    assert_eq!(r.body["audit_logs_24h"], 3);
    assert_eq!(r.body["counts"]["audit_logs"], 5);

    let r = app
        .get(&format!("/utils/db/tenant/{}/performance", b.id), &platform)
        .await;
    assert_eq!(r.body["counts"]["users"], 1);
    assert_eq!(r.body["counts"]["items"], 1);

    app.get(
        &format!("/utils/db/tenant/{}/performance", Uuid::now_v7()),
        &platform,
    )
    .await
    .expect(404, Some("not_found"));
    app.get("/utils/db/tenant/nope/performance", &platform)
        .await
        .expect(400, Some("invalid_id"));
}

#[test]
fn maintenance_stays_inside_its_time_budget_and_restores_the_session() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use tenantry::ops::Runner;

    let db = crate::harness::TestDb::new();
    let mut conn = db.conn();
    conn.batch_execute("SET statement_timeout = '7s'")
        .expect("set");
    let started = std::time::Instant::now();
    let mut run = Runner::new(&mut conn, Some(Duration::from_millis(300))).expect("runner");
    run.step("sleepy", |conn| {
        diesel::sql_query("SELECT pg_sleep(3)").execute(conn)?;
        Ok("slept".into())
    })
    .expect("not a lost database");
    run.step("quick", |conn| {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok("done".into())
    })
    .expect("step");
    let steps = run.finish().expect("finish");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the statement was cut off"
    );
    assert!(!steps[0].ok);
    assert!(
        steps[0].detail.contains("statement timeout"),
        "{:?}",
        steps[0]
    );
    assert!(steps[1].detail.starts_with("skipped"), "{:?}", steps[1]);

    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let s: Setting = diesel::sql_query("SELECT current_setting('statement_timeout') AS value")
        .get_result(&mut conn)
        .expect("setting");
    assert_eq!(s.value, "7s", "the pool's timeout is back");

    // Without a budget nothing is skipped and the timeout is left alone.
    let mut run = Runner::new(&mut conn, None).expect("runner");
    run.step("quick", |conn| {
        diesel::sql_query("SELECT 1").execute(conn)?;
        Ok("done".into())
    })
    .expect("step");
    assert!(run.finish().expect("finish")[0].ok);
}
