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
/// first. On Citus the coordinator's copies of distributed tables are empty shells, so
/// the figures are read from the shards instead ([`database_on_citus`]).
pub fn database(conn: &mut PgConnection) -> Result<DatabaseStats, AppError> {
    if is_citus(conn)? {
        return database_on_citus(conn);
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

#[derive(QueryableByName)]
struct Size {
    #[diesel(sql_type = BigInt)]
    bytes: i64,
}

/// Whether this database has the Citus extension.
pub fn is_citus(conn: &mut PgConnection) -> Result<bool, AppError> {
    Ok(crate::db::citus::is_citus(conn)?)
}

/// Every worker's statistics of its shards in this schema, one JSON array per worker:
/// `{"rel": "users_102008", "rows": n, "seq": n, "idx": n}` for tables and
/// `{"rel": "users_pkey_102008", "idx": n, "bytes": n}` for indexes. A reference table's
/// shard has a placement on every node; the figures of one placement are taken.
const SHARD_STATS: &str = "shard_stats AS (
    SELECT e->>'rel' AS rel, (e->>'rows')::bigint AS rows, (e->>'seq')::bigint AS seq,
           (e->>'idx')::bigint AS idx, (e->>'bytes')::bigint AS bytes,
           substring(e->>'rel' FROM '_([0-9]+)$')::bigint AS shardid
      FROM run_command_on_workers(%CMD%) w, json_array_elements(w.result::json) e
     WHERE w.success)";

/// Database-wide figures on a Citus coordinator: sizes from `citus_shards` (every
/// node's shards) plus the coordinator's own database, row estimates and scan counts
/// summed over the shards' statistics on the workers. Platform-wide, so it reads every
/// node: one statement per list, each fanning out once per worker.
fn database_on_citus(conn: &mut PgConnection) -> Result<DatabaseStats, AppError> {
    let size: Size = diesel::sql_query(
        "SELECT (pg_database_size(current_database()) + coalesce((SELECT sum(shard_size) FROM \
           (SELECT DISTINCT ON (shardid, nodename, nodeport) shard_size FROM citus_shards \
             WHERE nodename || ':' || nodeport NOT IN (SELECT nodename || ':' || nodeport \
                FROM pg_dist_node WHERE groupid = 0)) s), 0))::bigint AS bytes",
    )
    .get_result(conn)?;
    let table_cmd = "$c$SELECT coalesce(json_agg(json_build_object('rel', relname, 'rows', n_live_tup, \
        'seq', coalesce(seq_scan, 0), 'idx', coalesce(idx_scan, 0))), '[]') \
        FROM pg_stat_user_tables WHERE schemaname = current_schema() AND relname ~ '_[0-9]+$'$c$";
    let tables = diesel::sql_query(format!(
        "WITH {}, per_shard AS (
           SELECT shardid, max(rows) AS rows, max(seq) AS seq, max(idx) AS idx
             FROM shard_stats GROUP BY shardid),
         per_table AS (
           SELECT d.logicalrelid AS relid, sum(p.rows) AS rows, sum(p.seq) AS seq, sum(p.idx) AS idx
             FROM per_shard p JOIN pg_dist_shard d ON d.shardid = p.shardid GROUP BY d.logicalrelid),
         sizes AS (
           SELECT table_name AS relid, sum(shard_size) AS bytes FROM
             (SELECT DISTINCT ON (shardid) table_name, shardid, shard_size FROM citus_shards
               ORDER BY shardid, shard_size DESC) s GROUP BY table_name)
         SELECT t.relname::text AS name,
                coalesce(pt.rows, t.n_live_tup)::bigint AS rows_estimate,
                coalesce(sz.bytes, pg_total_relation_size(t.relid))::bigint AS total_bytes,
                CASE WHEN sz.relid IS NULL THEN pg_indexes_size(t.relid)
                     ELSE greatest(sz.bytes - citus_table_size(t.relid), 0) END::bigint AS index_bytes,
                coalesce(pt.seq, t.seq_scan, 0)::bigint AS seq_scans,
                coalesce(pt.idx, t.idx_scan, 0)::bigint AS index_scans
           FROM pg_stat_user_tables t
           LEFT JOIN per_table pt ON pt.relid = t.relid
           LEFT JOIN sizes sz ON sz.relid = t.relid
          WHERE t.schemaname = current_schema()
          ORDER BY total_bytes DESC, name",
        SHARD_STATS.replace("%CMD%", table_cmd)
    ))
    .load(conn)?;
    let index_cmd = "$c$SELECT coalesce(json_agg(json_build_object('rel', indexrelname, \
        'idx', coalesce(idx_scan, 0), 'bytes', pg_relation_size(indexrelid))), '[]') \
        FROM pg_stat_user_indexes WHERE schemaname = current_schema() AND indexrelname ~ '_[0-9]+$'$c$";
    let indexes = diesel::sql_query(format!(
        "WITH {}, per_shard AS (
           SELECT regexp_replace(rel, '_[0-9]+$', '') AS name, shardid,
                  max(idx) AS idx, max(bytes) AS bytes
             FROM shard_stats GROUP BY 1, 2),
         per_index AS (
           SELECT name, sum(idx) AS idx, sum(bytes) AS bytes FROM per_shard GROUP BY name)
         SELECT i.indexrelname::text AS name, i.relname::text AS \"table\",
                coalesce(p.idx, i.idx_scan, 0)::bigint AS scans,
                coalesce(p.bytes, pg_relation_size(i.indexrelid))::bigint AS bytes
           FROM pg_stat_user_indexes i LEFT JOIN per_index p ON p.name = i.indexrelname::text
          WHERE i.schemaname = current_schema()
          ORDER BY bytes DESC, name",
        SHARD_STATS.replace("%CMD%", index_cmd)
    ))
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
