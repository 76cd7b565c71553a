//! Helpers for the operator-command tests: running the `tenantry` binary and the
//! scripts, and fingerprinting tables so "identical" and "untouched" can be asserted
//! for every table, including ones added after these tests were written.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde_json::json;
use tenantry::repos::tenant_data;
use uuid::Uuid;

use crate::harness::{TenantFixture, TestApp, TestDb};

/// Runs the tenantry binary against `url` with `args`.
pub fn tenantry(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run tenantry")
}

/// Runs `scripts/<name>` with `args` and `env` (bash, so no executable bit is assumed).
pub fn script(name: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name);
    let mut cmd = Command::new("bash");
    cmd.arg(path).args(args).env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run script")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success, showing both streams otherwise.
#[track_caller]
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed ({}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Fingerprint {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = Text)]
    md5: String,
}

/// Every table of the public schema (partitions and partitioned parents included).
pub fn all_tables(conn: &mut PgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
          ORDER BY 1",
    )
    .load::<Name>(conn)
    .expect("tables")
    .into_iter()
    .map(|n| n.name)
    .collect()
}

/// The primary-key columns of any table, or the whole row when it has none.
fn order_of(conn: &mut PgConnection, table: &str) -> String {
    #[derive(QueryableByName)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
        key: Option<String>,
    }
    let key: Key = diesel::sql_query(
        "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) AS key
           FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = $1::regclass AND i.indisprimary",
    )
    .bind::<Text, _>(table)
    .get_result(conn)
    .expect("primary key");
    key.key.unwrap_or_else(|| "t::text".to_string())
}

/// Row count and md5 of the rows (as text, in primary-key order) of every table.
pub fn db_fingerprint(url: &str) -> BTreeMap<String, (i64, String)> {
    let mut conn = PgConnection::establish(url).expect("connect");
    diesel::sql_query("SET TIME ZONE 'UTC'")
        .execute(&mut conn)
        .expect("utc");
    let mut out = BTreeMap::new();
    for table in all_tables(&mut conn) {
        let order = order_of(&mut conn, &table);
        let f: Fingerprint = diesel::sql_query(format!(
            "SELECT count(*) AS n, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY {order})), '') AS md5
               FROM ONLY \"{table}\" t"
        ))
        .get_result(&mut conn)
        .expect("fingerprint");
        out.insert(table, (f.n, f.md5));
    }
    out
}

/// Row count and md5 of one tenant's rows in every tenant table, with `tenant_id`
/// left out, so the same rows under another tenant give the same fingerprint.
pub fn tenant_fingerprint(db: &TestDb, tenant_id: Uuid) -> BTreeMap<String, (i64, String)> {
    let mut conn = db.conn();
    diesel::sql_query("SET TIME ZONE 'UTC'")
        .execute(&mut conn)
        .expect("utc");
    let mut out = BTreeMap::new();
    for table in tenantry::repos::tenants::TENANT_TABLES {
        let order = tenant_data::primary_key(&mut conn, table).expect("pk");
        let f: Fingerprint = diesel::sql_query(format!(
            "SELECT count(*) AS n,
                    coalesce(md5(string_agg((to_jsonb(t) - 'tenant_id')::text, E'\\n' ORDER BY {order})), '') AS md5
               FROM {table} t WHERE t.tenant_id = '{tenant_id}'"
        ))
        .get_result(&mut conn)
        .expect("tenant fingerprint");
        out.insert(table.to_string(), (f.n, f.md5));
    }
    out
}

/// The tenant's own row without `id` and `code`.
pub fn tenant_row(db: &TestDb, tenant_id: Uuid) -> String {
    let mut conn = db.conn();
    diesel::sql_query(format!(
        "SELECT (to_jsonb(t) - 'id' - 'code')::text AS name FROM tenants t WHERE id = '{tenant_id}'"
    ))
    .get_result::<Name>(&mut conn)
    .expect("tenant row")
    .name
}

/// The id of tenant `code`, if it exists.
pub fn tenant_id(db: &TestDb, code: &str) -> Option<Uuid> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    diesel::sql_query("SELECT id FROM tenants WHERE code = $1")
        .bind::<Text, _>(code)
        .get_result::<Id>(&mut db.conn())
        .optional()
        .expect("tenant id")
        .map(|i| i.id)
}

/// Gives `tenant` rows in every domain table through the API (so the audit log fills
/// as it does in use): a member, a project with a task in each status, this month's
/// budget, an expense in each workflow status and items. `tenant_metrics` is
/// filled by [`refresh_metrics`].
pub async fn populate_every_domain(app: &TestApp, tenant: &TenantFixture) {
    let admin = &tenant.admin.token;
    let member = app.user(tenant, "member").await;
    // With an Idempotency-Key, so the tenant has a row in idempotency_keys too.
    let project = app
        .send(
            axum::http::Request::builder()
                .method("POST")
                .uri("/api/v1/projects")
                .header("authorization", format!("Bearer {}", member.token))
                .header("content-type", "application/json")
                .header("idempotency-key", "populate-launch")
                .body(axum::body::Body::from(
                    json!({"name": "Launch", "description": "Everything for the launch", "owner_id": member.id})
                        .to_string(),
                ))
                .expect("request"),
        )
        .await;
    project.expect(201, None);
    for (title, status) in [
        ("Plan", "completed"),
        ("Build", "in_progress"),
        ("Ship", "pending"),
    ] {
        app.post(
            &format!("/api/v1/projects/{}/tasks", project.id()),
            &member.token,
            json!({"title": title, "status": status, "priority": 3,
                   "due_at": "2030-01-02T03:04:05Z", "assignee_id": member.id}),
        )
        .await
        .expect(201, None);
    }
    let today = chrono::Utc::now().date_naive();
    app.post(
        "/api/v1/budgets",
        admin,
        json!({"category": "travel", "period": today.format("%Y-%m").to_string(), "amount_cents": 100_000}),
    )
    .await
    .expect(201, None);
    let day = today.format("%Y-%m-01").to_string();
    let expense = |amount: i64| {
        app.post(
            "/api/v1/expenses",
            &member.token,
            json!({"category": "travel", "amount_cents": amount,
                   "description": "train", "incurred_on": day}),
        )
    };
    expense(1_000).await.expect(201, None);
    let submitted = expense(2_000).await.id();
    let approved = expense(3_000).await.id();
    let rejected = expense(4_000).await.id();
    for id in [submitted, approved, rejected] {
        app.post(
            &format!("/api/v1/expenses/{id}/submit"),
            &member.token,
            json!({"version": 1}),
        )
        .await
        .expect(200, None);
    }
    app.post(
        &format!("/api/v1/expenses/{approved}/approve"),
        admin,
        json!({"version": 2}),
    )
    .await
    .expect(200, None);
    app.post(
        &format!("/api/v1/expenses/{rejected}/reject"),
        admin,
        json!({"version": 2, "reason": "no receipt"}),
    )
    .await
    .expect(200, None);
    for (title, description) in [
        (
            "Launch checklist",
            "Press kit, pricing page and the support rota",
        ),
        ("Travel notes", "Trains and hotels for the launch event"),
    ] {
        app.post(
            "/api/v1/items",
            &member.token,
            json!({"title": title, "description": description}),
        )
        .await
        .expect(201, None);
    }
}

/// Upserts today's `tenant_metrics` row of every tenant (`tenantry metrics refresh`).
pub async fn refresh_metrics(db: &TestDb) {
    let url = db.url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&url).expect("connect");
        tenantry::ops::metrics::refresh(&mut conn).expect("metrics refresh")
    })
    .await
    .expect("join");
}

/// Asserts that the tenant has rows in every tenant table, so a test that compares
/// tables compares something in each (and a new table must be given rows here).
#[track_caller]
pub fn assert_every_table_has_rows(counts: &BTreeMap<String, (i64, String)>) {
    for table in tenantry::repos::tenants::TENANT_TABLES {
        let n = counts.get(*table).map_or(0, |(n, _)| *n);
        assert!(n > 0, "no rows in {table}: {counts:?}");
    }
}

/// `(table, column)` of every generated column of the tenant tables, from the catalog.
pub fn generated_columns(db: &TestDb) -> Vec<(String, String)> {
    #[derive(QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        tbl: String,
        #[diesel(sql_type = Text)]
        col: String,
    }
    diesel::sql_query(
        "SELECT c.relname::text AS tbl, a.attname::text AS col
           FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            AND a.attgenerated <> '' AND NOT a.attisdropped
            AND c.relname = ANY($1)
          ORDER BY 1, 2",
    )
    .bind::<diesel::sql_types::Array<Text>, _>(
        tenantry::repos::tenants::TENANT_TABLES
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>(),
    )
    .load::<Col>(&mut db.conn())
    .expect("generated columns")
    .into_iter()
    .map(|c| (c.tbl, c.col))
    .collect()
}
