//! `tenantry seed`: the demo data (every domain, idempotent, working logins) and the
//! volume data (shares of the totals, every status, the rules the API keeps).

use serde_json::json;
use tenantry::repos::tenants::TENANT_TABLES;

use crate::harness::{TestApp, TestDb};
use crate::ops_support::{db_fingerprint, ok, stderr, tenantry};

/// Budgets whose `spent_cents` is not the sum of their approved expenses, plus approved
/// expenses without a budget: 0 when the money is consistent.
const MONEY_MISMATCHES: &str = "
    (SELECT count(*) FROM budgets b
      WHERE b.spent_cents <> coalesce((SELECT sum(e.amount_cents) FROM expenses e
                                        WHERE e.tenant_id = b.tenant_id AND e.category = b.category
                                          AND e.period = b.period AND e.status = 'approved'), 0)
         OR b.version <> 1 + (SELECT count(*) FROM expenses e
                               WHERE e.tenant_id = b.tenant_id AND e.category = b.category
                                 AND e.period = b.period AND e.status = 'approved'))
  + (SELECT count(*) FROM expenses e
      WHERE e.status = 'approved'
        AND NOT EXISTS (SELECT 1 FROM budgets b WHERE b.tenant_id = e.tenant_id
                           AND b.category = e.category AND b.period = e.period))";

/// An app on a database of its own (the tests assert on the whole database's rows, also
/// on Citus), seeded once with the demo data; returns the seed's report too.
async fn seeded() -> (TestApp, tenantry::ops::seed::DemoReport) {
    let app = TestApp::own().await;
    let url = app.db.url.clone();
    let first = tokio::task::spawn_blocking(move || {
        let mut conn = tenantry::db::pool::connect(&url).expect("connect");
        tenantry::ops::seed::demo(&mut conn).expect("seed")
    })
    .await
    .expect("join");
    (app, first)
}

#[tokio::test]
async fn a_demo_seed_fills_every_domain_and_a_second_one_adds_nothing() {
    let (app, first) = seeded().await;
    let added: Vec<(&str, u64)> = first.added.iter().map(|(t, n)| (t.as_str(), *n)).collect();
    assert_eq!(
        added,
        [
            ("tenants", 2),
            ("users", 8),
            ("projects", 6),
            ("tasks", 22),
            ("budgets", 8),
            ("expenses", 16),
            ("items", 10)
        ]
    );
    assert_eq!(first.logins.len(), 8);
    let after_one = db_fingerprint(&app.db.url);
    assert_eq!(after_one["tenants"].0, 2);
    // Every tenant table is a demo domain with rows, but for the audit log (seed writes
    // none), the metrics (a refresh writes them) and idempotency keys (only requests do).
    let domains: Vec<&str> = tenantry::ops::seed::DEMO_DOMAINS
        .iter()
        .map(|(d, _)| *d)
        .collect();
    for table in TENANT_TABLES {
        let n = after_one[*table].0;
        if matches!(*table, "audit_logs" | "tenant_metrics" | "idempotency_keys") {
            assert_eq!(n, 0, "{table}");
        } else {
            assert!(domains.contains(table), "{table} has no demo domain");
            assert!(n > 0, "{table} is empty after a demo seed");
        }
    }
    // Each tenant has tasks in every status and expenses in every workflow status.
    assert_eq!(
        app.db
            .scalar("SELECT count(DISTINCT (tenant_id, status)) FROM tasks"),
        6
    );
    assert_eq!(
        app.db
            .scalar("SELECT count(DISTINCT (tenant_id, status)) FROM expenses"),
        8
    );
    assert_eq!(
        app.db.scalar(MONEY_MISMATCHES),
        0,
        "spent = sum of approved"
    );
    assert!(app.db.scalar("SELECT sum(spent_cents) FROM budgets") > 0);

    // The second run goes through the CLI: it prints the logins and adds nothing.
    let out = ok(&tenantry(&app.db.url, &["seed"]));
    assert!(out.contains("0 rows added"), "{out}");
    assert!(out.contains("admin@demo.test"), "{out}");
    assert!(out.contains(tenantry::ops::seed::DEMO_PASSWORD), "{out}");
    let after_two = db_fingerprint(&app.db.url);
    for (table, (n, _)) in &after_one {
        assert_eq!(after_two[table].0, *n, "row count of {table}");
    }
    assert_eq!(after_two, after_one, "a second seed changes nothing");
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM audit_logs"),
        0,
        "seed writes no audit rows"
    );
}

#[tokio::test]
async fn the_demo_logins_work_and_the_api_serves_the_demo_rows() {
    let (app, _) = seeded().await;
    // The printed logins work, and the demo rows are what the API serves.
    let login = |email: &'static str| {
        app.call(
            axum::http::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"tenant_code": "demo", "email": email,
                        "password": tenantry::ops::seed::DEMO_PASSWORD})),
        )
    };
    let admin = login("admin@demo.test").await;
    admin.expect(200, None);
    assert_eq!(admin.body["user"]["role"], "admin");
    let token = admin.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let count = |r: &crate::harness::Resp| r.body["data"].as_array().map_or(0, Vec::len);
    let users = app.get("/api/v1/users?limit=100", &token).await;
    users.expect(200, None);
    assert_eq!(count(&users), 4);
    let projects = app
        .get("/api/v1/projects?include=owner,task_counts", &token)
        .await;
    projects.expect(200, None);
    assert_eq!(count(&projects), 3);
    assert!(
        projects.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|p| p["owner"]["email"].is_string())
    );
    let done = app.get("/api/v1/tasks?status=completed", &token).await;
    done.expect(200, None);
    assert!(count(&done) > 0);
    assert!(
        done.body["data"]
            .as_array()
            .expect("data")
            .iter()
            .all(|t| t["completed_at"].is_string())
    );
    let found = app.get("/api/v1/items?q=checklist", &token).await;
    found.expect(200, None);
    assert_eq!(count(&found), 2, "{}", found.text);
    let report = app.get("/api/v1/reports/expenses", &token).await;
    report.expect(200, None);
    assert!(
        report.body["totals"]["approved_cents"].as_i64() > Some(0),
        "{}",
        report.text
    );
    let alice = login("alice@demo.test").await;
    alice.expect(200, None);
    let mine = app
        .get(
            "/api/v1/expenses",
            alice.body["access_token"].as_str().expect("token"),
        )
        .await;
    mine.expect(200, None);
    assert_eq!(count(&mine), 4, "alice sees her own expenses");
}

/// The volume plan of the tests: 3 tenants of 5 users, and totals to spread over them.
const VOLUME_ARGS: [&str; 15] = [
    "seed",
    "--tenants",
    "3",
    "--users",
    "5",
    "--projects",
    "4",
    "--tasks",
    "30",
    "--expenses",
    "13",
    "--items",
    "7",
    "--jobs",
    "2",
];

/// A database of its own (the tests assert on the whole database's rows, also on Citus)
/// seeded with [`VOLUME_ARGS`] through the CLI.
fn volume_seeded() -> TestDb {
    let db = TestDb::own();
    let args = VOLUME_ARGS;
    let out = ok(&tenantry(&db.url, &args));
    assert!(
        out.contains("added 3 tenants (0 existed already), 15 users, 4 projects, 30 tasks"),
        "{out}"
    );
    assert!(out.contains("13 expenses, 7 items"), "{out}");
    assert_eq!(
        db.scalar("SELECT count(*) FROM tenants WHERE code LIKE 'load-%'"),
        3
    );
    assert_eq!(db.scalar("SELECT count(*) FROM users"), 15);
    assert_eq!(
        db.scalar("SELECT count(*) FROM users WHERE role = 'admin'"),
        3
    );
    assert_eq!(
        db.scalar("SELECT count(DISTINCT password_hash) FROM users"),
        1,
        "one precomputed hash"
    );
    db
}

/// Rows of `table` per tenant, in tenant code order, comma-separated.
fn per_tenant(db: &TestDb, table: &str) -> String {
    let sql = format!(
        "SELECT string_agg(n::text, ',' ORDER BY code)::text FROM
           (SELECT t.code, count(x.tenant_id) AS n FROM tenants t
              LEFT JOIN {table} x ON x.tenant_id = t.id GROUP BY t.code) s"
    );
    let mut conn = db.conn();
    #[derive(diesel::QueryableByName)]
    struct S {
        #[diesel(sql_type = diesel::sql_types::Text)]
        s: String,
    }
    use diesel::RunQueryDsl;
    diesel::sql_query(format!("SELECT ({sql}) AS s"))
        .get_result::<S>(&mut conn)
        .expect("shares")
        .s
}

#[test]
fn a_volume_seed_spreads_its_totals_over_the_tenants_the_first_taking_the_remainder() {
    let db = volume_seeded();
    assert_eq!(per_tenant(&db, "projects"), "2,1,1");
    assert_eq!(per_tenant(&db, "tasks"), "10,10,10");
    assert_eq!(per_tenant(&db, "expenses"), "5,4,4");
    assert_eq!(per_tenant(&db, "items"), "3,2,2");
}

#[test]
fn a_volume_seed_makes_every_status_and_keeps_the_rules_the_api_keeps() {
    let db = volume_seeded();
    // Every status, and the rules the API keeps.
    assert_eq!(db.scalar("SELECT count(DISTINCT status) FROM tasks"), 3);
    assert_eq!(db.scalar("SELECT count(DISTINCT status) FROM expenses"), 4);
    assert_eq!(db.scalar(MONEY_MISMATCHES), 0, "spent = sum of approved");
    assert_eq!(
        db.scalar(
            "SELECT count(*) FROM expenses e JOIN users a ON a.tenant_id = e.tenant_id AND a.id = e.approver_id
              WHERE a.role <> 'admin' OR e.approver_id = e.submitter_id"
        ),
        0,
        "decided by an admin who did not submit"
    );
    assert_eq!(
        db.scalar(
            "SELECT (SELECT count(*) FROM users u WHERE u.role = 'viewer' AND (
                        EXISTS (SELECT 1 FROM projects p WHERE p.tenant_id = u.tenant_id AND p.owner_id = u.id)
                     OR EXISTS (SELECT 1 FROM expenses e WHERE e.tenant_id = u.tenant_id AND e.submitter_id = u.id)
                     OR EXISTS (SELECT 1 FROM items i WHERE i.tenant_id = u.tenant_id AND i.owner_id = u.id)))"
        ),
        0,
        "viewers own nothing"
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM expenses WHERE incurred_on > current_date"),
        0
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM items WHERE search = ''::tsvector"),
        0
    );
}

#[test]
fn a_second_volume_seed_adds_only_new_tenants_and_a_refused_plan_adds_nothing() {
    let db = volume_seeded();
    let mut again = VOLUME_ARGS;
    again[2] = "4";
    let out = ok(&tenantry(&db.url, &again));
    assert!(out.contains("added 1 tenants (3 existed already)"), "{out}");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), 20);
    // Tenant 4 gets its share of 30 over 4; the existing tenants are left as they are.
    assert_eq!(per_tenant(&db, "tasks"), "10,10,10,7");
    assert_eq!(db.scalar("SELECT count(*) FROM tasks"), 37);
    assert_eq!(db.scalar("SELECT count(*) FROM audit_logs"), 0);

    let bad = tenantry(&db.url, &["seed", "--users", "5"]);
    assert!(!bad.status.success(), "--users needs --tenants");
    let bad = tenantry(&db.url, &["seed", "--tasks", "5"]);
    assert!(!bad.status.success(), "--tasks needs --tenants");
    let bad = tenantry(
        &db.url,
        &["seed", "--tenants", "9", "--tasks", "5", "--projects", "8"],
    );
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("--projects must be at least"),
        "{}",
        stderr(&bad)
    );
    assert_eq!(
        db.scalar("SELECT count(*) FROM tenants"),
        4,
        "a refused plan adds nothing"
    );
}
