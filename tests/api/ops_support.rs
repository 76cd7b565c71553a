//! Helpers for the operator-command tests: running the `tenantry` binary and the
//! scripts, and fingerprinting tables so "identical" and "untouched" can be asserted
//! for every table, including ones added after these tests were written.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use tenantry::repos::tenant_data;
use uuid::Uuid;

use crate::harness::TestDb;

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
