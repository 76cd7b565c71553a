//! Tenant metrics (docs/API.md §9): the set-based refresh, `tenantry metrics refresh`, and
//! `GET /api/v1/tenant/metrics`.

use chrono::{Duration, Utc};
use serde_json::json;
use uuid::Uuid;

use crate::harness::{JWT_SECRET, TenantFixture, TestApp};

const TODAY: &str = "(now() AT TIME ZONE 'UTC')::date";

fn measure(app: &TestApp, tenant: Uuid, column: &str) -> i64 {
    app.db.scalar(&format!(
        "SELECT {column} FROM tenant_metrics WHERE tenant_id = '{tenant}' AND date = {TODAY}"
    ))
}

#[tokio::test]
async fn refresh_counts_each_tenant_and_upserts_one_row_per_day() {
    // Counts every tenant of the database: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let a = app.tenant("met-a").await;
    let b = app.tenant("met-b").await;
    let recent = app.user(&a, "member").await;
    let stale = app.user(&a, "viewer").await;
    for i in 0..4 {
        app.post(
            "/api/v1/items",
            &a.admin.token,
            json!({"title": format!("i{i}"), "description": "x".repeat(1500)}),
        )
        .await
        .expect(201, None);
    }
    app.post("/api/v1/items", &b.admin.token, json!({"title": "b"}))
        .await
        .expect(201, None);
    app.db.exec(&format!(
        "UPDATE users SET last_login_at = now() - interval '2 days' WHERE id = '{}';
         UPDATE users SET last_login_at = now() - interval '40 days' WHERE id = '{}';",
        recent.id, stale.id
    ));

    // Through the API (optimize) and then directly, as the CLI does: same day, same rows.
    app.post("/utils/db/optimize", &app.platform_token(), json!({}))
        .await
        .expect(200, None);
    let refreshed = tenantry::ops::metrics::refresh(&mut app.db.conn()).expect("refresh");
    let rows = format!(
        "SELECT count(*) FROM tenant_metrics WHERE tenant_id IN ('{}', '{}')",
        a.id, b.id
    );
    assert_eq!(refreshed, 2, "one row per tenant");
    assert_eq!(app.db.scalar(&rows), 2);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(DISTINCT tenant_id) FROM tenant_metrics WHERE date = {TODAY}"
        )),
        2
    );

    let audit_a = app.db.scalar(&format!(
        "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}'",
        a.id
    ));
    assert_eq!(measure(&app, a.id, "user_count"), 3);
    assert_eq!(
        measure(&app, a.id, "active_users"),
        1,
        "logged in within 30 days"
    );
    assert_eq!(measure(&app, a.id, "item_count"), 4);
    assert_eq!(measure(&app, a.id, "audit_log_count"), audit_a);
    assert_eq!(measure(&app, b.id, "user_count"), 1);
    assert_eq!(measure(&app, b.id, "active_users"), 0);
    assert_eq!(measure(&app, b.id, "item_count"), 1);
    assert_eq!(measure(&app, b.id, "audit_log_count"), 1);
    for column in ["project_count", "task_count", "expense_count"] {
        assert_eq!(measure(&app, a.id, column), 0, "{column}");
    }
    // Storage: A holds 6 kB of (uncompressed, inline) descriptions alone, B far less.
    let kb = |t: Uuid| measure(&app, t, "(storage_used_mb * 1000)::bigint");
    assert!(kb(a.id) >= 6, "{}", kb(a.id));
    assert!(kb(a.id) > kb(b.id));

    // A later refresh the same day overwrites the day's row.
    app.post("/api/v1/items", &b.admin.token, json!({"title": "b2"}))
        .await
        .expect(201, None);
    tenantry::ops::metrics::refresh(&mut app.db.conn()).expect("refresh");
    assert_eq!(app.db.scalar(&rows), 2);
    assert_eq!(measure(&app, b.id, "item_count"), 2);
    assert_eq!(measure(&app, b.id, "audit_log_count"), 2);

    // Deleting a tenant takes its metrics with it.
    app.delete(&format!("/api/v1/tenants/{}", b.id), &app.platform_token())
        .await
        .expect(204, None);
    assert_eq!(app.db.scalar(&rows), 1);
}

#[tokio::test]
async fn the_cli_refreshes_metrics() {
    // Refreshes every tenant: a database of its own, also on Citus.
    let app = TestApp::own().await;
    let t = app.tenant("met-cli").await;
    let url = app.db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
            .args(["metrics", "refresh"])
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", JWT_SECRET)
            .env("RUST_LOG", "warn")
            .output()
    })
    .await
    .expect("join")
    .expect("run tenantry");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 tenants"));
    assert_eq!(measure(&app, t.id, "user_count"), 1);
}

/// Metrics rows of tenant A on days 0, 5, 29, 30 and 40 before today (user counts 10,
/// 9, 8, 7, 6), and one of tenant B today (99).
async fn metric_days() -> (TestApp, TenantFixture, TenantFixture) {
    let app = TestApp::new().await;
    let a = app.tenant("met-read-a").await;
    let b = app.tenant("met-read-b").await;
    for (tenant, days_ago, users) in [
        (a.id, 0, 10),
        (a.id, 5, 9),
        (a.id, 29, 8),
        (a.id, 30, 7),
        (a.id, 40, 6),
        (b.id, 0, 99),
    ] {
        app.db.exec(&format!(
            "INSERT INTO tenant_metrics (tenant_id, date, user_count, item_count, storage_used_mb) \
             VALUES ('{tenant}', {TODAY} - {days_ago}, {users}, 1, 0.5)"
        ));
    }
    (app, a, b)
}

/// The day `ago` days before today, as `YYYY-MM-DD`.
fn day(ago: i64) -> String {
    (Utc::now().date_naive() - Duration::days(ago)).to_string()
}

/// The `user_count`s of a page, in order.
fn users_of(r: &crate::harness::Resp) -> Vec<i64> {
    r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m| m["user_count"].as_i64().expect("user_count"))
        .collect()
}

#[tokio::test]
async fn by_default_a_tenant_admin_reads_the_last_30_days_newest_first() {
    let (app, a, _) = metric_days().await;
    let tok = &a.admin.token;
    // Default: the last 30 days (today and the 29 before), newest first.
    let r = app.get("/api/v1/tenant/metrics", tok).await;
    r.expect(200, None);
    assert_eq!(users_of(&r), [10, 9, 8]);
    let row = &r.body["data"][0];
    assert_eq!(row["date"], day(0));
    assert_eq!(row["item_count"], 1);
    assert_eq!(row["storage_used_mb"], 0.5);
    for field in [
        "active_users",
        "project_count",
        "task_count",
        "expense_count",
        "audit_log_count",
    ] {
        assert_eq!(row[field], 0, "{field}");
    }
    assert!(row.get("tenant_id").is_none());
}

#[tokio::test]
async fn from_and_to_are_inclusive_and_default_to_30_days() {
    let (app, a, _) = metric_days().await;
    let tok = &a.admin.token;
    // Both bounds inclusive.
    let r = app
        .get(
            &format!("/api/v1/tenant/metrics?from={}&to={}", day(30), day(5)),
            tok,
        )
        .await;
    assert_eq!(users_of(&r), [9, 8, 7]);
    let r = app
        .get(&format!("/api/v1/tenant/metrics?from={}", day(5)), tok)
        .await;
    assert_eq!(users_of(&r), [10, 9]);
    let r = app
        .get(&format!("/api/v1/tenant/metrics?to={}", day(30)), tok)
        .await;
    assert_eq!(users_of(&r), [7, 6], "30 days ending at `to`");
    let r = app
        .get(
            &format!("/api/v1/tenant/metrics?from={}&to={}", day(40), day(40)),
            tok,
        )
        .await;
    assert_eq!(users_of(&r), [6]);
}

#[tokio::test]
async fn metric_days_page_with_a_cursor() {
    let (app, a, _) = metric_days().await;
    let tok = &a.admin.token;
    // Pages.
    let r = app
        .get(
            &format!("/api/v1/tenant/metrics?from={}&limit=2", day(100)),
            tok,
        )
        .await;
    assert_eq!(users_of(&r), [10, 9]);
    let cursor = r.body["next_cursor"].as_str().expect("more").to_string();
    let r = app
        .get(
            &format!(
                "/api/v1/tenant/metrics?from={}&limit=2&cursor={cursor}",
                day(100)
            ),
            tok,
        )
        .await;
    assert_eq!(users_of(&r), [8, 7]);
    let cursor = r.body["next_cursor"].as_str().expect("more").to_string();
    let r = app
        .get(
            &format!(
                "/api/v1/tenant/metrics?from={}&limit=2&cursor={cursor}",
                day(100)
            ),
            tok,
        )
        .await;
    assert_eq!(users_of(&r), [6]);
    assert!(r.body["next_cursor"].is_null());
}

#[tokio::test]
async fn another_tenant_reads_only_its_own_days() {
    let (app, _, b) = metric_days().await;
    // Another tenant sees only its own row.
    let r = app.get("/api/v1/tenant/metrics", &b.admin.token).await;
    assert_eq!(users_of(&r), [99]);
}

#[tokio::test]
async fn bad_ranges_are_refused_and_only_tenant_admins_read_metrics() {
    let (app, a, _) = metric_days().await;
    let tok = &a.admin.token;
    // Errors.
    for bad in [
        "from=yesterday",
        "to=2026-13-01",
        "from=2026-02-30",
        "to=24.11.2026",
    ] {
        app.get(&format!("/api/v1/tenant/metrics?{bad}"), tok)
            .await
            .expect(400, Some("invalid_query"));
    }
    let r = app
        .get(
            &format!("/api/v1/tenant/metrics?from={}&to={}", day(1), day(2)),
            tok,
        )
        .await;
    r.expect(422, Some("validation_failed"));
    assert_eq!(r.body["errors"][0]["field"], "from");
    let member = app.user(&a, "member").await;
    app.get("/api/v1/tenant/metrics", &member.token)
        .await
        .expect(403, Some("forbidden"));
    app.get("/api/v1/tenant/metrics", &app.platform_token())
        .await
        .expect(403, Some("forbidden"));
}
