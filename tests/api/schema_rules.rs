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
