//! Maintenance for `/utils/db` (docs/API.md §10): optimize (partitions, expired login
//! throttles, ANALYZE, tenant metrics), VACUUM and REINDEX.
//!
//! Table names never reach SQL from a request: a requested name is looked up in
//! [`OWN_TABLES`] and the *constant* found there is what is used, so anything else
//! (`users; DROP TABLE users`, `"users"`, `Users`) is refused before any SQL runs.
//! Names of the allow-list that this schema does not have (yet) are skipped.
//!
//! VACUUM and `REINDEX ... CONCURRENTLY` cannot run inside a transaction block; these
//! functions must be given a connection in autocommit mode (as `db::platform` hands out).

use diesel::prelude::*;
use diesel::sql_types::{Array, Text};

use std::time::Duration;

use super::{Runner, Step, metrics};
use crate::db::migrations;
use crate::error::AppError;
use crate::repos::logins;

/// The project's own tables, the only names VACUUM and REINDEX accept.
pub const OWN_TABLES: &[&str] = &[
    "tenants",
    "users",
    "projects",
    "tasks",
    "items",
    "budgets",
    "expenses",
    "audit_logs",
    "tenant_metrics",
];

/// The allow-listed constant equal to `requested`, or `422` naming the field.
pub fn allowed(requested: &str) -> Result<&'static str, AppError> {
    OWN_TABLES
        .iter()
        .copied()
        .find(|t| *t == requested)
        .ok_or_else(|| {
            AppError::invalid(
                "table",
                format!("must be one of: {}", OWN_TABLES.join(", ")),
            )
        })
}

/// The allow-listed tables that exist in the current schema, in allow-list order.
pub fn existing(conn: &mut PgConnection) -> Result<Vec<&'static str>, AppError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        relname: String,
    }
    let found: Vec<Name> = diesel::sql_query(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)",
    )
    .bind::<Array<Text>, _>(OWN_TABLES)
    .load(conn)?;
    Ok(OWN_TABLES
        .iter()
        .copied()
        .filter(|t| found.iter().any(|f| f.relname == *t))
        .collect())
}

/// The tables a request names: the one given (checked against the allow-list) or, when
/// none is given, every own table that exists. A valid name whose table does not exist
/// here gives an empty list.
fn targets(
    conn: &mut PgConnection,
    requested: Option<&str>,
) -> Result<Vec<&'static str>, AppError> {
    let requested = requested.map(allowed).transpose()?;
    let present = existing(conn)?;
    Ok(match requested {
        Some(t) => present.into_iter().filter(|p| *p == t).collect(),
        None => present,
    })
}

/// A quoted identifier. Only ever called with allow-list constants (plain lower-case
/// names), so quoting is belt and braces.
fn ident(table: &'static str) -> String {
    format!("\"{table}\"")
}

/// A catalog name as a quoted identifier (`"` doubled).
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The partitions of `table` (none when it is not partitioned), read from the catalog.
fn partitions_of(conn: &mut PgConnection, table: &'static str) -> Result<Vec<String>, AppError> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = Text)]
        relname: String,
    }
    let found: Vec<Name> = diesel::sql_query(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = to_regclass($1) ORDER BY c.relname",
    )
    .bind::<Text, _>(table)
    .load(conn)?;
    Ok(found.into_iter().map(|n| n.relname).collect())
}

/// Why an allow-listed name was not run.
const NOT_HERE: &str = "the table does not exist in this schema";

/// `VACUUM [(ANALYZE)]` each target table, one step per table, within `budget`. For
/// the partitioned `audit_logs`, PostgreSQL vacuums every partition.
pub fn vacuum(
    conn: &mut PgConnection,
    table: Option<&str>,
    analyze: bool,
    budget: Option<Duration>,
) -> Result<Vec<Step>, AppError> {
    // Validate before anything else runs.
    if let Some(t) = table {
        allowed(t)?;
    }
    let tables = targets(conn, table)?;
    let mut run = Runner::new(conn, budget)?;
    if let (Some(t), true) = (table, tables.is_empty()) {
        run.skip(format!("vacuum {t}"), NOT_HERE);
    }
    let options = if analyze { " (ANALYZE)" } else { "" };
    for t in tables {
        run.step(format!("vacuum {t}"), |conn| {
            diesel::sql_query(format!("VACUUM{options} {}", ident(t))).execute(conn)?;
            Ok(if analyze {
                "vacuumed and analyzed".into()
            } else {
                "vacuumed".into()
            })
        })?;
    }
    run.finish()
}

/// `REINDEX TABLE CONCURRENTLY` each target table, one step per table, within `budget`:
/// indexes are rebuilt without blocking reads or writes. The partitioned `audit_logs` is
/// reindexed partition by partition: a partitioned parent has no index storage of its
/// own, and Citus refuses `REINDEX TABLE` on a distributed partitioned table (each
/// partition is a distributed table it does reindex, shard by shard).
pub fn reindex(
    conn: &mut PgConnection,
    table: Option<&str>,
    budget: Option<Duration>,
) -> Result<Vec<Step>, AppError> {
    if let Some(t) = table {
        allowed(t)?;
    }
    let tables = targets(conn, table)?;
    let citus = super::stats::is_citus(conn)?;
    let mut run = Runner::new(conn, budget)?;
    if let (Some(t), true) = (table, tables.is_empty()) {
        run.skip(format!("reindex {t}"), NOT_HERE);
    }
    for t in tables {
        run.step(format!("reindex {t}"), |conn| {
            let parts = partitions_of(conn, t)?;
            if parts.is_empty() {
                diesel::sql_query(format!("REINDEX TABLE CONCURRENTLY {}", ident(t)))
                    .execute(conn)?;
                return Ok("indexes rebuilt concurrently".into());
            }
            // On Citus, one connection per worker: shards rebuilt in parallel on one
            // worker pick the same temporary `..._ccnew` name when the shard index names
            // are truncated to 63 bytes (the partitions' long index names are), and all
            // but one fail on pg_class's unique name.
            if citus {
                diesel::sql_query("SET citus.max_adaptive_executor_pool_size = 1").execute(conn)?;
            }
            let done = parts.iter().try_for_each(|part| {
                diesel::sql_query(format!("REINDEX TABLE CONCURRENTLY {}", quote_ident(part)))
                    .execute(conn)
                    .map(drop)
            });
            if citus {
                diesel::sql_query("RESET citus.max_adaptive_executor_pool_size").execute(conn)?;
            }
            done?;
            Ok(format!(
                "indexes rebuilt concurrently, partition by partition ({})",
                parts.len()
            ))
        })?;
    }
    run.finish()
}

/// `POST /utils/db/optimize`: the routine upkeep, each part its own step, within
/// `budget`.
pub fn optimize(conn: &mut PgConnection, budget: Option<Duration>) -> Result<Vec<Step>, AppError> {
    let mut run = Runner::new(conn, budget)?;
    run.step("ensure_audit_partitions", |conn| {
        let created = migrations::ensure_audit_partitions(conn).map_err(AppError::internal)?;
        Ok(if created.is_empty() {
            "all partitions present".into()
        } else {
            format!("created {}", created.join(", "))
        })
    })?;
    run.step("delete_expired_login_throttles", |conn| {
        let n = logins::delete_expired(conn)?;
        Ok(format!("{n} expired rows deleted"))
    })?;
    run.step("delete_expired_idempotency_keys", |conn| {
        let n = crate::repos::idempotency::delete_expired(conn, chrono::Utc::now())?;
        Ok(format!("{n} expired keys deleted"))
    })?;
    run.step("analyze", |conn| {
        let tables = existing(conn)?;
        let list = tables.iter().map(|t| ident(t)).collect::<Vec<_>>();
        diesel::sql_query(format!("ANALYZE {}", list.join(", "))).execute(conn)?;
        Ok(format!("analyzed {}", tables.join(", ")))
    })?;
    run.step("refresh_tenant_metrics", |conn| {
        let n = metrics::refresh(conn)?;
        Ok(format!("{n} tenants refreshed"))
    })?;
    run.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_allow_listed_names_pass() {
        assert_eq!(allowed("users").unwrap(), "users");
        for bad in [
            "users; DROP TABLE users",
            "\"users\"",
            "Users",
            " users",
            "pg_class",
            "",
            "login_throttles",
        ] {
            assert!(
                matches!(allowed(bad), Err(AppError::Validation(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn refusals_do_not_echo_the_input() {
        let Err(AppError::Validation(errors)) = allowed("x; DROP") else {
            panic!("refused");
        };
        assert_eq!(errors[0].field, "table");
        assert!(!errors[0].message.contains("DROP"));
    }
}
