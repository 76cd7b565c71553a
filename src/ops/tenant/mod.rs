//! `tenantry tenant export|import|delete`: moving one tenant's rows out of and into a
//! database, and removing a tenant (docs/API.md §11).
//!
//! The export format is JSON lines:
//!
//! ```text
//! {"format":"tenantry-tenant-export","format_version":1,"schema_version":"20261122000004","tenant":{...},"tables":[...],"exported_at":"..."}
//! {"table":"tenants","row":{...}}
//! {"table":"users","row":{...}}          every row of every TENANT_TABLES table, in that order
//! {"end":{"rows":N}}                     N row lines above; a file without it is truncated
//! ```
//!
//! Export reads everything in one `REPEATABLE READ READ ONLY` transaction (one snapshot,
//! so rows that reference each other are consistent) and streams through a cursor.
//! Import writes everything in one transaction: a file that fails anywhere, even on its
//! last line, leaves nothing behind. Both are generic over
//! [`TENANT_TABLES`](crate::repos::tenants::TENANT_TABLES): a new tenant table needs no
//! change here.
//!
//! The format types live here; the `export` and `import` submodules hold each direction.

mod export;
mod import;
pub mod isolate;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use diesel::pg::PgConnection;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use export::{ExportSummary, export, export_with_progress};
pub use import::{ImportSummary, import, import_with_progress};

use super::BoxError;
use super::seed::progress::Progress;
use crate::repos::tenants;

/// The `format` of the header line.
pub const FORMAT: &str = "tenantry-tenant-export";
/// Raised when the layout of the file (not the schema) changes.
pub const FORMAT_VERSION: u32 = 1;

/// `tenantry tenant ...`
#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Write every row of tenant CODE to stdout as JSON lines.
    Export {
        /// The tenant's code.
        code: String,
    },
    /// Recreate an export as a new tenant, in one transaction, adding no other rows.
    Import {
        /// The export file (`-` for stdin).
        file: PathBuf,
        /// Code of the new tenant; it must not exist.
        #[arg(long, value_name = "NEW_CODE")]
        code: String,
    },
    /// Delete tenant CODE and every row it owns; prints the rows removed per table.
    Delete {
        /// The tenant's code.
        code: String,
    },
    /// On Citus: give tenant CODE a shard of its own, and with --to-node move it to that
    /// worker (docs/scaling.md).
    Isolate {
        /// The tenant's code.
        code: String,
        /// Move the tenant's shard group to this worker (`HOST:PORT`, as in
        /// `citus_add_node`).
        #[arg(long, value_name = "HOST:PORT")]
        to_node: Option<String>,
        /// How Citus copies the rows.
        #[arg(long, value_enum, default_value = "block-writes")]
        transfer_mode: isolate::TransferMode,
    },
}

/// Runs a `tenant` subcommand against the database at `url`.
pub fn run(command: TenantCommand, url: &str) -> Result<(), BoxError> {
    let mut conn = crate::db::pool::connect(url)?;
    match command {
        TenantCommand::Export { code } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let mut bar = Progress::counting("export", "rows", None);
            let summary = export_with_progress(&mut conn, &code, &mut out, &mut |n, table| {
                bar.update(n, table)
            })?;
            bar.finish_at(summary.rows, "done");
            tracing::info!(code = %code, rows = summary.rows, "tenant exported");
        }
        TenantCommand::Import { file, code } => {
            let mut bar = Progress::counting("import", "rows", None);
            let mut report = |n: u64, table: &str| bar.update(n, table);
            let summary = if file.as_os_str() == "-" {
                import_with_progress(&mut conn, std::io::stdin().lock(), &code, &mut report)?
            } else {
                let f = std::fs::File::open(&file)
                    .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
                import_with_progress(&mut conn, std::io::BufReader::new(f), &code, &mut report)?
            };
            let rows: i64 = summary.rows.iter().map(|(_, n)| n).sum();
            bar.finish_at(u64::try_from(rows).unwrap_or(0), "done");
            println!(
                "imported tenant {} ({}) from {} ({})",
                code, summary.tenant_id, summary.source_code, summary.source_id
            );
            print_counts(&summary.rows);
        }
        TenantCommand::Isolate {
            code,
            to_node,
            transfer_mode,
        } => {
            let done = isolate::isolate(&mut conn, &code, to_node.as_deref(), transfer_mode)?;
            match done.isolated_in {
                Some(took) => println!(
                    "isolated tenant {code} ({}) to shard {} in {} ms",
                    done.tenant_id,
                    done.shard_id,
                    took.as_millis()
                ),
                None => println!(
                    "tenant {code} ({}) has shard {} of its own already",
                    done.tenant_id, done.shard_id
                ),
            }
            match done.moved {
                Some((from, took)) => println!(
                    "moved shard {} from {from} to {} in {} ms",
                    done.shard_id,
                    done.node,
                    took.as_millis()
                ),
                None => println!("shard {} is on {}", done.shard_id, done.node),
            }
        }
        TenantCommand::Delete { code } => {
            let (id, removed) = delete(&mut conn, &code)?;
            println!("deleted tenant {code} ({id})");
            print_counts(&removed);
        }
    }
    Ok(())
}

fn print_counts(rows: &[(String, i64)]) {
    let width = rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
    for (table, n) in rows {
        println!("  {table:<width$}  {n}");
    }
}

/// The first line of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    /// The latest migration applied to the exporting database; an import requires the
    /// same, so every column means the same on both sides.
    pub schema_version: String,
    pub tenant: HeaderTenant,
    /// The tables, in the order their rows follow.
    pub tables: Vec<String>,
    pub exported_at: DateTime<Utc>,
}

/// Which tenant an export holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeaderTenant {
    pub id: Uuid,
    pub code: String,
}

/// The last line of an export.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EndLine {
    pub(crate) end: EndInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EndInfo {
    pub(crate) rows: u64,
}

/// Deletes tenant `code` and everything it owns; returns its id and the rows removed
/// per table.
pub fn delete(conn: &mut PgConnection, code: &str) -> Result<(Uuid, Vec<(String, i64)>), BoxError> {
    let tenant =
        tenants::find_by_code(conn, code)?.ok_or_else(|| format!("no tenant has code {code:?}"))?;
    let removed = tenants::delete(conn, tenant.id)?;
    Ok((tenant.id, removed))
}
