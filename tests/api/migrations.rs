//! Migrations: up, down to zero, up again, and the schema is the same.

use diesel::prelude::*;
use tenantry::db::migrations;

use crate::harness::TestDb;

#[derive(QueryableByName, Debug, PartialEq)]
struct Line {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// A textual description of every table, column, constraint, index and function of
/// the public schema, in a stable order.
fn describe(conn: &mut PgConnection) -> Vec<String> {
    // concat_ws skips NULLs (a column without a default, say).
    let sql = "
        SELECT concat_ws(' ', 'column', table_name || '.' || column_name, data_type, is_nullable, column_default) AS line
          FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL
        SELECT concat_ws(' ', 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid))
          FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT concat_ws(' ', 'index', indexname, indexdef) FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL
        SELECT concat_ws(' ', 'function', p.proname, md5(p.prosrc))
          FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
        UNION ALL
        SELECT concat_ws(' ', 'partition', c.relname, pg_get_expr(c.relpartbound, c.oid))
          FROM pg_class c WHERE c.relispartition AND c.relnamespace = 'public'::regnamespace
        ORDER BY 1";
    diesel::sql_query(sql)
        .load::<Line>(conn)
        .expect("describe schema")
        .into_iter()
        .map(|l| l.line)
        .collect()
}

#[test]
fn up_down_up_gives_the_same_schema() {
    crate::skip_on_citus!(
        "reverting every migration drops the distributed tables every other test shares; migrations up and down are a single-node check"
    );
    let db = TestDb::new();
    let mut conn = db.conn();
    let first = describe(&mut conn);
    assert!(
        first.iter().any(|l| l.starts_with("column audit_logs.")),
        "template is migrated"
    );
    let reverted = migrations::revert_all(&mut conn).expect("down to zero");
    assert!(!reverted.is_empty());
    let left: Vec<String> = describe(&mut conn)
        .into_iter()
        .filter(|l| !l.contains("__diesel_schema_migrations"))
        .collect();
    assert!(left.is_empty(), "down.sql leaves nothing behind: {left:?}");
    migrations::run_pending(&mut conn).expect("up again");
    assert_eq!(describe(&mut conn), first);
}

#[test]
fn audit_partitions_exist_for_this_month_and_the_next_two() {
    let db = TestDb::new();
    for months in 0..=2 {
        let name = db.scalar(&format!(
            "SELECT count(*) FROM pg_class WHERE relname = 'audit_logs_' || \
             to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '{months} month', 'YYYY_MM')"
        ));
        assert_eq!(name, 1, "partition {months} months ahead");
    }
    assert_eq!(
        db.scalar("SELECT count(*) FROM pg_class WHERE relname = 'audit_logs_default'"),
        1
    );
    // Running again creates nothing new.
    let created = migrations::ensure_audit_partitions(&mut db.conn()).expect("ensure");
    assert!(created.is_empty());
}
