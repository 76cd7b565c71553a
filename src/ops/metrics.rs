//! Tenant metrics (docs/API.md §9): one set-based upsert computes today's row for every tenant
//! at once, however many tenants there are (never a query per tenant).
//!
//! What is counted is data: [`COUNTED`] pairs a `tenant_metrics` column with the table it
//! counts, so a table added later is counted by adding one line; measures without a line
//! keep their column default, 0.
//!
//! `storage_used_mb` is an estimate: the sum of `pg_column_size` of each of the tenant's
//! rows in [`STORAGE_TABLES`] (the row as stored, compressed values included as
//! compressed, out-of-line values at their full size), over 1 MiB. It leaves out indexes,
//! dead rows and free space, which belong to the table rather than to one tenant, so the
//! database is larger on disk than the sum over tenants. It reads every row once, which
//! is why it runs as maintenance and not per request.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::error::AppError;
use crate::repos::tenants::TENANT_TABLES;

/// `(tenant_metrics column, table counted)`.
pub const COUNTED: &[(&str, &str)] = &[
    ("user_count", "users"),
    ("project_count", "projects"),
    ("task_count", "tasks"),
    ("item_count", "items"),
    ("expense_count", "expenses"),
    ("audit_log_count", "audit_logs"),
];

/// The metrics table itself: bookkeeping about a tenant, not the tenant's data, so it
/// does not count towards its storage.
const METRICS_TABLE: &str = "tenant_metrics";

/// Tenant tables whose rows make up a tenant's storage: every tenant table but the
/// metrics themselves.
pub fn storage_tables() -> impl Iterator<Item = &'static str> {
    TENANT_TABLES
        .iter()
        .copied()
        .filter(|t| *t != METRICS_TABLE)
}

/// Bytes per MiB, as SQL.
const MIB: &str = "1048576.0";

/// One `SELECT` per table, `UNION ALL`ed: `(tbl, tenant_id, n, bytes)` grouped by tenant.
/// Table names come from the constants above, never from input.
fn per_table_sql(where_clause: &str) -> String {
    let mut tables: Vec<&str> = storage_tables().collect();
    for (_, table) in COUNTED {
        if !tables.contains(table) {
            tables.push(table);
        }
    }
    tables
        .iter()
        .map(|t| {
            format!(
                "SELECT '{t}'::text AS tbl, x.tenant_id, count(*) AS n, \
                 coalesce(sum(pg_column_size(x.*)), 0) AS bytes \
                 FROM {t} x {where_clause} GROUP BY x.tenant_id"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

/// `storage_used_mb` from the per-table rows `p`, rounded to the kB.
fn storage_sql() -> String {
    let names = storage_tables()
        .map(|t| format!("'{t}'"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("round(coalesce(sum(p.bytes) FILTER (WHERE p.tbl IN ({names})), 0) / {MIB}, 3)::float8")
}

/// The upsert: today's (UTC) row for every tenant, tenants without rows included.
fn refresh_sql() -> String {
    let counted_columns: Vec<&str> = COUNTED.iter().map(|(c, _)| *c).collect();
    let counted_values: Vec<String> = COUNTED
        .iter()
        .map(|(_, t)| format!("coalesce(sum(p.n) FILTER (WHERE p.tbl = '{t}'), 0)::bigint"))
        .collect();
    let mut columns = counted_columns.clone();
    columns.extend(["active_users", "storage_used_mb", "refreshed_at"]);
    let updates = columns
        .iter()
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "WITH per_table AS ({per_table}), \
         logins AS (SELECT tenant_id, count(*) AS n FROM users \
                    WHERE last_login_at >= now() - interval '30 days' GROUP BY tenant_id) \
         INSERT INTO tenant_metrics (tenant_id, date, {columns}) \
         SELECT t.id, (now() AT TIME ZONE 'UTC')::date, {values}, \
                coalesce(max(l.n), 0)::bigint, {storage}, now() \
         FROM tenants t \
         LEFT JOIN per_table p ON p.tenant_id = t.id \
         LEFT JOIN logins l ON l.tenant_id = t.id \
         GROUP BY t.id \
         ON CONFLICT (tenant_id, date) DO UPDATE SET {updates}",
        per_table = per_table_sql(""),
        columns = columns.join(", "),
        values = counted_values.join(", "),
        storage = storage_sql(),
    )
}

/// Upserts today's metrics row of every tenant; returns the number of tenants.
/// Running it again the same day overwrites that day's rows (one row per tenant per day).
pub fn refresh(conn: &mut PgConnection) -> Result<usize, AppError> {
    Ok(diesel::sql_query(refresh_sql()).execute(conn)?)
}

/// One tenant table's share for one tenant.
#[derive(Debug, Clone, QueryableByName, serde::Serialize, utoipa::ToSchema)]
pub struct TableUsage {
    #[diesel(sql_type = Text, column_name = tbl)]
    pub table: String,
    #[diesel(sql_type = BigInt)]
    pub rows: i64,
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
}

/// Rows and estimated bytes of one tenant in each tenant table (the same estimate as
/// `storage_used_mb`), largest first, in one statement.
pub fn usage_of(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Vec<TableUsage>, AppError> {
    let sql = format!(
        "SELECT tbl, n::bigint AS rows, bytes::bigint AS bytes FROM ({}) p \
         ORDER BY bytes DESC, tbl",
        TENANT_TABLES
            .iter()
            .map(|t| format!(
                "SELECT '{t}'::text AS tbl, count(*) AS n, \
                 coalesce(sum(pg_column_size(x.*)), 0) AS bytes FROM {t} x WHERE x.tenant_id = $1"
            ))
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    );
    Ok(diesel::sql_query(sql)
        .bind::<SqlUuid, _>(tenant_id)
        .load(conn)?)
}

/// MiB of a tenant's storage from its [`usage_of`] rows, as `storage_used_mb` counts it.
pub fn storage_mb(usage: &[TableUsage]) -> f64 {
    let bytes: i64 = usage
        .iter()
        .filter(|u| storage_tables().any(|t| t == u.table))
        .map(|u| u.bytes)
        .sum();
    (bytes as f64 / 1_048_576.0 * 1000.0).round() / 1000.0
}

/// Audit rows of one tenant in the last 24 hours (served by the time index; touches
/// only the partitions of the last day).
pub fn audit_logs_last_day(conn: &mut PgConnection, tenant_id: Uuid) -> Result<i64, AppError> {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let c: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM audit_logs \
         WHERE tenant_id = $1 AND \"timestamp\" >= now() - interval '24 hours'",
    )
    .bind::<SqlUuid, _>(tenant_id)
    .get_result(conn)?;
    Ok(c.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_counted_table_is_a_tenant_table_and_columns_are_distinct() {
        for (column, table) in COUNTED {
            assert!(TENANT_TABLES.contains(table), "{table}");
            assert!(column.ends_with("_count"), "{column}");
        }
        let mut columns: Vec<_> = COUNTED.iter().map(|(c, _)| c).collect();
        columns.sort();
        columns.dedup();
        assert_eq!(columns.len(), COUNTED.len());
        assert!(!storage_tables().any(|t| t == METRICS_TABLE));
    }

    #[test]
    fn the_refresh_is_one_statement_over_all_tenants() {
        let sql = refresh_sql();
        assert_eq!(sql.matches("INSERT INTO").count(), 1);
        assert!(sql.contains("FROM tenants t"));
        assert!(!sql.contains("$1"), "no per-tenant parameter");
        for (column, table) in COUNTED {
            assert!(sql.contains(column) && sql.contains(&format!("FROM {table} x")));
        }
    }

    #[test]
    fn storage_is_rounded_to_the_kilobyte() {
        let usage = vec![
            TableUsage {
                table: "users".into(),
                rows: 1,
                bytes: 1_048_576,
            },
            TableUsage {
                table: METRICS_TABLE.into(),
                rows: 1,
                bytes: 1_048_576,
            },
        ];
        assert_eq!(storage_mb(&usage), 1.0);
    }
}
