//! The third wall alone (docs/security.md): through the tenant path
//! (`db::read_for` / `db::write_for`), PostgreSQL itself shows and changes only the
//! caller's rows, even for SQL with no tenant filter at all; the composite foreign keys
//! hold with row-level security off; and the tenant setting never leaks through the
//! pool (a pool of one connection, tenants interleaved, a failed transaction and a
//! dropped request between them), while the platform path still sees every tenant.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::Request;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use serde_json::json;
use tenantry::auth::TenantContext;
use tenantry::db;
use tenantry::error::AppError;
use tenantry::repos::tenants::TENANT_TABLES;
use uuid::Uuid;

use crate::harness::{TenantFixture, TestApp};
use crate::ops_support::{populate_every_domain, refresh_metrics};

/// The context the JWT extractor builds for `token` (the only way to make one).
async fn context(app: &TestApp, token: &str) -> TenantContext {
    let (mut parts, _) = Request::builder()
        .uri("/api/v1/tenant")
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .expect("request")
        .into_parts();
    TenantContext::from_request_parts(&mut parts, &app.state)
        .await
        .expect("tenant context")
}

#[derive(QueryableByName, Debug)]
struct TenantOfRow {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// `tenant_id` of every row of `table`, read with no WHERE at all.
fn unfiltered(conn: &mut PgConnection, table: &str) -> Result<Vec<Uuid>, AppError> {
    Ok(diesel::sql_query(format!("SELECT tenant_id FROM {table}"))
        .load::<TenantOfRow>(conn)?
        .into_iter()
        .map(|r| r.tenant_id)
        .collect())
}

fn count(conn: &mut PgConnection, sql: &str) -> Result<i64, AppError> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn)?.n)
}

/// Two tenants with rows in every tenant table.
async fn two_populated_tenants(app: &TestApp) -> (TenantFixture, TenantFixture) {
    let a = app.tenant("rls-a").await;
    let b = app.tenant("rls-b").await;
    populate_every_domain(app, &a).await;
    populate_every_domain(app, &b).await;
    refresh_metrics(&app.db).await;
    (a, b)
}

#[tokio::test]
async fn unfiltered_sql_on_the_tenant_path_sees_and_changes_only_the_callers_rows() {
    let app = TestApp::new().await;
    let (a, b) = two_populated_tenants(&app).await;
    let ctx = context(&app, &a.admin.token).await;

    for table in TENANT_TABLES.iter().copied().chain(["audit_logs_default"]) {
        let rows = db::read_for(&app.state, &ctx, move |conn, _| unfiltered(conn, table))
            .await
            .expect("read");
        let total = app.db.scalar(&format!("SELECT count(*) FROM {table}"));
        let own = app.db.scalar(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
            a.id
        ));
        assert!(rows.iter().all(|t| *t == a.id), "{table}: only A's rows");
        assert_eq!(rows.len() as i64, own, "{table}: every one of A's rows");
        if table != "audit_logs_default" {
            assert!(
                total > own,
                "{table}: B has rows too, so the test means something"
            );
        }
    }
    // `tenants` shows the caller's own row only.
    let tenants = db::read_for(&app.state, &ctx, |conn, _| {
        count(conn, "SELECT count(*) AS n FROM tenants")
    })
    .await
    .expect("tenants");
    assert_eq!(tenants, 1);

    // In every table, an unfiltered UPDATE and DELETE (children first, in a savepoint
    // rolled back afterwards) touch exactly A's rows.
    let touched = db::write_for(&app.state, &ctx, |conn, _| {
        let mut touched = Vec::new();
        let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
            for table in TENANT_TABLES.iter().rev() {
                let updated =
                    diesel::sql_query(format!("UPDATE {table} SET tenant_id = tenant_id"))
                        .execute(conn)?;
                let deleted = diesel::sql_query(format!("DELETE FROM {table}")).execute(conn)?;
                touched.push((*table, updated, deleted));
            }
            Err(diesel::result::Error::RollbackTransaction)
        });
        Ok(touched)
    })
    .await
    .expect("unfiltered writes");
    assert_eq!(touched.len(), TENANT_TABLES.len());
    for (table, updated, deleted) in touched {
        let own = app.db.scalar(&format!(
            "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
            a.id
        ));
        assert!(own > 0, "{table}: A has rows");
        assert_eq!((updated as i64, deleted as i64), (own, own), "{table}");
    }

    // UPDATE and DELETE without a tenant filter touch A's rows only (committed).
    let b_items = app.db.scalar(&format!(
        "SELECT count(*) FROM items WHERE tenant_id = '{}'",
        b.id
    ));
    let b_titles = app.db.scalar(&format!(
        "SELECT count(*) FROM tasks WHERE tenant_id = '{}' AND title NOT LIKE 'rls %'",
        b.id
    ));
    let a_tasks = app.db.scalar(&format!(
        "SELECT count(*) FROM tasks WHERE tenant_id = '{}'",
        a.id
    ));
    let (updated, deleted) = db::write_for(&app.state, &ctx, |conn, _| {
        let u = diesel::sql_query("UPDATE tasks SET title = 'rls ' || title").execute(conn)?;
        let d = diesel::sql_query("DELETE FROM items").execute(conn)?;
        Ok((u, d))
    })
    .await
    .expect("write");
    assert_eq!(updated as i64, a_tasks);
    assert!(deleted > 0);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM items WHERE tenant_id = '{}'",
            a.id
        )),
        0
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM items WHERE tenant_id = '{}'",
            b.id
        )),
        b_items,
        "B's items are untouched"
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM tasks WHERE tenant_id = '{}' AND title NOT LIKE 'rls %'",
            b.id
        )),
        b_titles,
        "B's tasks are untouched"
    );
}

#[tokio::test]
async fn an_insert_naming_another_tenant_is_refused_by_the_policy() {
    let app = TestApp::new().await;
    let a = app.tenant("rls-ins-a").await;
    let b = app.tenant("rls-ins-b").await;
    let ctx = context(&app, &a.admin.token).await;
    let (b_id, b_admin) = (b.id, b.admin.id);
    let refused = db::write_for(&app.state, &ctx, move |conn, _| {
        // In a savepoint, so the error is ours to look at and the transaction lives on.
        let attempt = conn.transaction(|conn| {
            diesel::sql_query(
                "INSERT INTO projects (tenant_id, id, name, owner_id) VALUES ($1, $2, 'intruder', $3)",
            )
            .bind::<SqlUuid, _>(b_id)
            .bind::<SqlUuid, _>(Uuid::now_v7())
            .bind::<SqlUuid, _>(b_admin)
            .execute(conn)
        });
        Ok(attempt.map_err(|e| e.to_string()))
    })
    .await
    .expect("transaction");
    let message = refused.expect_err("the insert is refused");
    assert!(
        message.contains("row-level security policy"),
        "refused by the policy: {message}"
    );
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM projects WHERE name = 'intruder'"),
        0
    );
    // Moving a row to another tenant is refused the same way.
    let project = app
        .post("/api/v1/projects", &a.admin.token, json!({"name": "mine"}))
        .await;
    project.expect(201, None);
    let id = project.id();
    let moved = db::write_for(&app.state, &ctx, move |conn, _| {
        let attempt = conn.transaction(|conn| {
            diesel::sql_query("UPDATE projects SET tenant_id = $1 WHERE id = $2")
                .bind::<SqlUuid, _>(b_id)
                .bind::<SqlUuid, _>(id)
                .execute(conn)
        });
        Ok(attempt.map_err(|e| e.to_string()))
    })
    .await
    .expect("transaction");
    assert!(moved.is_err(), "a row cannot be moved out of the tenant");
}

/// The second wall alone: with row-level security switched off, a task still cannot
/// point at another tenant's project.
#[tokio::test]
async fn with_rls_off_the_composite_keys_still_refuse_a_cross_tenant_reference() {
    // A database of its own: switching row-level security off must not disturb the
    // other tests (on Citus they share one database).
    let app = TestApp::own().await;
    let a = app.tenant("rls-fk-a").await;
    let b = app.tenant("rls-fk-b").await;
    let project = app
        .post("/api/v1/projects", &b.admin.token, json!({"name": "b's"}))
        .await;
    project.expect(201, None);
    let b_project = project.id();
    // One command per message: on Citus, DDL on a distributed table in a message of
    // several commands fails ("cannot insert multiple commands into a prepared statement").
    for t in TENANT_TABLES.iter().chain(&["tenants"]) {
        app.db.exec(&format!(
            "ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY, DISABLE ROW LEVEL SECURITY"
        ));
    }
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM pg_class WHERE relname = 'tasks' AND relrowsecurity"),
        0
    );
    let ctx = context(&app, &a.admin.token).await;
    let a_id = a.id;
    let refused = db::write_for(&app.state, &ctx, move |conn, _| {
        let attempt = conn.transaction(|conn| {
            diesel::sql_query(
                "INSERT INTO tasks (tenant_id, id, project_id, title) VALUES ($1, $2, $3, 'sneaky')",
            )
            .bind::<SqlUuid, _>(a_id)
            .bind::<SqlUuid, _>(Uuid::now_v7())
            .bind::<SqlUuid, _>(b_project)
            .execute(conn)
        });
        Ok(attempt.map_err(|e| e.to_string()))
    })
    .await
    .expect("transaction");
    let message = refused.expect_err("refused");
    assert!(message.contains("foreign key"), "{message}");
    // And with RLS off the unfiltered read does see B: the walls are independent.
    let seen = db::read_for(&app.state, &ctx, |conn, _| unfiltered(conn, "projects"))
        .await
        .expect("read");
    assert!(seen.contains(&b.id));
}

/// Lists `/api/v1/projects` as `tenant` and asserts every project is its own.
async fn sees_only_own_projects(app: &TestApp, tenant: &TenantFixture, own: &[Uuid]) {
    let r = app
        .get("/api/v1/projects?limit=100", &tenant.admin.token)
        .await;
    r.expect(200, None);
    let ids: Vec<Uuid> = r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|p| Uuid::parse_str(p["id"].as_str().expect("id")).expect("uuid"))
        .collect();
    assert_eq!(ids.len(), own.len(), "{}: {}", tenant.code, r.text);
    assert!(ids.iter().all(|id| own.contains(id)), "{}", tenant.code);
}

#[tokio::test]
async fn the_tenant_setting_never_leaks_through_a_pool_of_one_connection() {
    let app = TestApp::with_env(&[("DB_POOL_SIZE", "1")]).await;
    assert_eq!(app.state.pool.max_size(), 1);
    let a = app.tenant("leak-a").await;
    let b = app.tenant("leak-b").await;
    let mut own_a = Vec::new();
    let mut own_b = Vec::new();
    for i in 0..3 {
        let r = app
            .post(
                "/api/v1/projects",
                &a.admin.token,
                json!({"name": format!("a{i}")}),
            )
            .await;
        own_a.push(r.id());
        let r = app
            .post(
                "/api/v1/projects",
                &b.admin.token,
                json!({"name": format!("b{i}")}),
            )
            .await;
        own_b.push(r.id());
    }
    let ctx_a = context(&app, &a.admin.token).await;
    let ctx_b = context(&app, &b.admin.token).await;

    // After a request: the connection (the only one) carries no tenant.
    sees_only_own_projects(&app, &a, &own_a).await;
    let left = db::unscoped(&app.state, |conn| {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Nullable<Text>)]
            v: Option<String>,
        }
        Ok(
            diesel::sql_query("SELECT current_setting('app.tenant_id', true) AS v")
                .get_result::<Setting>(conn)?
                .v,
        )
    })
    .await
    .expect("setting");
    assert!(left.unwrap_or_default().is_empty(), "no tenant left behind");
    let unscoped_rows = db::unscoped(&app.state, |conn| {
        count(conn, "SELECT count(*) AS n FROM projects")
    })
    .await
    .expect("unscoped");
    assert_eq!(unscoped_rows, 0, "without a tenant nothing is visible");

    // A request of A that fails in the middle of its transaction.
    let failed = db::write_for(&app.state, &ctx_a, |conn, _| {
        diesel::sql_query("UPDATE projects SET name = 'half-done'").execute(conn)?;
        diesel::sql_query("SELECT 1/0").execute(conn)?;
        Ok(())
    })
    .await;
    assert!(failed.is_err());
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM projects WHERE name = 'half-done'"),
        0,
        "rolled back"
    );
    sees_only_own_projects(&app, &b, &own_b).await;

    // A request of A whose client goes away while its query runs: the future is
    // dropped, the query finishes on the blocking pool, the connection comes back.
    let slow = db::read_for(&app.state, &ctx_a, |conn, _| {
        diesel::sql_query("SELECT pg_sleep(0.3)").execute(conn)?;
        unfiltered(conn, "projects")
    });
    assert!(
        tokio::time::timeout(Duration::from_millis(50), slow)
            .await
            .is_err(),
        "the request was abandoned"
    );
    let after_hang_up = db::read_for(&app.state, &ctx_b, |conn, _| unfiltered(conn, "projects"))
        .await
        .expect("read");
    assert_eq!(after_hang_up.len(), own_b.len());
    assert!(after_hang_up.iter().all(|t| *t == b.id));

    // Interleaved, concurrently, on the one connection.
    let mut handles = Vec::new();
    for i in 0..20 {
        let (state, ctx, me) = if i % 2 == 0 {
            (app.state.clone(), ctx_a.clone(), a.id)
        } else {
            (app.state.clone(), ctx_b.clone(), b.id)
        };
        handles.push(tokio::spawn(async move {
            let rows = db::read_for(&state, &ctx, |conn, _| unfiltered(conn, "projects"))
                .await
                .expect("read");
            assert_eq!(rows.len(), 3);
            assert!(rows.iter().all(|t| *t == me));
        }));
    }
    for h in handles {
        h.await.expect("interleaved request");
    }
    sees_only_own_projects(&app, &a, &own_a).await;
    sees_only_own_projects(&app, &b, &own_b).await;

    // The platform path, after all that, still sees every tenant (both of this test's:
    // on Citus the database is shared with other tests' tenants).
    let sql = format!(
        "SELECT count(*) AS n FROM projects WHERE tenant_id IN ('{}', '{}')",
        a.id, b.id
    );
    let everyone = db::platform(&app.state, move |conn| count(conn, &sql))
        .await
        .expect("platform");
    assert_eq!(everyone, 6);
}

/// Only the files listed in `db::platform::CALLERS` call the platform path; tenant
/// handlers call `read_for` / `write_for` only.
#[test]
fn only_the_listed_files_reach_the_platform_path() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path
                .strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("read file");
            if (text.contains("db::platform(") || text.contains("platform_pool"))
                && !tenantry::db::platform::CALLERS.contains(&rel.as_str())
                && !matches!(
                    rel.as_str(),
                    "db/mod.rs" | "db/pool.rs" | "app.rs" | "db/platform.rs"
                )
            {
                offenders.push(rel);
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "unlisted platform callers: {offenders:?}"
    );
}

/// The three ways `DATABASE_URL` may log in: as a superuser (every other test), as the
/// owner (not a superuser), or as a restricted login with `MIGRATION_DATABASE_URL`
/// naming the owner. In each, tenant requests run as the application role.
#[tokio::test]
async fn the_server_works_as_the_owner_and_as_a_restricted_login() {
    use crate::harness::{TestDb, with_login};
    use tenantry::app::App;
    use tenantry::db::{migrations, pool};

    crate::skip_on_citus!(
        "the test makes an empty database and migrates it as a non-superuser owner; a \
         Citus database needs a superuser to set up (CREATE EXTENSION citus, \
         citus_add_node) before its owner migrates, and every other test runs the tenant \
         path as the application role there"
    );
    let tag = Uuid::new_v4().simple().to_string()[..8].to_string();
    let (owner, api, secret) = (
        format!("own_{tag}"),
        format!("api_{tag}"),
        format!("pw{tag}"),
    );
    let db = tokio::task::spawn_blocking(TestDb::empty)
        .await
        .expect("db");
    // What a DBA does once: the owner (no superuser, no CREATEROLE) and the server's
    // login, each given the roles the migrations expect.
    db.exec(&format!(
        "CREATE ROLE {owner} LOGIN PASSWORD '{secret}' NOSUPERUSER NOCREATEROLE NOCREATEDB;
         CREATE ROLE {api} LOGIN PASSWORD '{secret}' NOSUPERUSER NOCREATEROLE NOCREATEDB;
         GRANT tenantry_app, tenantry_platform TO {owner};
         GRANT tenantry_app TO {api};
         ALTER DATABASE {} OWNER TO {owner};",
        db.name
    ));
    let owner_url = with_login(&db.url, &owner, &secret);
    let api_url = with_login(&db.url, &api, &secret);
    let migrate_url = owner_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&migrate_url).expect("owner connects");
        migrations::run_pending(&mut conn).expect("the owner migrates");
    })
    .await
    .expect("migrate");
    let superuser_url = db.url.clone();

    // The restricted login, with the owner for the platform path.
    let app = TestApp::with_logins(db, &api_url, &owner_url, &[]);
    let a = app.tenant("login-a").await;
    let b = app.tenant("login-b").await;
    for (t, name) in [(&a, "a's"), (&b, "b's")] {
        app.post("/api/v1/projects", &t.admin.token, json!({"name": name}))
            .await
            .expect(201, None);
    }
    let ctx_a = context(&app, &a.admin.token).await;
    let seen = db::read_for(&app.state, &ctx_a, |conn, _| unfiltered(conn, "projects"))
        .await
        .expect("read");
    assert_eq!(seen, vec![a.id]);
    let everyone = db::platform(&app.state, |conn| {
        count(conn, "SELECT count(*) AS n FROM projects")
    })
    .await
    .expect("platform");
    assert_eq!(everyone, 2);
    // Platform maintenance as the owner (no superuser): a partition made again, every
    // tenant's metrics refreshed, through the policies.
    let next_month = "'audit_logs_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') \
                      + interval '1 month', 'YYYY_MM')";
    app.db.exec(&format!(
        "DO $$ BEGIN EXECUTE format('DROP TABLE %I', {next_month}); END $$"
    ));
    let r = app
        .post("/utils/db/optimize", &app.platform_token(), json!({}))
        .await;
    r.expect(200, None);
    assert!(
        r.body["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["ok"] == true),
        "{}",
        r.text
    );
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM pg_class WHERE relname = {next_month} AND relrowsecurity AND relforcerowsecurity"
        )),
        1,
        "the partition the owner made is protected"
    );
    assert_eq!(
        app.db.scalar(
            "SELECT count(DISTINCT tenant_id) FROM tenant_metrics WHERE date = current_date"
        ),
        2,
        "metrics of every tenant"
    );

    // The login itself, without the server's SET ROLE: nothing without a tenant, and no
    // access to platform tables at all.
    let api_check = api_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = PgConnection::establish(&api_check).expect("api connects");
        assert_eq!(
            count(&mut conn, "SELECT count(*) AS n FROM projects").expect("count"),
            0
        );
        assert!(count(&mut conn, "SELECT count(*) AS n FROM login_throttles").is_err());
        assert!(
            diesel::sql_query("SET ROLE tenantry_platform")
                .execute(&mut conn)
                .is_err()
        );
    })
    .await
    .expect("api login");

    // A backup with DATABASE_URL naming the restricted login dumps as the owner, through
    // the policies (row-level security is forced on the owner too), every tenant's rows.
    let dir = crate::harness::open_tempdir();
    let out = crate::ops_support::ok(&crate::ops_support::script(
        "backup.sh",
        &[],
        &[
            ("DATABASE_URL", api_url.as_str()),
            ("MIGRATION_DATABASE_URL", owner_url.as_str()),
            ("BACKUP_DIR", dir.path().to_str().expect("dir")),
        ],
    ));
    assert!(out.contains("backup: wrote"), "{out}");
    let dump = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "dump"))
        .expect("a dump");
    let restored = tokio::task::spawn_blocking(TestDb::empty)
        .await
        .expect("db");
    crate::ops_support::ok(&crate::ops_support::script(
        "restore.sh",
        &[dump.to_str().expect("path"), &restored.url],
        &[],
    ));
    assert_eq!(restored.scalar("SELECT count(*) FROM projects"), 2);

    // The owner for both pools (DATABASE_URL names the owner): tenant connections switch
    // to the application role.
    let owner_app = App::new(
        crate::harness::test_config(&owner_url, &[]),
        pool::build_pools(
            &owner_url,
            &owner_url,
            &pool::PoolOptions {
                max_size: 2,
                acquire_timeout: Duration::from_secs(5),
                statement_timeout: Duration::from_secs(10),
                slow_query: Duration::from_secs(1),
            },
        ),
        crate::harness::JWT_SECRET,
    );
    let seen = db::read_for(&owner_app, &ctx_a, |conn, _| {
        #[derive(QueryableByName)]
        struct Who {
            #[diesel(sql_type = Text)]
            who: String,
        }
        let who = diesel::sql_query("SELECT current_user::text AS who")
            .get_result::<Who>(conn)?
            .who;
        Ok((who, unfiltered(conn, "projects")?))
    })
    .await
    .expect("read as owner");
    assert_eq!(seen, ("tenantry_app".to_string(), vec![a.id]));
    let everyone = db::platform(&owner_app, |conn| {
        count(conn, "SELECT count(*) AS n FROM projects")
    })
    .await
    .expect("platform as owner");
    assert_eq!(everyone, 2);
    drop(owner_app);

    // Leave no roles behind on a shared server: hand what the owner owns back, let the
    // test database go (it ends the pools' sessions), then drop the logins.
    let mut admin = PgConnection::establish(&superuser_url).expect("superuser");
    use diesel::connection::SimpleConnection;
    admin
        .batch_execute(&format!(
            "REASSIGN OWNED BY {owner} TO CURRENT_USER; DROP OWNED BY {owner}; DROP OWNED BY {api};"
        ))
        .expect("reassign");
    drop(admin);
    drop(app);
    let (head, _) = superuser_url.rsplit_once('/').expect("database in URL");
    let postgres_url = format!("{head}/postgres");
    tokio::task::spawn_blocking(move || {
        let mut admin = PgConnection::establish(&postgres_url).expect("superuser");
        admin
            .batch_execute(&format!("DROP ROLE {owner}; DROP ROLE {api};"))
            .expect("drop the logins");
    })
    .await
    .expect("cleanup");
}
