//! Operator commands: `tenantry seed` (idempotent demo data, volume data), `tenantry
//! tenant export|import|delete`.

use serde_json::{Value, json};
use tenantry::repos::tenants::TENANT_TABLES;
use uuid::Uuid;

use crate::harness::{TestApp, TestDb};
use crate::ops_support::{
    assert_every_table_has_rows, db_fingerprint, generated_columns, ok, populate_every_domain,
    refresh_metrics, stderr, tenant_fingerprint, tenant_id, tenant_row, tenantry,
};

/// Two tenants with rows in every tenant table, made through the API (so with audit
/// rows), plus audit rows in other partitions (an old one lands in the default
/// partition) and today's tenant metrics.
async fn populated() -> (TestApp, Uuid, Uuid) {
    let app = TestApp::new().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("bravo").await;
    app.user(&a, "viewer").await;
    populate_every_domain(&app, &a).await;
    populate_every_domain(&app, &b).await;
    app.db.exec(&format!(
        "INSERT INTO audit_logs (tenant_id, id, \"timestamp\", action, resource_type, metadata)
         VALUES ('{0}', '{1}', '2001-02-03T04:05:06Z', 'user.updated', 'user', '{{\"old\": true}}'),
                ('{0}', '{2}', date_trunc('month', now()) + interval '1 month 1 day', 'user.updated', 'user', '{{}}')",
        a.id,
        Uuid::now_v7(),
        Uuid::now_v7()
    ));
    refresh_metrics(&app.db).await;
    (app, a.id, b.id)
}

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

#[tokio::test]
async fn seed_twice_adds_nothing_and_the_demo_login_works() {
    let app = TestApp::new().await;
    let url = app.db.url.clone();
    let first = tokio::task::spawn_blocking(move || {
        let mut conn = tenantry::db::pool::connect(&url).expect("connect");
        tenantry::ops::seed::demo(&mut conn).expect("seed")
    })
    .await
    .expect("join");
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
    // none) and the metrics (a refresh writes them).
    let domains: Vec<&str> = tenantry::ops::seed::DEMO_DOMAINS
        .iter()
        .map(|(d, _)| *d)
        .collect();
    for table in TENANT_TABLES {
        let n = after_one[*table].0;
        if matches!(*table, "audit_logs" | "tenant_metrics") {
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
    assert_eq!(app.db.scalar(MONEY_MISMATCHES), 0, "spent = sum of approved");
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
    let token = admin.body["access_token"].as_str().expect("token").to_string();
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
    assert!(done.body["data"].as_array().expect("data").iter().all(|t| t["completed_at"].is_string()));
    let found = app.get("/api/v1/items?q=checklist", &token).await;
    found.expect(200, None);
    assert_eq!(count(&found), 2, "{}", found.text);
    let report = app.get("/api/v1/reports/expenses", &token).await;
    report.expect(200, None);
    assert!(report.body["totals"]["approved_cents"].as_i64() > Some(0), "{}", report.text);
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

#[test]
fn volume_seed_makes_every_domain_and_skips_existing_codes() {
    let db = TestDb::new();
    let args = [
        "seed", "--tenants", "3", "--users", "5", "--projects", "4", "--tasks", "30", "--expenses",
        "13", "--items", "7", "--jobs", "2",
    ];
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
    // Totals are spread evenly, the first tenants taking the remainder.
    let per_tenant = |table: &str| {
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
    };
    assert_eq!(per_tenant("projects"), "2,1,1");
    assert_eq!(per_tenant("tasks"), "10,10,10");
    assert_eq!(per_tenant("expenses"), "5,4,4");
    assert_eq!(per_tenant("items"), "3,2,2");
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

    let mut again = args;
    again[2] = "4";
    let out = ok(&tenantry(&db.url, &again));
    assert!(out.contains("added 1 tenants (3 existed already)"), "{out}");
    assert_eq!(db.scalar("SELECT count(*) FROM users"), 20);
    // Tenant 4 gets its share of 30 over 4; the existing tenants are left as they are.
    assert_eq!(per_tenant("tasks"), "10,10,10,7");
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
    assert!(stderr(&bad).contains("--projects must be at least"), "{}", stderr(&bad));
    assert_eq!(db.scalar("SELECT count(*) FROM tenants"), 4, "a refused plan adds nothing");
}

#[tokio::test]
async fn export_then_import_copies_every_row_under_a_new_tenant() {
    let (app, a, b) = populated().await;
    let dir = crate::harness::open_tempdir();
    let file = dir.path().join("acme.jsonl");
    let export = tenantry(&app.db.url, &["tenant", "export", "acme"]);
    std::fs::write(&file, &export.stdout).expect("write export");
    ok(&export);

    let text = String::from_utf8(export.stdout.clone()).expect("utf8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines[0]["format"], "tenantry-tenant-export");
    assert_eq!(lines[0]["tenant"]["code"], "acme");
    assert!(
        lines[0]["schema_version"]
            .as_str()
            .is_some_and(|v| !v.is_empty())
    );
    assert_eq!(lines[1]["table"], "tenants");
    let row_lines = lines.len() - 2;
    assert_eq!(lines.last().expect("end")["end"]["rows"], row_lines);
    let before_a = tenant_fingerprint(&app.db, a);
    assert_every_table_has_rows(&before_a);
    let expected_rows: i64 = before_a.values().map(|(n, _)| n).sum::<i64>() + 1;
    assert_eq!(row_lines as i64, expected_rows);
    // Tables appear in TENANT_TABLES order.
    let order: Vec<&str> = lines[1..lines.len() - 1]
        .iter()
        .map(|l| l["table"].as_str().expect("table"))
        .collect();
    let rank = |t: &str| {
        TENANT_TABLES
            .iter()
            .position(|x| *x == t)
            .map_or(0, |p| p + 1)
    };
    assert!(
        order.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{order:?}"
    );

    let before_b = tenant_fingerprint(&app.db, b);
    let audit_before = app.db.scalar("SELECT count(*) FROM audit_logs");
    let out = ok(&tenantry(
        &app.db.url,
        &[
            "tenant",
            "import",
            file.to_str().expect("path"),
            "--code",
            "acme2",
        ],
    ));
    assert!(out.contains("imported tenant acme2"), "{out}");
    let a2 = tenant_id(&app.db, "acme2").expect("acme2 exists");
    assert_ne!(a2, a);
    assert_eq!(
        tenant_fingerprint(&app.db, a2),
        before_a,
        "same rows, same ids"
    );
    // Generated columns were recomputed by the server, to the same values, row by row.
    let generated = generated_columns(&app.db);
    for known in [
        ("budgets", "remaining_cents"),
        ("expenses", "period"),
        ("items", "search"),
        ("tasks", "completed"),
    ] {
        assert!(
            generated.contains(&(known.0.to_string(), known.1.to_string())),
            "{generated:?}"
        );
    }
    for (table, column) in &generated {
        let same = app.db.scalar(&format!(
            "SELECT count(*) FROM {table} x JOIN {table} y ON y.tenant_id = '{a}' AND y.id = x.id
              WHERE x.tenant_id = '{a2}' AND x.{column} IS NOT DISTINCT FROM y.{column}"
        ));
        assert_eq!(same, before_a[table].0, "{table}.{column}");
    }
    assert_eq!(tenant_row(&app.db, a2), tenant_row(&app.db, a));
    assert_eq!(tenant_fingerprint(&app.db, a), before_a, "source untouched");
    assert_eq!(tenant_fingerprint(&app.db, b), before_b, "others untouched");
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM audit_logs"),
        audit_before + before_a["audit_logs"].0,
        "no audit rows beyond the copied ones"
    );
    // The old audit row went back into the default partition.
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM audit_logs_default WHERE tenant_id = '{a2}'"
        )),
        1
    );

    // The copy works: its admin logs in with the same password.
    let login = app
        .call(
            axum::http::Method::POST,
            "/api/v1/auth/login",
            None,
            Some(
                json!({"tenant_code": "acme2", "email": "admin@acme.example",
                        "password": crate::harness::PASSWORD}),
            ),
        )
        .await;
    login.expect(200, None);
}

/// Imports `text` as `code` and asserts it fails with `needle` and changes nothing.
fn assert_import_refused(db: &TestDb, text: &str, code: &str, needle: &str) {
    let dir = crate::harness::open_tempdir();
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, text).expect("write");
    let before = db_fingerprint(&db.url);
    let out = tenantry(
        &db.url,
        &[
            "tenant",
            "import",
            file.to_str().expect("path"),
            "--code",
            code,
        ],
    );
    assert!(!out.status.success(), "import should fail ({needle})");
    assert!(stderr(&out).contains(needle), "{needle}: {}", stderr(&out));
    assert_eq!(
        db_fingerprint(&db.url),
        before,
        "a failed import changes nothing"
    );
}

#[tokio::test]
async fn an_import_that_fails_anywhere_leaves_nothing() {
    let (app, _, _) = populated().await;
    let export = ok(&tenantry(&app.db.url, &["tenant", "export", "acme"]));
    let lines: Vec<&str> = export.lines().collect();
    let n = lines.len();
    assert!(n >= 8, "enough rows to fail late: {n}");

    // Broken JSON on the last row line.
    let mut broken = lines.clone();
    let cut = &lines[n - 2][..lines[n - 2].len() / 2];
    broken[n - 2] = cut;
    assert_import_refused(
        &app.db,
        &(broken.join("\n") + "\n"),
        "acme3",
        &format!("line {}", n - 1),
    );

    // A row the database refuses, last of all (a CHECK violation).
    let mut bad_row: Value = serde_json::from_str(lines[n - 2]).expect("json");
    let table = bad_row["table"].as_str().expect("table").to_string();
    let (column, value) = [
        ("severity", json!("nonsense")),
        ("role", json!("nonsense")),
        ("user_count", json!(-1)),
    ]
    .into_iter()
    .find(|(c, _)| bad_row["row"].get(*c).is_some())
    .expect("last row has a CHECKed column");
    bad_row["row"][column] = value;
    let replaced = bad_row.to_string();
    let mut refused = lines.clone();
    refused[n - 2] = &replaced;
    assert_import_refused(
        &app.db,
        &(refused.join("\n") + "\n"),
        "acme3",
        &format!("inserting into {table}"),
    );

    // Truncated: no end line.
    assert_import_refused(
        &app.db,
        &(lines[..n - 2].join("\n") + "\n"),
        "acme3",
        "truncated",
    );
    // A row of another tenant slipped in.
    let mut mixed = lines.clone();
    let mut other: Value = serde_json::from_str(lines[2]).expect("json");
    other["row"]["tenant_id"] = json!(Uuid::now_v7().to_string());
    let other = other.to_string();
    mixed[2] = &other;
    assert_import_refused(&app.db, &(mixed.join("\n") + "\n"), "acme3", "tenant_id");
    assert!(tenant_id(&app.db, "acme3").is_none());
}

#[tokio::test]
async fn import_refuses_an_existing_code_another_schema_and_a_bad_code() {
    let (app, _, _) = populated().await;
    let export = ok(&tenantry(&app.db.url, &["tenant", "export", "acme"]));
    assert_import_refused(&app.db, &export, "bravo", "already exists");
    assert_import_refused(&app.db, &export, "acme", "already exists");
    assert_import_refused(&app.db, &export, "Not A Code", "invalid tenant code");

    let mut lines: Vec<String> = export.lines().map(str::to_string).collect();
    let mut header: Value = serde_json::from_str(&lines[0]).expect("header");
    header["schema_version"] = json!("20000101000000");
    lines[0] = header.to_string();
    assert_import_refused(
        &app.db,
        &(lines.join("\n") + "\n"),
        "acme4",
        "schema version",
    );

    let unknown = tenantry(&app.db.url, &["tenant", "export", "nobody"]);
    assert!(!unknown.status.success());
    assert!(
        unknown.stdout.is_empty(),
        "nothing written for an unknown tenant"
    );
}

#[tokio::test]
async fn tenant_delete_removes_every_row_of_the_tenant_and_prints_counts() {
    let (app, a, b) = populated().await;
    let before_a = tenant_fingerprint(&app.db, a);
    let before_b = tenant_fingerprint(&app.db, b);
    assert_every_table_has_rows(&before_a);
    assert!(before_a["audit_logs"].0 >= 3);
    let out = ok(&tenantry(&app.db.url, &["tenant", "delete", "acme"]));
    assert!(out.contains(&format!("deleted tenant acme ({a})")), "{out}");
    for (table, (n, _)) in &before_a {
        let line = out
            .lines()
            .find(|l| l.split_whitespace().next() == Some(table.as_str()))
            .unwrap_or_else(|| panic!("no count for {table}: {out}"));
        assert_eq!(
            line.split_whitespace().nth(1),
            Some(n.to_string().as_str()),
            "{out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["tenants", "1"])
    );

    for table in TENANT_TABLES {
        assert_eq!(
            app.db.scalar(&format!(
                "SELECT count(*) FROM {table} WHERE tenant_id = '{a}'"
            )),
            0,
            "{table}"
        );
    }
    // Every partition, read directly.
    let parts = crate::ops_support::all_tables(&mut app.db.conn());
    for part in parts.iter().filter(|p| p.starts_with("audit_logs_")) {
        assert_eq!(
            app.db.scalar(&format!(
                "SELECT count(*) FROM {part} WHERE tenant_id = '{a}'"
            )),
            0,
            "{part}"
        );
    }
    assert_eq!(tenant_fingerprint(&app.db, b), before_b, "others untouched");

    let again = tenantry(&app.db.url, &["tenant", "delete", "acme"]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("no tenant has code"),
        "{}",
        stderr(&again)
    );
}

/// Generated columns (such as a stored `tsvector`) are exported but never inserted:
/// the server recomputes them, and the copy is identical.
#[tokio::test]
async fn export_and_import_leave_generated_columns_to_the_server() {
    let (app, a, _) = populated().await;
    app.db.exec(
        "ALTER TABLE users ADD COLUMN email_search tsvector
             GENERATED ALWAYS AS (to_tsvector('simple', email)) STORED",
    );
    let dir = crate::harness::open_tempdir();
    let file = dir.path().join("acme.jsonl");
    std::fs::write(
        &file,
        ok(&tenantry(&app.db.url, &["tenant", "export", "acme"])),
    )
    .expect("write");
    assert!(
        std::fs::read_to_string(&file)
            .expect("read")
            .contains("\"email_search\"")
    );
    ok(&tenantry(
        &app.db.url,
        &[
            "tenant",
            "import",
            file.to_str().expect("path"),
            "--code",
            "acme5",
        ],
    ));
    let a5 = tenant_id(&app.db, "acme5").expect("imported");
    assert_eq!(
        tenant_fingerprint(&app.db, a5),
        tenant_fingerprint(&app.db, a)
    );
    let computed = app.db.scalar(&format!(
        "SELECT count(*) FROM users WHERE tenant_id = '{a5}'
            AND email_search = to_tsvector('simple', email)"
    ));
    assert_eq!(computed, tenant_fingerprint(&app.db, a5)["users"].0);
    assert!(computed >= 3);
}
