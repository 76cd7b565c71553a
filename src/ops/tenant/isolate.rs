//! `tenantry tenant isolate CODE [--to-node HOST:PORT]`: on Citus, gives one tenant a
//! shard of its own and, when asked, moves that shard to a node of its own — the
//! "database per tenant" answer within the shared schema (docs/scaling.md).
//!
//! `isolate_tenant_to_new_shard(..., 'CASCADE')` splits the tenant's shard of every
//! colocated table (users, projects, tasks, ..., the audit log's partitions) so that
//! the tenant's rows are alone in theirs; `citus_move_shard_placement` then moves that
//! shard group. Both copy rows with `block_writes`: writes to the affected shards wait
//! while rows are copied (reads go on), and it needs no `wal_level = logical`. On a
//! cluster with logical replication, `--transfer-mode force_logical` keeps writes
//! flowing instead. The application keeps talking to the coordinator throughout.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Uuid as SqlUuid};
use uuid::Uuid;

use super::BoxError;
use crate::repos::tenants;

/// How Citus copies rows (its `citus.shard_transfer_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TransferMode {
    /// Block writes to the shards being copied; works on every cluster.
    BlockWrites,
    /// Logical replication: writes go on; needs `wal_level = logical` on the nodes.
    ForceLogical,
    /// Logical replication where possible, else fail.
    Auto,
}

impl TransferMode {
    fn as_sql(self) -> &'static str {
        match self {
            TransferMode::BlockWrites => "block_writes",
            TransferMode::ForceLogical => "force_logical",
            TransferMode::Auto => "auto",
        }
    }
}

/// What `isolate` did.
#[derive(Debug, Clone)]
pub struct Isolation {
    pub tenant_id: Uuid,
    /// The tenant's shard of `users` (its shard group holds every colocated table).
    pub shard_id: i64,
    /// `None` when the tenant had a shard of its own already.
    pub isolated_in: Option<Duration>,
    /// The node the shard group is on now (`host:port`).
    pub node: String,
    /// `Some((from, took))` when the shard group was moved.
    pub moved: Option<(String, Duration)>,
}

#[derive(QueryableByName)]
struct Shard {
    #[diesel(sql_type = BigInt)]
    shard_id: i64,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    alone: bool,
    #[diesel(sql_type = Text)]
    node_name: String,
    #[diesel(sql_type = Integer)]
    node_port: i32,
}

/// The tenant's shard of `users`, whether it holds only this tenant's hash, and where
/// it is.
fn shard_of(conn: &mut PgConnection, tenant_id: Uuid) -> Result<Shard, BoxError> {
    Ok(diesel::sql_query(
        "SELECT s.shardid AS shard_id, s.shardminvalue = s.shardmaxvalue AS alone, \
                n.nodename AS node_name, n.nodeport AS node_port \
           FROM pg_dist_shard s \
           JOIN pg_dist_placement p ON p.shardid = s.shardid \
           JOIN pg_dist_node n ON n.groupid = p.groupid AND n.noderole = 'primary' \
          WHERE s.shardid = get_shard_id_for_distribution_column('users', $1)",
    )
    .bind::<SqlUuid, _>(tenant_id)
    .get_result(conn)?)
}

/// Splits `host:port`.
fn parse_node(node: &str) -> Result<(String, i32), BoxError> {
    let (host, port) = node
        .rsplit_once(':')
        .ok_or_else(|| format!("--to-node must be HOST:PORT, got {node:?}"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("--to-node must be HOST:PORT, got {node:?}"))?;
    if host.is_empty() {
        return Err(format!("--to-node must be HOST:PORT, got {node:?}").into());
    }
    Ok((host.to_string(), i32::from(port)))
}

/// Gives tenant `code` a shard of its own (skipped when it has one) and moves it to
/// `to_node` when given and not there already.
pub fn isolate(
    conn: &mut PgConnection,
    code: &str,
    to_node: Option<&str>,
    mode: TransferMode,
) -> Result<Isolation, BoxError> {
    let target = to_node.map(parse_node).transpose()?;
    if !crate::db::citus::is_citus(conn)? {
        return Err(
            "tenant isolate needs a Citus coordinator: this database has no citus extension \
             (docs/scaling.md)"
                .into(),
        );
    }
    let tenant =
        tenants::find_by_code(conn, code)?.ok_or_else(|| format!("no tenant has code {code:?}"))?;
    if let Some((host, port)) = &target {
        #[derive(QueryableByName)]
        struct Known {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let known: Known = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_dist_node \
              WHERE noderole = 'primary' AND nodename = $1 AND nodeport = $2",
        )
        .bind::<Text, _>(host)
        .bind::<Integer, _>(*port)
        .get_result(conn)?;
        if known.n == 0 {
            return Err(format!(
                "{host}:{port} is not a node of this cluster (citus_add_node it first)"
            )
            .into());
        }
    }

    let before = shard_of(conn, tenant.id)?;
    let isolated_in = if before.alone {
        None
    } else {
        let started = Instant::now();
        diesel::sql_query(format!(
            "SELECT isolate_tenant_to_new_shard('users', $1::uuid, 'CASCADE', \
             shard_transfer_mode => '{}')",
            mode.as_sql()
        ))
        .bind::<SqlUuid, _>(tenant.id)
        .execute(conn)?;
        Some(started.elapsed())
    };
    let shard = shard_of(conn, tenant.id)?;
    let here = format!("{}:{}", shard.node_name, shard.node_port);
    let mut moved = None;
    if let Some((host, port)) = target
        && (host != shard.node_name || port != shard.node_port)
    {
        let started = Instant::now();
        diesel::sql_query(format!(
            "SELECT citus_move_shard_placement($1, $2, $3, $4, $5, \
             shard_transfer_mode => '{}')",
            mode.as_sql()
        ))
        .bind::<BigInt, _>(shard.shard_id)
        .bind::<Text, _>(&shard.node_name)
        .bind::<Integer, _>(shard.node_port)
        .bind::<Text, _>(&host)
        .bind::<Integer, _>(port)
        .execute(conn)?;
        moved = Some((here.clone(), started.elapsed()));
    }
    let now = shard_of(conn, tenant.id)?;
    Ok(Isolation {
        tenant_id: tenant.id,
        shard_id: now.shard_id,
        isolated_in,
        node: format!("{}:{}", now.node_name, now.node_port),
        moved,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_node;

    #[test]
    fn nodes_are_host_and_port() {
        assert_eq!(
            parse_node("10.0.0.5:5432").expect("node"),
            ("10.0.0.5".to_string(), 5432)
        );
        assert_eq!(
            parse_node("worker-big:6432").expect("node"),
            ("worker-big".to_string(), 6432)
        );
        for bad in ["worker", ":5432", "w:", "w:70000", "w:x"] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
    }
}
