//! Volume rows for load tests, generated inside PostgreSQL: one `INSERT ... SELECT`
//! over `generate_series` per table and batch of new tenants, so a million rows cost a
//! handful of statements, not a million bound rows sent from the client.
//!
//! A batch names its tenants and how many rows of each kind every one of them gets
//! (arrays bound as parameters); the statements read back the batch's own users and
//! projects to pick owners, assignees, submitters and parents, so every reference
//! stays inside its tenant. Table names are constants, as everywhere in `repos/`.
//!
//! Generated rows satisfy every rule the API keeps, not only the CHECK constraints:
//! viewers own and submit nothing, approvers are admins other than the submitter, a
//! budget's `spent_cents` is the sum of its approved expenses, and versions count the
//! workflow steps a row went through.
//!
//! On Citus each generator runs in two statements instead ([`execute`]): the rows are
//! generated into a temporary table on the coordinator, then copied into the
//! distributed table. Citus cannot plan these `INSERT ... SELECT`s with CTEs over
//! `unnest` of parameters ("attribute 1 of type record has wrong type"), and one of
//! them crashed the coordinator's backend; a plain `INSERT ... SELECT * FROM` a local
//! table is the shape it handles (it routes the rows to their shards).

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::models::tenant::NewTenant;
use crate::schema::tenants;

/// Rows per multi-row INSERT of tenants: well under PostgreSQL's 65 535 bind
/// parameters, and large enough that round trips do not dominate.
pub const INSERT_CHUNK: usize = 2_000;

/// Inserts tenants whose code is not taken, [`INSERT_CHUNK`] rows per statement;
/// returns the `(id, code)` of those added (existing codes are skipped).
pub fn insert_tenants(
    conn: &mut PgConnection,
    rows: Vec<NewTenant>,
) -> QueryResult<Vec<(Uuid, String)>> {
    let mut added = Vec::with_capacity(rows.len());
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<NewTenant> = rows.by_ref().take(INSERT_CHUNK).collect();
        added.extend(
            diesel::insert_into(tenants::table)
                .values(chunk)
                .on_conflict(tenants::code)
                .do_nothing()
                .returning((tenants::id, tenants::code))
                .load::<(Uuid, String)>(conn)?,
        );
    }
    Ok(added)
}

/// A UUIDv7 (RFC 9562) whose timestamp is `ms`, an SQL bigint of Unix milliseconds:
/// the random bits of a v4 with the timestamp laid over its first 48 bits and the
/// version raised from 4 to 7 (bits 52 and 53 of the bytea). PostgreSQL 15 has no
/// `uuidv7()`, and the server's ids are v7, time-ordered like the rows.
fn uuid7(ms: &str) -> String {
    format!(
        "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) \
         PLACING substring(int8send({ms}) FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid"
    )
}

/// The batch's tenants with their row count (`b`), their users by role (`u`: `admin`
/// the first admin, `writers` everyone but viewers, `members` the plain members or
/// NULL), and the transaction's clock (`c`).
const BATCH: &str = "
    b AS (SELECT * FROM unnest($1::uuid[], $2::bigint[]) AS b(tenant_id, n) WHERE n > 0),
    u AS (SELECT tenant_id,
                 (array_agg(id ORDER BY email) FILTER (WHERE role = 'admin'))[1] AS admin,
                 array_agg(id ORDER BY email) FILTER (WHERE role <> 'viewer') AS writers,
                 array_agg(id ORDER BY email) FILTER (WHERE role = 'member') AS members
            FROM users WHERE tenant_id = ANY($1) GROUP BY tenant_id),
    c AS (SELECT now() AS now, (extract(epoch FROM now()) * 1000)::bigint AS now_ms,
                 (now() AT TIME ZONE 'UTC')::date AS today)";

/// Milliseconds in 365 days: rows are spread over the past year.
const YEAR_MS: &str = "31536000000";

/// Runs one generator with the batch's tenants and per-tenant counts.
fn generate(
    conn: &mut PgConnection,
    sql: &str,
    tenants: &[Uuid],
    counts: &[i64],
) -> QueryResult<usize> {
    if counts.iter().all(|n| *n == 0) {
        return Ok(0);
    }
    execute(conn, sql, |q| {
        q.bind::<Array<SqlUuid>, _>(tenants)
            .bind::<Array<BigInt>, _>(counts)
    })
}

type BoxedQuery<'a> = diesel::query_builder::BoxedSqlQuery<'a, Pg, diesel::query_builder::SqlQuery>;

/// Runs a generator `WITH ... INSERT INTO t (columns) SELECT ...` with the parameters
/// `bind` adds: as it is on PostgreSQL, staged through a temporary table on Citus.
fn execute<'a>(
    conn: &mut PgConnection,
    sql: &'a str,
    bind: impl FnOnce(BoxedQuery<'a>) -> BoxedQuery<'a>,
) -> QueryResult<usize> {
    if !crate::db::citus::is_citus(conn)? {
        return bind(diesel::sql_query(sql).into_boxed()).execute(conn);
    }
    let [create, fill, copy] = staged(sql).ok_or_else(|| {
        diesel::result::Error::QueryBuilderError("a generator without INSERT INTO t (...)".into())
    })?;
    diesel::sql_query("DROP TABLE IF EXISTS pg_temp.seed_stage").execute(conn)?;
    diesel::sql_query(create).execute(conn)?;
    bind(diesel::sql_query(fill).into_boxed()).execute(conn)?;
    let n = diesel::sql_query(copy).execute(conn)?;
    diesel::sql_query("DROP TABLE pg_temp.seed_stage").execute(conn)?;
    Ok(n)
}

/// Splits a generator into three statements: an empty `seed_stage` with the target's
/// column types, the generator inserting into it instead (same parameters), and the
/// copy into the target.
fn staged(sql: &str) -> Option<[String; 3]> {
    let at = sql.find("INSERT INTO ")?;
    let open = at + sql[at..].find('(')?;
    let close = at + sql[at..].find(')')?;
    let table = sql[at + "INSERT INTO ".len()..open].trim();
    let columns = &sql[open + 1..close];
    let (with, select) = (&sql[..at], &sql[close + 1..]);
    Some([
        format!("CREATE TEMP TABLE seed_stage AS SELECT {columns} FROM {table} WITH NO DATA"),
        format!("INSERT INTO seed_stage ({columns}) {with}{select}"),
        format!("INSERT INTO {table} ({columns}) SELECT {columns} FROM seed_stage"),
    ])
}

/// `per_tenant` users for each new tenant: `user00001@<code>.test` is the admin, every
/// tenth a viewer, the rest members, all with the one precomputed `password_hash`.
pub fn users(
    conn: &mut PgConnection,
    tenants: &[Uuid],
    codes: &[String],
    per_tenant: i64,
    password_hash: &str,
) -> QueryResult<usize> {
    let id = uuid7("c.now_ms");
    let sql = format!(
        "WITH c AS (SELECT (extract(epoch FROM now()) * 1000)::bigint AS now_ms)
         INSERT INTO users (tenant_id, id, email, username, password_hash, role)
         SELECT t.id, {id},
                'user' || repeat('0', 5 - length(j::text)) || j || '@' || t.code || '.test',
                'User ' || j, $3,
                CASE WHEN j = 1 THEN 'admin' WHEN j % 10 = 0 THEN 'viewer' ELSE 'member' END
           FROM unnest($1::uuid[], $2::text[]) AS t(id, code)
          CROSS JOIN c CROSS JOIN generate_series(1, $4::bigint) AS j"
    );
    execute(conn, &sql, |q| {
        q.bind::<Array<SqlUuid>, _>(tenants)
            .bind::<Array<Text>, _>(codes)
            .bind::<Text, _>(password_hash)
            .bind::<BigInt, _>(per_tenant)
    })
}

/// `counts[i]` projects for tenant `i`, owned in turn by its admin and members,
/// created over the past year.
pub fn projects(conn: &mut PgConnection, tenants: &[Uuid], counts: &[i64]) -> QueryResult<usize> {
    let id = uuid7("m.ms");
    let sql = format!(
        "WITH {BATCH}
         INSERT INTO projects (tenant_id, id, name, description, owner_id, created_at, updated_at)
         SELECT b.tenant_id, {id}, 'Project ' || g,
                CASE WHEN g % 2 = 0 THEN 'Generated project ' || g || ' of ' || b.n END,
                u.writers[1 + (g - 1) % cardinality(u.writers)],
                to_timestamp(m.ms / 1000.0), to_timestamp(m.ms / 1000.0)
           FROM b JOIN u USING (tenant_id) CROSS JOIN c
          CROSS JOIN LATERAL generate_series(1, b.n) AS g
          CROSS JOIN LATERAL (SELECT c.now_ms - (g::float8 / b.n * {YEAR_MS})::bigint AS ms) AS m"
    );
    generate(conn, &sql, tenants, counts)
}

/// `counts[i]` tasks for tenant `i`, spread over its projects and the past year: 40 %
/// pending, 20 % in progress, 40 % completed (with `completed_at`), two in three with a
/// due date (some overdue), six in seven assigned.
pub fn tasks(conn: &mut PgConnection, tenants: &[Uuid], counts: &[i64]) -> QueryResult<usize> {
    let id = uuid7("m.ms");
    let sql = format!(
        "WITH {BATCH},
         p AS (SELECT tenant_id, array_agg(id ORDER BY id) AS ids
                 FROM projects WHERE tenant_id = ANY($1) GROUP BY tenant_id)
         INSERT INTO tasks (tenant_id, id, project_id, title, description, status, priority,
                            due_at, assignee_id, completed_at, created_at, updated_at)
         SELECT b.tenant_id, {id}, p.ids[1 + g % cardinality(p.ids)], 'Task ' || g,
                CASE WHEN g % 4 = 0 THEN 'Generated task ' || g || ' of ' || b.n END,
                x.status, (g * 7 % 11)::int,
                CASE WHEN g % 3 <> 0 THEN x.at + (7 + g % 60) * interval '1 day' END,
                CASE WHEN g % 7 <> 0 THEN u.writers[1 + g % cardinality(u.writers)] END,
                x.done, x.at, coalesce(x.done, x.at)
           FROM b JOIN u USING (tenant_id) JOIN p USING (tenant_id) CROSS JOIN c
          CROSS JOIN LATERAL generate_series(1, b.n) AS g
          CROSS JOIN LATERAL (SELECT c.now_ms - (g::float8 / b.n * {YEAR_MS})::bigint AS ms) AS m
          CROSS JOIN LATERAL (
                SELECT to_timestamp(m.ms / 1000.0) AS at,
                       CASE WHEN g % 5 < 2 THEN 'pending' WHEN g % 5 = 2 THEN 'in_progress'
                            ELSE 'completed' END AS status,
                       CASE WHEN g % 5 > 2
                            THEN least(to_timestamp(m.ms / 1000.0) + (1 + g % 72) * interval '1 hour', c.now)
                       END AS done) AS x"
    );
    generate(conn, &sql, tenants, counts)
}

/// `counts[i]` expenses for tenant `i`, incurred over the last 90 days (never in the
/// future), submitted by members and decided by the admin, a quarter in each status.
/// A tenant without members gets drafts and submitted ones only, submitted by its
/// admin: nobody else could approve them.
pub fn expenses(conn: &mut PgConnection, tenants: &[Uuid], counts: &[i64]) -> QueryResult<usize> {
    let id = uuid7("m.ms");
    let sql = format!(
        "WITH {BATCH}
         INSERT INTO expenses (tenant_id, id, submitter_id, category, amount_cents, currency,
                               description, incurred_on, status, version, approver_id,
                               decided_at, rejection_reason, created_at, updated_at)
         SELECT b.tenant_id, {id},
                coalesce(u.members[1 + g % cardinality(u.members)], u.admin),
                x.category, 500 + (g * 7919) % 50000, 'USD',
                'Generated expense ' || g || ': ' || x.category, x.day, x.status,
                CASE x.status WHEN 'draft' THEN 1 WHEN 'submitted' THEN 2 ELSE 3 END,
                CASE WHEN x.decided THEN u.admin END,
                CASE WHEN x.decided THEN least(x.at + interval '1 day', c.now) END,
                CASE WHEN x.status = 'rejected' THEN 'Generated: receipt missing' END,
                x.at, CASE WHEN x.decided THEN least(x.at + interval '1 day', c.now) ELSE x.at END
           FROM b JOIN u USING (tenant_id) CROSS JOIN c
          CROSS JOIN LATERAL generate_series(1, b.n) AS g
          CROSS JOIN LATERAL (SELECT c.today - ((g - 1)::float8 / b.n * 90)::int AS day) AS d
          CROSS JOIN LATERAL (
                SELECT d.day, (ARRAY['travel', 'meals', 'lodging', 'supplies', 'software', 'other'])[1 + g % 6] AS category,
                       CASE WHEN u.members IS NULL THEN (ARRAY['draft', 'submitted'])[1 + g % 2]
                            ELSE (ARRAY['draft', 'submitted', 'approved', 'rejected'])[1 + g % 4] END AS status,
                       u.members IS NOT NULL AND g % 4 >= 2 AS decided,
                       least((d.day - date '1970-01-01') * 86400000::bigint + 32400000 + (g % 8) * 3600000,
                             c.now_ms) AS ms) AS m
          CROSS JOIN LATERAL (SELECT m.*, to_timestamp(m.ms / 1000.0) AS at) AS x"
    );
    generate(conn, &sql, tenants, counts)
}

/// One budget per category and month in which the batch's tenants have expenses:
/// `spent_cents` is the sum of the approved ones (the version counts those debits), and
/// the amount leaves room to approve the rest.
pub fn budgets(conn: &mut PgConnection, tenants: &[Uuid]) -> QueryResult<usize> {
    let id = uuid7("(e.period - date '1970-01-01') * 86400000::bigint");
    let sql = format!(
        "INSERT INTO budgets (tenant_id, id, category, period, amount_cents, spent_cents, version,
                              created_at, updated_at)
         SELECT e.tenant_id, {id}, e.category, e.period,
                greatest(sum(e.amount_cents) * 5 / 4, 100000),
                coalesce(sum(e.amount_cents) FILTER (WHERE e.status = 'approved'), 0),
                1 + count(*) FILTER (WHERE e.status = 'approved'),
                e.period::timestamp AT TIME ZONE 'UTC', now()
           FROM expenses e WHERE e.tenant_id = ANY($1)
          GROUP BY e.tenant_id, e.category, e.period"
    );
    execute(conn, &sql, |q| q.bind::<Array<SqlUuid>, _>(tenants))
}

/// Words the generated items are made of, so searches find something.
const WORDS: &str = "ARRAY['budget', 'roadmap', 'invoice', 'customer', 'release', 'meeting',
    'contract', 'design', 'hiring', 'security', 'travel', 'office', 'vendor', 'launch',
    'report', 'training', 'support', 'marketing', 'database', 'network', 'policy',
    'onboarding', 'quarterly', 'feedback']";

/// `counts[i]` items for tenant `i`, owned by its admin and members, with titles and
/// descriptions drawn from a small vocabulary.
pub fn items(conn: &mut PgConnection, tenants: &[Uuid], counts: &[i64]) -> QueryResult<usize> {
    let id = uuid7("m.ms");
    let sql = format!(
        "WITH {BATCH}, w AS (SELECT {WORDS} AS words)
         INSERT INTO items (tenant_id, id, title, description, owner_id, created_at, updated_at)
         SELECT b.tenant_id, {id},
                initcap(w.words[1 + g % 24]) || ' ' || w.words[1 + (g * 5 + 7) % 24] || ' ' || g,
                'Notes on the ' || w.words[1 + (g * 7 + 3) % 24] || ' and the '
                    || w.words[1 + (g * 11 + 5) % 24] || ' of the ' || w.words[1 + (g * 13 + 1) % 24]
                    || ' team.',
                u.writers[1 + g % cardinality(u.writers)],
                to_timestamp(m.ms / 1000.0), to_timestamp(m.ms / 1000.0)
           FROM b JOIN u USING (tenant_id) CROSS JOIN c CROSS JOIN w
          CROSS JOIN LATERAL generate_series(1, b.n) AS g
          CROSS JOIN LATERAL (SELECT c.now_ms - (g::float8 / b.n * {YEAR_MS})::bigint AS ms) AS m"
    );
    generate(conn, &sql, tenants, counts)
}

/// Refreshes the planner's statistics of the seeded tables, so queries against the
/// new volume are planned for it at once rather than after autovacuum gets there.
pub fn analyze(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("ANALYZE tenants, users, projects, tasks, budgets, expenses, items")
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_generator_is_staged_through_a_temporary_table() {
        let [create, fill, copy] = super::staged(
            "WITH b AS (SELECT 1) INSERT INTO items (tenant_id, id) SELECT b.x, b.y FROM b",
        )
        .expect("staged");
        assert!(super::staged("SELECT 1").is_none());
        assert_eq!(
            create,
            "CREATE TEMP TABLE seed_stage AS SELECT tenant_id, id FROM items WITH NO DATA"
        );
        assert_eq!(
            fill,
            "INSERT INTO seed_stage (tenant_id, id) WITH b AS (SELECT 1)  SELECT b.x, b.y FROM b"
        );
        assert_eq!(
            copy,
            "INSERT INTO items (tenant_id, id) SELECT tenant_id, id FROM seed_stage"
        );
    }
}
