//! The schema rules that keep tenants apart and the
//! schema ready for Citus (docs/scaling.md), checked on the real migrated schema from
//! the catalog, so every table added later is held to them too:
//!
//! - every table with a `tenant_id` column has it `NOT NULL`, as the first column of its
//!   primary key and of every unique constraint and unique index;
//! - every foreign key between tenant tables includes `tenant_id` on both sides;
//! - no foreign key from a tenant table is `ON DELETE SET NULL` (or `SET DEFAULT`): on a
//!   composite key it would null or reset `tenant_id` itself;
//! - the tenant tables are exactly `TENANT_TABLES`, listed parents before children.

use diesel::prelude::*;
use diesel::sql_types::Text;
use tenantry::repos::tenants::TENANT_TABLES;

use crate::harness::TestDb;

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

fn lines(conn: &mut PgConnection, sql: &str) -> Vec<String> {
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .expect("catalog query")
        .into_iter()
        .map(|l| l.line)
        .collect()
}

/// Tables of the public schema with a `tenant_id` column, and that column's number
/// (partitions are checked through their parent).
const TENANT_TABLES_SQL: &str = "
    SELECT c.oid AS rel, c.relname, a.attnum, a.attnotnull
      FROM pg_class c
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition";

/// Every violation of the rules in the schema behind `conn`, one line each.
fn violations(conn: &mut PgConnection) -> Vec<String> {
    let mut found = Vec::new();
    let t = TENANT_TABLES_SQL;
    found.extend(lines(
        conn,
        &format!("WITH t AS ({t}) SELECT relname || ': tenant_id is nullable' AS line FROM t WHERE NOT attnotnull"),
    ));
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT t.relname || ': primary key does not start with tenant_id' AS line FROM t
              WHERE NOT EXISTS (SELECT 1 FROM pg_index i
                                 WHERE i.indrelid = t.rel AND i.indisprimary AND i.indkey[0] = t.attnum)"
        ),
    ));
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT t.relname || ': unique index ' || i.indexrelid::regclass::text
                    || ' does not start with tenant_id' AS line
               FROM t JOIN pg_index i ON i.indrelid = t.rel
              WHERE i.indisunique AND i.indkey[0] <> t.attnum"
        ),
    ));
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT src.relname || ': foreign key ' || con.conname || ' to ' || dst.relname
                    || ' does not include tenant_id' AS line
               FROM pg_constraint con
               JOIN t src ON src.rel = con.conrelid
               JOIN t dst ON dst.rel = con.confrelid
              WHERE con.contype = 'f' AND con.conparentid = 0
                AND NOT EXISTS (SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(c, f)
                                 WHERE k.c = src.attnum AND k.f = dst.attnum)"
        ),
    ));
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT src.relname || ': foreign key ' || con.conname || ' is ON DELETE '
                    || CASE con.confdeltype WHEN 'n' THEN 'SET NULL' ELSE 'SET DEFAULT' END AS line
               FROM pg_constraint con JOIN t src ON src.rel = con.conrelid
              WHERE con.contype = 'f' AND con.conparentid = 0 AND con.confdeltype IN ('n', 'd')"
        ),
    ));
    let tables = lines(
        conn,
        &format!("SELECT relname::text AS line FROM ({t}) t ORDER BY 1"),
    );
    for table in &tables {
        if !TENANT_TABLES.contains(&table.as_str()) {
            found.push(format!(
                "{table}: has tenant_id but is not in TENANT_TABLES"
            ));
        }
    }
    for table in TENANT_TABLES {
        if !tables.iter().any(|t| t == table) {
            found.push(format!(
                "{table}: in TENANT_TABLES but has no tenant_id column"
            ));
        }
    }
    // Parents before children: an import inserts in this order.
    let edges = lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT src.relname || ' ' || dst.relname AS line
               FROM pg_constraint con
               JOIN t src ON src.rel = con.conrelid
               JOIN t dst ON dst.rel = con.confrelid
              WHERE con.contype = 'f' AND con.conparentid = 0 AND src.rel <> dst.rel"
        ),
    );
    let rank = |name: &str| TENANT_TABLES.iter().position(|t| *t == name);
    for edge in edges {
        if let Some((child, parent)) = edge.split_once(' ')
            && let (Some(c), Some(p)) = (rank(child), rank(parent))
            && p > c
        {
            found.push(format!(
                "{child} references {parent}, which TENANT_TABLES lists after it"
            ));
        }
    }
    found
}

#[test]
fn the_migrated_schema_follows_the_tenant_rules() {
    let db = TestDb::new();
    let found = violations(&mut db.conn());
    assert!(
        found.is_empty(),
        "schema rule violations:\n{}",
        found.join("\n")
    );
}

/// The checks themselves catch what they are for (so a green run means something).
#[test]
fn the_rule_checks_catch_violations() {
    crate::skip_on_citus!(
        "its deliberately broken tables would become Citus local tables in the database every test shares; the checks are the same SQL as on a single node"
    );
    let db = TestDb::new();
    db.exec(
        "CREATE TABLE bad_parent (tenant_id uuid REFERENCES tenants (id), id uuid PRIMARY KEY,
                                  code text UNIQUE);
         CREATE TABLE bad_child (tenant_id uuid NOT NULL REFERENCES tenants (id),
                                 id uuid NOT NULL, parent_id uuid REFERENCES bad_parent (id)
                                 ON DELETE SET NULL, PRIMARY KEY (tenant_id, id));",
    );
    let found = violations(&mut db.conn()).join("\n");
    for needle in [
        "bad_parent: tenant_id is nullable",
        "bad_parent: primary key does not start with tenant_id",
        "bad_parent: unique index bad_parent_code_key does not start with tenant_id",
        "bad_child: foreign key bad_child_parent_id_fkey to bad_parent does not include tenant_id",
        "bad_child: foreign key bad_child_parent_id_fkey is ON DELETE SET NULL",
        "bad_parent: has tenant_id but is not in TENANT_TABLES",
        "bad_child: has tenant_id but is not in TENANT_TABLES",
    ] {
        assert!(found.contains(needle), "missing {needle:?} in:\n{found}");
    }
}

/// `scripts/citus/distribute.sql` distributes every tenant table by `tenant_id`,
/// colocated with `users`, each after the tables it references (foreign keys read from
/// the catalog), after making `tenants` a reference table with local reference-table
/// foreign keys switched off.
#[test]
fn citus_script_distributes_every_tenant_table_after_its_parents() {
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/citus/distribute.sql"
    ))
    .expect("distribute.sql");
    let at = |needle: &str| {
        sql.find(needle)
            .unwrap_or_else(|| panic!("distribute.sql lacks {needle:?}"))
    };
    let setting = at("SET citus.enable_local_reference_table_foreign_keys = off;");
    let reference = at("create_reference_table('tenants')");
    assert!(setting < reference);
    let users = at("SELECT pg_temp.distribute('users', 'tenant_id', 'default');");
    assert!(reference < users);
    let position = |table: &str| {
        if table == "users" {
            users
        } else {
            at(&format!(
                "SELECT pg_temp.distribute('{table}', 'tenant_id', 'users');"
            ))
        }
    };
    for table in TENANT_TABLES {
        assert!(position(table) > users || *table == "users");
        assert!(
            sql.contains(&format!("'{table}'")),
            "{table} is in the checked list"
        );
    }
    let db = TestDb::new();
    let edges = lines(
        &mut db.conn(),
        &format!(
            "WITH t AS ({TENANT_TABLES_SQL})
             SELECT src.relname || ' ' || dst.relname AS line
               FROM pg_constraint con
               JOIN t src ON src.rel = con.conrelid
               JOIN t dst ON dst.rel = con.confrelid
              WHERE con.contype = 'f' AND con.conparentid = 0 AND src.rel <> dst.rel"
        ),
    );
    for edge in edges {
        let (child, parent) = edge.split_once(' ').expect("edge");
        assert!(
            position(parent) < position(child),
            "{child} is distributed after {parent}"
        );
    }
}

/// Tables held to row-level security: every table with `tenant_id` (partitions
/// included, since a partition read directly is checked against its own policies), and
/// `tenants` keyed by `id` (on a Citus worker also its shards, `tenants_<shard id>`).
const RLS_TABLES_SQL: &str = "
    SELECT c.oid AS rel, c.relname, c.relrowsecurity, c.relforcerowsecurity,
           CASE WHEN c.relname ~ '^tenants(_[0-9]+)?$' THEN 'id' ELSE 'tenant_id' END AS key
      FROM pg_class c
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND (c.relname ~ '^tenants(_[0-9]+)?$' OR EXISTS (
            SELECT 1 FROM pg_attribute a
             WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped))";

/// Every violation of the third wall (docs/security.md) in the database behind
/// `conn`, one line each:
///
/// - every tenant table has row-level security enabled and forced, a policy for every
///   role and command comparing its tenant column with the tenant setting (both
///   `USING` and `WITH CHECK`), and no other policy but the platform role's;
/// - the application role has no superuser, create-role, create-database, replication or
///   `BYPASSRLS` attribute, is a member of no role, owns nothing, has exactly the row
///   privileges on the tenant tables, and nothing on other tables but `tenants`.
pub fn rls_violations(conn: &mut PgConnection) -> Vec<String> {
    use tenantry::db::pool::{APP_ROLE, PLATFORM_ROLE};
    let t = RLS_TABLES_SQL;
    let mut found = Vec::new();
    found.extend(lines(
        conn,
        &format!("WITH t AS ({t}) SELECT relname || ': row-level security is not enabled' AS line FROM t WHERE NOT relrowsecurity"),
    ));
    found.extend(lines(
        conn,
        &format!("WITH t AS ({t}) SELECT relname || ': row-level security is not forced' AS line FROM t WHERE NOT relforcerowsecurity"),
    ));
    // The tenant policy: permissive, for all commands and every role (polroles {0}),
    // with the same tenant comparison on reads and on writes.
    let expected = "(%s = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"
        .replace('\'', "''");
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT t.relname || ': no policy keyed by the tenant setting' AS line FROM t
              WHERE NOT EXISTS (
                    SELECT 1 FROM pg_policy p
                     WHERE p.polrelid = t.rel AND p.polpermissive AND p.polcmd = '*'
                       AND p.polroles = '{{0}}'
                       AND pg_get_expr(p.polqual, p.polrelid) = format('{expected}', t.key)
                       AND pg_get_expr(p.polwithcheck, p.polrelid) = format('{expected}', t.key))"
        ),
    ));
    // Any other permissive policy widens what someone sees: only the platform role's.
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT t.relname || ': policy ' || p.polname || ' is neither the tenant policy nor the platform role''s' AS line
               FROM t JOIN pg_policy p ON p.polrelid = t.rel
              WHERE p.polpermissive
                AND NOT (pg_get_expr(p.polqual, p.polrelid) = format('{expected}', t.key))
                AND p.polroles <> ARRAY['{PLATFORM_ROLE}'::regrole::oid]"
        ),
    ));
    found.extend(lines(
        conn,
        &format!(
            "SELECT '{APP_ROLE}: has ' || concat_ws(', ',
                        CASE WHEN rolsuper THEN 'SUPERUSER' END,
                        CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
                        CASE WHEN rolcreatedb THEN 'CREATEDB' END,
                        CASE WHEN rolreplication THEN 'REPLICATION' END,
                        CASE WHEN rolbypassrls THEN 'BYPASSRLS' END) AS line
               FROM pg_roles WHERE rolname = '{APP_ROLE}'
                AND (rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication OR rolbypassrls)
             UNION ALL
             SELECT '{APP_ROLE}: does not exist' WHERE to_regrole('{APP_ROLE}') IS NULL
             UNION ALL
             SELECT '{APP_ROLE}: is a member of ' || m.roleid::regrole::text
               FROM pg_auth_members m WHERE m.member = to_regrole('{APP_ROLE}')"
        ),
    ));
    found.extend(lines(
        conn,
        &format!(
            "SELECT '{APP_ROLE}: owns ' || what AS line FROM (
                 SELECT 'relation ' || oid::regclass::text AS what FROM pg_class WHERE relowner = to_regrole('{APP_ROLE}')
                 UNION ALL SELECT 'function ' || oid::regprocedure::text FROM pg_proc WHERE proowner = to_regrole('{APP_ROLE}')
                 UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspowner = to_regrole('{APP_ROLE}')
                 UNION ALL SELECT 'type ' || oid::regtype::text FROM pg_type WHERE typowner = to_regrole('{APP_ROLE}')
                 UNION ALL SELECT 'database ' || datname FROM pg_database WHERE datdba = to_regrole('{APP_ROLE}')
             ) owned"
        ),
    ));
    // Row privileges: exactly SELECT, INSERT, UPDATE, DELETE on every tenant table.
    found.extend(lines(
        conn,
        &format!(
            "WITH t AS ({t})
             SELECT t.relname || ': {APP_ROLE} lacks ' || p AS line
               FROM t CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p
              WHERE t.key <> 'id' AND NOT has_table_privilege('{APP_ROLE}', t.rel, p)
             UNION ALL
             SELECT c.relname || ': {APP_ROLE} has ' || p
               FROM pg_class c CROSS JOIN unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                AND has_table_privilege('{APP_ROLE}', c.oid, p)
             UNION ALL
             SELECT c.relname || ': {APP_ROLE} has ' || p || ' on a table that is not a tenant table'
               FROM pg_class c CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
                AND c.oid NOT IN (SELECT rel FROM t)
                -- An extension's own views (Citus's citus_tables, readable by everyone).
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                                 WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                   AND d.deptype = 'e')
                AND has_table_privilege('{APP_ROLE}', c.oid, p)
             UNION ALL
             SELECT 'tenants: {APP_ROLE} has ' || p
               FROM unnest(ARRAY['INSERT', 'DELETE']) AS p
              WHERE has_table_privilege('{APP_ROLE}', 'tenants', p)
             UNION ALL
             SELECT 'tenants: {APP_ROLE} may update column ' || attname
               FROM pg_attribute
              WHERE attrelid = 'tenants'::regclass AND attnum > 0 AND NOT attisdropped
                AND attname <> 'updated_at'
                AND has_column_privilege('{APP_ROLE}', 'tenants'::regclass, attnum, 'UPDATE')
             UNION ALL
             SELECT p.oid::regprocedure::text || ': {APP_ROLE} may execute it'
               FROM pg_proc p
              WHERE p.pronamespace = 'public'::regnamespace
                AND p.proname IN ('ensure_audit_log_partitions', 'tenantry_protect', 'tenantry_unprotect', 'tenantry_grant_app')
                AND has_function_privilege('{APP_ROLE}', p.oid, 'EXECUTE')"
        ),
    ));
    found
}

#[test]
fn every_tenant_table_is_held_to_row_level_security_and_the_app_role_is_least_privilege() {
    let db = TestDb::new();
    let mut conn = db.conn();
    let found = rls_violations(&mut conn);
    assert!(
        found.is_empty(),
        "row-level security violations:\n{}",
        found.join("\n")
    );
    // The rules saw every tenant table, the partitions and `tenants`.
    let checked = lines(
        &mut conn,
        &format!("SELECT relname::text AS line FROM ({RLS_TABLES_SQL}) t"),
    );
    for table in TENANT_TABLES
        .iter()
        .copied()
        .chain(["tenants", "audit_logs_default"])
    {
        assert!(checked.iter().any(|c| c == table), "{table} was checked");
    }
    assert!(
        checked
            .iter()
            .filter(|c| c.starts_with("audit_logs_"))
            .count()
            >= 4,
        "monthly partitions are checked: {checked:?}"
    );
}

/// On Citus the same rules hold on every worker, where the rows are: each shard of a
/// tenant table (and of `tenants`) has row-level security enabled and forced and the
/// tenant policy, and the application role exists there with exactly the same
/// attributes and row privileges (Citus opens its worker connections as that role).
#[test]
fn on_citus_every_shard_is_held_to_row_level_security() {
    crate::skip_on_citus_not!("a single node has no shards");
    let db = TestDb::new();
    let workers = crate::harness::worker_urls(&db.name);
    assert!(
        !workers.is_empty(),
        "TENANTRY_TEST_CITUS_WORKERS names the workers"
    );
    for url in workers {
        let mut conn = diesel::PgConnection::establish(&url).expect("connect to worker");
        // Citus hides the shards from catalog queries of ordinary sessions.
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            "SET citus.show_shards_for_app_name_prefixes = '*'",
        )
        .expect("show shards");
        let shards = lines(
            &mut conn,
            "SELECT c.relname AS line FROM pg_class c
              WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                AND c.relname ~ '^(tenants|users|tasks|idempotency_keys)_[0-9]+$'",
        );
        for table in ["tenants", "users", "tasks", "idempotency_keys"] {
            assert!(
                shards.iter().any(|s| s.starts_with(&format!("{table}_"))),
                "{url}: no shard of {table} on this worker, so the check means nothing"
            );
        }
        let found = rls_violations(&mut conn);
        assert!(found.is_empty(), "{url}:\n{}", found.join("\n"));
    }
}

/// A new tenant table without the third wall, a partition made without it, a policy
/// that widens access and a role given too much are all caught.
#[test]
fn the_rls_checks_catch_violations() {
    crate::skip_on_citus!(
        "it adds a policy open to everyone and unprotected tables, which would weaken the \
         database every test shares; the checks are the same SQL as on a single node, and \
         on_citus_every_shard_is_held_to_row_level_security runs them on the workers"
    );
    let db = TestDb::new();
    db.exec(
        "CREATE TABLE unprotected (tenant_id uuid NOT NULL REFERENCES tenants (id),
                                   id uuid NOT NULL, PRIMARY KEY (tenant_id, id));
         REVOKE DELETE ON unprotected FROM tenantry_app;
         CREATE TABLE audit_logs_2099_01 PARTITION OF audit_logs
             FOR VALUES FROM ('2099-01-01') TO ('2099-02-01');
         REVOKE ALL ON audit_logs_2099_01 FROM tenantry_app;
         CREATE POLICY everyone ON items USING (true);
         CREATE TABLE lookup (code text PRIMARY KEY);
         GRANT TRUNCATE ON tasks TO tenantry_app;",
    );
    let found = rls_violations(&mut db.conn()).join("\n");
    for needle in [
        "unprotected: row-level security is not enabled",
        "unprotected: row-level security is not forced",
        "unprotected: no policy keyed by the tenant setting",
        "unprotected: tenantry_app lacks DELETE",
        "audit_logs_2099_01: row-level security is not enabled",
        "audit_logs_2099_01: tenantry_app lacks SELECT",
        "items: policy everyone is neither the tenant policy nor the platform role's",
        "lookup: tenantry_app has SELECT on a table that is not a tenant table",
        "tasks: tenantry_app has TRUNCATE",
    ] {
        assert!(found.contains(needle), "missing {needle:?} in:\n{found}");
    }
}

/// A partition made later (by `/utils/db/optimize`, through the function migrations
/// use) gets row-level security, the policies and the grants as it is made.
#[test]
fn partitions_made_later_are_protected_as_they_are_made() {
    // Its own database: dropping a partition must not take other tests' audit rows.
    let db = TestDb::own();
    // Drop next month's partition, as if the months had passed; ensure makes it again.
    db.exec(
        "DO $$ BEGIN EXECUTE format('DROP TABLE audit_logs_%s',
             to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 month', 'YYYY_MM')); END $$",
    );
    let created =
        tenantry::db::migrations::ensure_audit_partitions(&mut db.conn()).expect("ensure");
    assert_eq!(created.len(), 1);
    let found = rls_violations(&mut db.conn());
    assert!(found.is_empty(), "{}", found.join("\n"));
}
