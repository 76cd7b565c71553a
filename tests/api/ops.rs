//! Operator commands: `tenantry tenant export|import|delete`, on tenants with rows in
//! every tenant table (the seed has its own file, `seed.rs`).

use std::collections::BTreeMap;
use std::process::Output;

use serde_json::{Value, json};
use tenantry::repos::tenants::TENANT_TABLES;
use uuid::Uuid;

use crate::harness::{TestApp, TestDb, citus, tenant_code};
use crate::ops_support::{
    assert_every_table_has_rows, db_fingerprint, generated_columns, ok, populate_every_domain,
    refresh_metrics, stderr, tenant_fingerprint, tenant_id, tenant_row, tenantry,
};

/// Two tenants with rows in every tenant table, the domain rows made through the API (so
/// with audit rows), plus audit rows in other partitions (an old one lands in the default
/// partition) and today's tenant metrics. Also returns the two tenants' codes (unique
/// per test in Citus mode, where all tests share one database).
async fn populated() -> (TestApp, Uuid, Uuid, String, String) {
    // A metrics refresh is database-wide: on Citus a database of its own, so that it
    // neither rewrites other tests' metrics rows nor has its own rewritten meanwhile.
    let app = TestApp::own().await;
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
    (app, a.id, b.id, a.code, b.code)
}

/// `tenantry tenant export <code>` written to a file in a fresh directory.
fn export_file(app: &TestApp, code: &str) -> (tempfile::TempDir, std::path::PathBuf, Output) {
    let dir = crate::harness::open_tempdir();
    let file = dir.path().join("acme.jsonl");
    let export = tenantry(&app.db.url, &["tenant", "export", code]);
    std::fs::write(&file, &export.stdout).expect("write export");
    ok(&export);
    (dir, file, export)
}

#[tokio::test]
async fn an_export_is_a_header_every_row_in_table_order_and_an_end_line() {
    let (app, a, _, acme, _) = populated().await;
    let (_dir, _, export) = export_file(&app, &acme);
    let text = String::from_utf8(export.stdout.clone()).expect("utf8");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    assert_eq!(lines[0]["format"], "tenantry-tenant-export");
    assert_eq!(lines[0]["tenant"]["code"], acme.as_str());
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
    // Progress goes to stderr (plain lines: stderr is not a terminal), ending with the total.
    let progress = crate::ops_support::stderr(&export);
    assert!(
        progress.lines().last() == Some(format!("export: {row_lines} rows, done").as_str()),
        "{progress}"
    );
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
}

/// Every generated column of the copy `a2` has the value it has in the source `a`, row
/// by row (`rows`: the source's row count per table).
fn assert_generated_columns_match(
    db: &TestDb,
    a: Uuid,
    a2: Uuid,
    rows: &BTreeMap<String, (i64, String)>,
) {
    // Generated columns were recomputed by the server, to the same values, row by row.
    let generated = generated_columns(db);
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
        let same = db.scalar(&format!(
            // Each side read on its own (materialized): on Citus the two tenants live in
            // different shards, and a join between them would need repartitioning.
            "WITH x AS MATERIALIZED (SELECT id, {column} AS v FROM {table} WHERE tenant_id = '{a2}'),
                  y AS MATERIALIZED (SELECT id, {column} AS v FROM {table} WHERE tenant_id = '{a}')
             SELECT count(*) FROM x JOIN y USING (id) WHERE x.v IS NOT DISTINCT FROM y.v"
        ));
        assert_eq!(same, rows[table].0, "{table}.{column}");
    }
}

#[tokio::test]
async fn an_import_copies_every_row_under_a_new_tenant_and_touches_nothing_else() {
    let (app, a, b, acme, _) = populated().await;
    let acme2 = tenant_code("acme2");
    let (_dir, file, export) = export_file(&app, &acme);
    let row_lines = String::from_utf8_lossy(&export.stdout).lines().count() - 2;
    let before_a = tenant_fingerprint(&app.db, a);
    let before_b = tenant_fingerprint(&app.db, b);
    let audit_before = app.db.scalar(&audit_count_of(&[a, b]));
    let import = tenantry(
        &app.db.url,
        &[
            "tenant",
            "import",
            file.to_str().expect("path"),
            "--code",
            &acme2,
        ],
    );
    let out = ok(&import);
    assert!(out.contains(&format!("imported tenant {acme2}")), "{out}");
    let progress = crate::ops_support::stderr(&import);
    assert!(
        progress.lines().last() == Some(format!("import: {row_lines} rows, done").as_str()),
        "{progress}"
    );
    let a2 = tenant_id(&app.db, &acme2).expect("acme2 exists");
    assert_ne!(a2, a);
    assert_eq!(
        tenant_fingerprint(&app.db, a2),
        before_a,
        "same rows, same ids"
    );
    assert_generated_columns_match(&app.db, a, a2, &before_a);
    assert_eq!(tenant_row(&app.db, a2), tenant_row(&app.db, a));
    assert_eq!(tenant_fingerprint(&app.db, a), before_a, "source untouched");
    assert_eq!(tenant_fingerprint(&app.db, b), before_b, "others untouched");
    assert_eq!(
        app.db.scalar(&audit_count_of(&[a, b, a2])),
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
                json!({"tenant_code": acme2, "email": format!("admin@{acme}.example"),
                        "password": crate::harness::PASSWORD}),
            ),
        )
        .await;
    login.expect(200, None);
}

/// Audit rows of these tenants.
fn audit_count_of(tenants: &[Uuid]) -> String {
    let ids: Vec<String> = tenants.iter().map(|t| format!("'{t}'")).collect();
    format!(
        "SELECT count(*) FROM audit_logs WHERE tenant_id IN ({})",
        ids.join(", ")
    )
}

/// Imports `text` as `code` and asserts it fails with `needle` and changes nothing: the
/// whole database is compared on a single node; on Citus, where other tests write to
/// the same database meanwhile, the code's tenant (absent, or the same rows as before).
fn assert_import_refused(db: &TestDb, text: &str, code: &str, needle: &str) {
    let dir = crate::harness::open_tempdir();
    let file = dir.path().join("in.jsonl");
    std::fs::write(&file, text).expect("write");
    let before = (!citus()).then(|| db_fingerprint(&db.url));
    let existing = tenant_id(db, code);
    let existing_rows = existing.map(|t| tenant_fingerprint(db, t));
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
    if let Some(before) = before {
        assert_eq!(
            db_fingerprint(&db.url),
            before,
            "a failed import changes nothing"
        );
    }
    assert_eq!(
        tenant_id(db, code),
        existing,
        "a failed import adds no tenant"
    );
    assert_eq!(existing.map(|t| tenant_fingerprint(db, t)), existing_rows);
}

#[tokio::test]
async fn an_import_that_fails_anywhere_leaves_nothing() {
    let (app, _, _, acme, _) = populated().await;
    let acme3 = tenant_code("acme3");
    let export = ok(&tenantry(&app.db.url, &["tenant", "export", &acme]));
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
        &acme3,
        &format!("line {}", n - 1),
    );

    // A row the database refuses, last of all (a CHECK violation).
    let mut bad_row: Value = serde_json::from_str(lines[n - 2]).expect("json");
    let table = bad_row["table"].as_str().expect("table").to_string();
    let (column, value) = [
        ("severity", json!("nonsense")),
        ("role", json!("nonsense")),
        ("user_count", json!(-1)),
        // idempotency_keys: 1..=255 characters
        ("key", json!("")),
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
        &acme3,
        &format!("inserting into {table}"),
    );

    // Truncated: no end line.
    assert_import_refused(
        &app.db,
        &(lines[..n - 2].join("\n") + "\n"),
        &acme3,
        "truncated",
    );
    // A row of another tenant slipped in.
    let mut mixed = lines.clone();
    let mut other: Value = serde_json::from_str(lines[2]).expect("json");
    other["row"]["tenant_id"] = json!(Uuid::now_v7().to_string());
    let other = other.to_string();
    mixed[2] = &other;
    assert_import_refused(&app.db, &(mixed.join("\n") + "\n"), &acme3, "tenant_id");
    assert!(tenant_id(&app.db, &acme3).is_none());
}

#[tokio::test]
async fn import_refuses_an_existing_code_another_schema_and_a_bad_code() {
    let (app, _, _, acme, bravo) = populated().await;
    let export = ok(&tenantry(&app.db.url, &["tenant", "export", &acme]));
    assert_import_refused(&app.db, &export, &bravo, "already exists");
    assert_import_refused(&app.db, &export, &acme, "already exists");
    assert_import_refused(&app.db, &export, "Not A Code", "invalid tenant code");

    let mut lines: Vec<String> = export.lines().map(str::to_string).collect();
    let mut header: Value = serde_json::from_str(&lines[0]).expect("header");
    header["schema_version"] = json!("20000101000000");
    lines[0] = header.to_string();
    assert_import_refused(
        &app.db,
        &(lines.join("\n") + "\n"),
        &tenant_code("acme4"),
        "schema version",
    );

    let unknown = tenantry(&app.db.url, &["tenant", "export", &tenant_code("nobody")]);
    assert!(!unknown.status.success());
    assert!(
        unknown.stdout.is_empty(),
        "nothing written for an unknown tenant"
    );
}

#[tokio::test]
async fn tenant_delete_removes_every_row_of_the_tenant_and_prints_counts() {
    let (app, a, b, acme, _) = populated().await;
    let before_a = tenant_fingerprint(&app.db, a);
    let before_b = tenant_fingerprint(&app.db, b);
    assert_every_table_has_rows(&before_a);
    assert!(before_a["audit_logs"].0 >= 3);
    let out = ok(&tenantry(&app.db.url, &["tenant", "delete", &acme]));
    assert!(
        out.contains(&format!("deleted tenant {acme} ({a})")),
        "{out}"
    );
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

    let again = tenantry(&app.db.url, &["tenant", "delete", &acme]);
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
    crate::skip_on_citus!(
        "it adds a column to users, which would change the schema under every other test sharing the distributed database"
    );
    let (app, a, _, _, _) = populated().await;
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
