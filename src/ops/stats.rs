//! Read-only database figures for `/utils/db`: server version and latency, table and
//! index statistics, and one tenant's footprint.

use std::time::Instant;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::metrics::{self, TableUsage};
use crate::error::AppError;
use crate::repos::tenants;

/// What one round trip to the server showed.
#[derive(Debug, Clone)]
pub struct Probe {
    pub latency_ms: f64,
    pub server_version: String,
}

/// Asks the server its version, timing the round trip.
pub fn probe(conn: &mut PgConnection) -> Result<Probe, AppError> {
    #[derive(QueryableByName)]
    struct Version {
        #[diesel(sql_type = Text)]
        v: String,
    }
    let started = Instant::now();
    let row: Version =
        diesel::sql_query("SELECT current_setting('server_version') AS v").get_result(conn)?;
    Ok(Probe {
        latency_ms: started.elapsed().as_secs_f64() * 1000.0,
        server_version: row.v,
    })
}

/// One table of the current schema (partitions of `audit_logs` are listed apart).
#[derive(Debug, Clone, Serialize, QueryableByName, ToSchema)]
pub struct TableStats {
    #[diesel(sql_type = Text)]
    pub name: String,
    /// `n_live_tup`: the statistics collector's estimate.
    #[diesel(sql_type = BigInt)]
    pub rows_estimate: i64,
    /// Heap, indexes and TOAST.
    #[diesel(sql_type = BigInt)]
    pub total_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub index_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub seq_scans: i64,
    #[diesel(sql_type = BigInt)]
    pub index_scans: i64,
}

/// One index of the current schema.
#[derive(Debug, Clone, Serialize, QueryableByName, ToSchema)]
pub struct IndexStats {
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Text)]
    pub table: String,
    #[diesel(sql_type = BigInt)]
    pub scans: i64,
    #[diesel(sql_type = BigInt)]
    pub bytes: i64,
}

/// Database-wide figures.
#[derive(Debug, Clone)]
pub struct DatabaseStats {
    pub database_bytes: i64,
    pub tables: Vec<TableStats>,
    pub indexes: Vec<IndexStats>,
}

/// Sizes and scan counts from `pg_stat_user_tables` / `pg_stat_user_indexes`, largest
/// first.
pub fn database(conn: &mut PgConnection) -> Result<DatabaseStats, AppError> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    let size: Size = diesel::sql_query("SELECT pg_database_size(current_database()) AS bytes")
        .get_result(conn)?;
    let tables = diesel::sql_query(
        "SELECT relname::text AS name, n_live_tup AS rows_estimate, \
                pg_total_relation_size(relid) AS total_bytes, pg_indexes_size(relid) AS index_bytes, \
                coalesce(seq_scan, 0) AS seq_scans, coalesce(idx_scan, 0) AS index_scans \
         FROM pg_stat_user_tables WHERE schemaname = current_schema() \
         ORDER BY total_bytes DESC, name",
    )
    .load(conn)?;
    let indexes = diesel::sql_query(
        "SELECT indexrelname::text AS name, relname::text AS \"table\", coalesce(idx_scan, 0) AS scans, \
                pg_relation_size(indexrelid) AS bytes \
         FROM pg_stat_user_indexes WHERE schemaname = current_schema() \
         ORDER BY bytes DESC, name",
    )
    .load(conn)?;
    Ok(DatabaseStats {
        database_bytes: size.bytes,
        tables,
        indexes,
    })
}

/// Row counts of one tenant. Tables this schema does not have yet count 0.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct TenantCounts {
    pub users: i64,
    pub projects: i64,
    pub tasks: i64,
    pub items: i64,
    pub expenses: i64,
    pub audit_logs: i64,
}

impl TenantCounts {
    fn from_usage(usage: &[TableUsage]) -> Self {
        let rows = |table: &str| {
            usage
                .iter()
                .find(|u| u.table == table)
                .map_or(0, |u| u.rows)
        };
        TenantCounts {
            users: rows("users"),
            projects: rows("projects"),
            tasks: rows("tasks"),
            items: rows("items"),
            expenses: rows("expenses"),
            audit_logs: rows("audit_logs"),
        }
    }
}

/// One tenant's footprint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TenantPerformance {
    pub tenant_id: Uuid,
    pub counts: TenantCounts,
    /// Audit rows written in the last 24 hours: the tenant's recent activity.
    pub audit_logs_24h: i64,
    /// Estimated MiB of the tenant's rows, computed as `storage_used_mb` of the metrics.
    pub storage_mb: f64,
    /// The tenant's rows and estimated bytes per table, largest first.
    pub largest_tables: Vec<TableUsage>,
}

/// One tenant's footprint, or `404` when there is no such tenant.
pub fn tenant(conn: &mut PgConnection, tenant_id: Uuid) -> Result<TenantPerformance, AppError> {
    tenants::find(conn, tenant_id)?;
    let usage = metrics::usage_of(conn, tenant_id)?;
    Ok(TenantPerformance {
        tenant_id,
        counts: TenantCounts::from_usage(&usage),
        audit_logs_24h: metrics::audit_logs_last_day(conn, tenant_id)?,
        storage_mb: metrics::storage_mb(&usage),
        largest_tables: usage,
    })
}
