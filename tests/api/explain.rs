//! Every query the repositories ran while serving list, read and write requests is
//! EXPLAINed on a table with enough rows: none may scan a tenant table sequentially.
//!
//! The SQL is captured as Diesel ran it (with `$n` placeholders), prepared, and planned
//! as a generic plan (`plan_cache_mode = force_generic_plan`), which is the plan shape
//! that holds for any parameter values, as the application role with the tenant set, so
//! the plans include row-level security's conditions.
//!
//! In Citus mode the same capture is the routing check (docs/scaling.md): every
//! statement shape that touches a tenant table is planned with the tenant's id for its
//! uuid parameters, and must run as a single task (`Task Count: 1`, a router query on
//! one shard), except the platform-wide jobs listed in [`FAN_OUT`].

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::json;

use crate::harness::{TestApp, citus};

/// Statement shapes allowed to read every shard, by a phrase of their SQL: the
/// platform-wide jobs (metrics refresh and database statistics), never a tenant
/// request.
const FAN_OUT: &[(&str, &str)] = &[
    (
        "INSERT INTO tenant_metrics",
        "metrics refresh: every tenant's counts",
    ),
    (
        "FROM run_command_on_workers",
        "/utils/db/stats: every shard's statistics",
    ),
    ("FROM citus_shards", "/utils/db/stats: every shard's size"),
    ("GROUP BY tenant_id", "metrics refresh: rows per tenant"),
    (
        "DELETE FROM \"login_throttles\" WHERE (\"login_throttles\".\"window_started_at\"",
        "optimize: expired login throttles of every tenant",
    ),
    (
        "DELETE FROM idempotency_keys WHERE created_at <=",
        "optimize: expired idempotency keys of every tenant",
    ),
];

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = diesel::sql_types::Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_repository_query_scans_a_tenant_table() {
    // On Citus it also runs the platform-wide jobs: a database of its own.
    let app = TestApp::own().await;
    let t = app.tenant("explain").await;
    let member = app.user(&t, "member").await;
    let project = app
        .post(
            "/api/v1/projects",
            &t.admin.token,
            json!({"name": "p", "owner_id": member.id}),
        )
        .await
        .id();
    let task = app
        .post(
            &format!("/api/v1/projects/{project}/tasks"),
            &t.admin.token,
            json!({"title": "t"}),
        )
        .await
        .id();

    // Bulk rows for 200 other tenants, so the planner has a reason to use indexes
    // (single node only: on Citus the check is where a statement runs, which does not
    // depend on the data).
    if !citus() {
        bulk_rows(&app, &t.code);
    }

    tenantry::db::instrumentation::start_capture();
    let tok = &t.admin.token;
    let u = member.id;
    requests(&app, tok, u, project, task).await;
    more_requests(&app, &t, &member).await;
    if citus() {
        // Platform-wide jobs, to show they are the only statements that fan out.
        let platform = app.platform_token();
        app.get("/utils/db/stats", &platform)
            .await
            .expect(200, None);
        app.post("/utils/db/optimize", &platform, json!({}))
            .await
            .expect(200, None);
    }
    let captured = tenantry::db::instrumentation::take_captured();
    if citus() {
        routing_check(&app, t.id, &captured);
    } else {
        no_sequential_scans(&app, t.id, &captured);
    }
}

/// Bulk rows for 200 other tenants.
fn bulk_rows(app: &TestApp, code: &str) {
    app.db.exec(&format!(
        "INSERT INTO tenants (id, name, code) SELECT gen_random_uuid(), 'bulk', 'bulk-' || g FROM generate_series(1, 200) g;
         INSERT INTO users (tenant_id, id, email, username, password_hash, role)
           SELECT id, gen_random_uuid(), 'u' || g || '@x.example', 'u', 'x', 'member'
           FROM tenants, generate_series(1, 10) g WHERE code LIKE 'bulk-%';
         INSERT INTO projects (tenant_id, id, name, owner_id)
           SELECT tenant_id, gen_random_uuid(), 'p', id FROM users WHERE email LIKE 'u%@x.example';
         INSERT INTO tasks (tenant_id, id, project_id, title, status, priority, due_at, assignee_id, completed_at)
           SELECT p.tenant_id, gen_random_uuid(), p.id, 't', s.status, g % 11,
                  CASE WHEN g % 3 = 0 THEN NULL ELSE now() + g * interval '1 hour' END, p.owner_id,
                  CASE WHEN s.status = 'completed' THEN now() END
           FROM projects p CROSS JOIN generate_series(1, 20) g
           CROSS JOIN LATERAL (SELECT (ARRAY['pending','in_progress','completed'])[1 + g % 3] AS status) s
           WHERE p.name = 'p' AND p.tenant_id <> (SELECT id FROM tenants WHERE code = '{code}');
         INSERT INTO budgets (tenant_id, id, category, period, amount_cents)
           SELECT t.id, gen_random_uuid(), c, date_trunc('month', now())::date - (m || ' month')::interval, 1000000
           FROM tenants t, unnest(ARRAY['travel','meals','lodging','supplies','software','other']) c, generate_series(0, 5) m
           WHERE t.code LIKE 'bulk-%';
         INSERT INTO expenses (tenant_id, id, submitter_id, category, amount_cents, description, incurred_on, status)
           SELECT u.tenant_id, gen_random_uuid(), u.id, (ARRAY['travel','meals','lodging'])[1 + g % 3], 100 + g, 'x',
                  current_date - g, (ARRAY['draft','submitted'])[1 + g % 2]
           FROM users u, generate_series(1, 20) g WHERE u.email LIKE 'u%@x.example';
         INSERT INTO audit_logs (tenant_id, id, user_id, action, resource_type, resource_id)
           SELECT tenant_id, gen_random_uuid(), assignee_id, 'task.created', 'task', id FROM tasks;
         ANALYZE;"
    ));
}

/// The read and write requests whose statements are checked.
async fn requests(app: &TestApp, tok: &str, u: uuid::Uuid, project: uuid::Uuid, task: uuid::Uuid) {
    for path in [
        "/api/v1/users".to_string(),
        "/api/v1/users?role=member&is_active=true".to_string(),
        format!("/api/v1/users/{u}"),
        "/api/v1/users/me".to_string(),
        "/api/v1/tenant".to_string(),
        "/api/v1/audit-logs".to_string(),
        format!("/api/v1/audit-logs?user_id={u}&action=task.created&from=2020-01-01T00:00:00Z"),
        format!("/api/v1/audit-logs?resource_type=task&resource_id={task}"),
        "/api/v1/projects".to_string(),
        format!("/api/v1/projects?owner_id={u}"),
        "/api/v1/projects?include=owner,task_counts".to_string(),
        format!("/api/v1/projects/{project}"),
        format!("/api/v1/projects/{project}/tasks"),
        "/api/v1/tasks".to_string(),
        "/api/v1/tasks?sort=created_at".to_string(),
        "/api/v1/tasks?sort=due_at".to_string(),
        "/api/v1/tasks?sort=-priority".to_string(),
        "/api/v1/tasks?status=pending".to_string(),
        format!("/api/v1/tasks?assignee_id={u}"),
        format!("/api/v1/tasks?project_id={project}&sort=due_at"),
        "/api/v1/tasks?due_before=2040-01-01T00:00:00Z&status=in_progress".to_string(),
        format!("/api/v1/tasks/{task}"),
        "/api/v1/budgets".to_string(),
        format!(
            "/api/v1/budgets?period={}&category=travel",
            chrono::Utc::now().format("%Y-%m")
        ),
        "/api/v1/expenses".to_string(),
        format!(
            "/api/v1/expenses?status=submitted&period={}",
            chrono::Utc::now().format("%Y-%m")
        ),
        format!("/api/v1/expenses?submitter_id={u}&category=travel"),
        "/api/v1/reports/expenses".to_string(),
        "/api/v1/reports/expenses?group_by=submitter&min_total_cents=10".to_string(),
    ] {
        app.get(&path, tok).await.expect(200, None);
        // The second page exercises the keyset conditions.
        let first = app
            .get(
                &format!(
                    "{path}{}limit=1",
                    if path.contains('?') { "&" } else { "?" }
                ),
                tok,
            )
            .await;
        if let Some(c) = first.body["next_cursor"].as_str() {
            let sep = if path.contains('?') { "&" } else { "?" };
            app.get(&format!("{path}{sep}limit=1&cursor={c}"), tok)
                .await
                .expect(200, None);
        }
    }
    app.patch(
        &format!("/api/v1/tasks/{task}"),
        tok,
        json!({"version": 1, "title": "u"}),
    )
    .await
    .expect(200, None);
    app.patch(
        &format!("/api/v1/tasks/{task}"),
        tok,
        json!({"version": 1, "title": "stale"}),
    )
    .await
    .expect(409, None);
    app.patch(
        &format!("/api/v1/projects/{project}"),
        tok,
        json!({"name": "q"}),
    )
    .await
    .expect(200, None);
    app.patch(
        &format!("/api/v1/users/{u}"),
        tok,
        json!({"username": "m2"}),
    )
    .await
    .expect(200, None);
    app.delete(&format!("/api/v1/tasks/{task}"), tok)
        .await
        .expect(204, None);
    app.delete(&format!("/api/v1/projects/{project}"), tok)
        .await
        .expect(204, None);
}

/// Items, budgets, the expense workflow and a login, for their statements.
async fn more_requests(
    app: &TestApp,
    t: &crate::harness::TenantFixture,
    member: &crate::harness::UserFixture,
) {
    let tok = &t.admin.token;
    let item = app
        .post("/api/v1/items", tok, json!({"title": "routing roadmap"}))
        .await;
    item.expect(201, None);
    let item = item.id();
    app.get("/api/v1/items?q=roadmap", tok)
        .await
        .expect(200, None);
    app.get(&format!("/api/v1/items/{item}"), tok)
        .await
        .expect(200, None);
    app.delete(&format!("/api/v1/items/{item}"), tok)
        .await
        .expect(204, None);
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    app.post(
        "/api/v1/budgets",
        tok,
        json!({"category": "travel", "period": period, "amount_cents": 100000}),
    )
    .await
    .expect(201, None);
    let e = app
        .post(
            "/api/v1/expenses",
            &member.token,
            json!({"category": "travel", "amount_cents": 500, "description": "taxi", "incurred_on": day}),
        )
        .await;
    e.expect(201, None);
    let e = e.id();
    app.post(
        &format!("/api/v1/expenses/{e}/submit"),
        &member.token,
        json!({"version": 1}),
    )
    .await
    .expect(200, None);
    app.post(
        &format!("/api/v1/expenses/{e}/approve"),
        tok,
        json!({"version": 2}),
    )
    .await
    .expect(200, None);
    app.call(
        axum::http::Method::POST,
        "/api/v1/auth/login",
        None,
        Some(json!({"tenant_code": t.code, "email": t.admin.email, "password": crate::harness::PASSWORD})),
    )
    .await
    .expect(200, None);
}

/// Whether a captured statement is one to plan: a query or change of a tenant table.
fn tenant_statement(sql: &str) -> bool {
    let upper = sql.trim_start().to_uppercase();
    let explainable = ["SELECT", "UPDATE", "DELETE", "WITH", "INSERT"]
        .iter()
        .any(|k| upper.starts_with(k));
    explainable
        && tenantry::repos::tenants::TENANT_TABLES
            .iter()
            .chain(["tenants", "login_throttles"].iter())
            .any(|t| sql.contains(&format!("\"{t}\"")) || sql.contains(&format!(" {t} ")))
}

/// The routing check: every tenant statement plans as one task on Citus.
fn routing_check(app: &TestApp, tenant: uuid::Uuid, captured: &[String]) {
    let mut conn = app.db.conn();
    let mut unique: Vec<&String> = captured.iter().filter(|s| tenant_statement(s)).collect();
    unique.sort();
    unique.dedup();
    let (mut single, mut exceptions, mut fan_out) = (0, Vec::new(), Vec::new());
    for sql in &unique {
        conn.batch_execute(&format!("DEALLOCATE ALL; PREPARE q AS {sql}"))
            .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
        #[derive(QueryableByName)]
        struct Types {
            #[diesel(sql_type = diesel::sql_types::Text)]
            types: String,
        }
        let types: Types = diesel::sql_query(
            "SELECT array_to_string(parameter_types::text[], ',') AS types \
             FROM pg_prepared_statements WHERE name = 'q'",
        )
        .get_result(&mut conn)
        .expect("parameter types");
        // Every uuid parameter gets the tenant's id (the distribution column is always
        // one of them; the others only decide rows, not shards), every other parameter
        // a plain value of its type.
        let args: Vec<String> = types
            .types
            .split(',')
            .filter(|t| !t.is_empty())
            .map(|t| match t {
                "uuid" => format!("'{tenant}'"),
                "uuid[]" => format!("ARRAY['{tenant}']::uuid[]"),
                "text" | "character varying" => "'x'".to_string(),
                "text[]" => "ARRAY['x']".to_string(),
                "date" => "current_date".to_string(),
                "timestamp with time zone" | "timestamp without time zone" => "now()".to_string(),
                "bigint" | "integer" | "smallint" | "real" | "double precision" | "numeric" => {
                    "1".to_string()
                }
                "bigint[]" | "integer[]" => "ARRAY[1]".to_string(),
                "boolean" => "true".to_string(),
                "jsonb" | "json" => "'{}'".to_string(),
                // A NULL can keep Citus from pruning (`period = NULL`); name the type.
                other => panic!("no sample value for parameter type {other}:\n{sql}"),
            })
            .collect();
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        conn.batch_execute("BEGIN").expect("begin");
        let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN EXECUTE q{args}"))
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("explain {sql}: {e}"));
        conn.batch_execute("ROLLBACK").expect("rollback");
        let plan = plan
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n");
        let tasks: Vec<u64> = plan
            .split("Task Count: ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next()?.parse().ok())
            .collect();
        if !tasks.is_empty() && tasks.iter().all(|n| *n == 1) {
            single += 1;
        } else if let Some((_, why)) = FAN_OUT.iter().find(|(phrase, _)| sql.contains(phrase)) {
            exceptions.push(format!("{why}: tasks {tasks:?}"));
        } else {
            fan_out.push(format!("tasks {tasks:?}:\n{sql}\n{plan}"));
        }
    }
    eprintln!(
        "routing check: {} statement shapes, {single} single-task, {} platform-wide exceptions:\n  {}",
        unique.len(),
        exceptions.len(),
        exceptions.join("\n  ")
    );
    assert!(
        fan_out.is_empty(),
        "tenant statements that do not run as one task:\n{}",
        fan_out.join("\n\n")
    );
    assert!(
        single >= 40,
        "only {single} single-task shapes were checked"
    );
}

/// The single-node check: no statement scans a tenant table holding rows sequentially.
fn no_sequential_scans(app: &TestApp, tenant: uuid::Uuid, captured: &[String]) {
    let tenant_tables = tenantry::repos::tenants::TENANT_TABLES;
    let mut conn = app.db.conn();
    conn.batch_execute("SET plan_cache_mode = force_generic_plan")
        .expect("generic plans");
    let mut checked = 0;
    let mut with_policy = 0;
    let mut unique: Vec<&String> = captured.iter().collect();
    unique.sort();
    unique.dedup();
    for sql in unique {
        let upper = sql.trim_start().to_uppercase();
        let explainable = ["SELECT", "UPDATE", "DELETE", "WITH"]
            .iter()
            .any(|k| upper.starts_with(k));
        if !explainable
            || !tenant_tables
                .iter()
                .any(|t| sql.contains(&format!("\"{t}\"")) || sql.contains(&format!(" {t} ")))
        {
            continue;
        }
        let params = (1..=40)
            .rev()
            .find(|n| sql.contains(&format!("${n}")))
            .unwrap_or(0);
        let args = if params == 0 {
            String::new()
        } else {
            format!("({})", vec!["NULL"; params].join(", "))
        };
        // Planned as the server runs it: as the application role, with row-level
        // security's tenant condition added to every tenant table. Writes are planned
        // inside a rolled-back transaction: EXPLAIN without ANALYZE does not run them,
        // but stay safe.
        conn.batch_execute(&format!(
            "BEGIN; SET LOCAL ROLE tenantry_app; SET LOCAL app.tenant_id = '{tenant}';
             DEALLOCATE ALL; PREPARE q AS {sql}"
        ))
        .unwrap_or_else(|e| panic!("prepare {sql}: {e}"));
        let plan: Vec<PlanLine> = diesel::sql_query(format!("EXPLAIN EXECUTE q{args}"))
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("explain {sql}: {e}"));
        conn.batch_execute("ROLLBACK").expect("rollback");
        let plan = plan
            .into_iter()
            .map(|l| l.line)
            .collect::<Vec<_>>()
            .join("\n");
        // (With NULL parameters, runtime pruning may remove every audit partition: such
        // a plan scans nothing, so it has no condition to show.)
        if plan.contains("current_setting('app.tenant_id'") || !plan.contains("Scan") {
            with_policy += 1;
        }
        // A sequential scan of an empty relation (a future audit partition) costs
        // nothing; one of a relation holding rows is a missing index.
        for scanned in plan
            .split("Seq Scan on ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next())
        {
            let is_tenant_relation = tenant_tables
                .iter()
                .any(|t| scanned == *t || scanned.starts_with(&format!("{t}_")));
            if is_tenant_relation {
                let rows = app.db.scalar(&format!(
                    "SELECT reltuples::bigint FROM pg_class WHERE relname = '{scanned}'"
                ));
                assert!(
                    rows <= 0,
                    "sequential scan of {scanned} ({rows} rows):\n{sql}\n{plan}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} queries were checked");
    assert_eq!(with_policy, checked, "every plan carries the tenant policy");
}
