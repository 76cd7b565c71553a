//! `tenantry tenant export|import|delete`: moving one tenant's rows out of and into a
//! database, and removing a tenant (API.md §11).
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

use std::io::{BufRead, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Subcommand;
use diesel::RunQueryDsl;
use diesel::pg::PgConnection;
use diesel::prelude::Connection;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::BoxError;
use crate::repos::tenant_data::{self, InsertPlan};
use crate::repos::tenants::{self, TENANT_TABLES};

/// The `format` of the header line.
pub const FORMAT: &str = "tenantry-tenant-export";
/// Raised when the layout of the file (not the schema) changes.
pub const FORMAT_VERSION: u32 = 1;
/// Rows fetched from the cursor per round trip while exporting.
const FETCH_BATCH: usize = 500;
/// Rows inserted per statement while importing: bounds memory, saves round trips.
const INSERT_BATCH: usize = 500;

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
}

/// Runs a `tenant` subcommand against the database at `url`.
pub fn run(command: TenantCommand, url: &str) -> Result<(), BoxError> {
    let mut conn = crate::db::pool::connect(url)?;
    match command {
        TenantCommand::Export { code } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            let summary = export(&mut conn, &code, &mut out)?;
            tracing::info!(code = %code, rows = summary.rows, "tenant exported");
        }
        TenantCommand::Import { file, code } => {
            let summary = if file.as_os_str() == "-" {
                import(&mut conn, std::io::stdin().lock(), &code)?
            } else {
                let f = std::fs::File::open(&file)
                    .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
                import(&mut conn, std::io::BufReader::new(f), &code)?
            };
            println!(
                "imported tenant {} ({}) from {} ({})",
                code, summary.tenant_id, summary.source_code, summary.source_id
            );
            print_counts(&summary.rows);
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
struct EndLine {
    end: EndInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct EndInfo {
    rows: u64,
}

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub tenant_id: Uuid,
    /// Row lines written (the tenant's own row included).
    pub rows: u64,
}

/// Writes tenant `code` to `out` (see the module docs for the format).
pub fn export(
    conn: &mut PgConnection,
    code: &str,
    out: &mut impl Write,
) -> Result<ExportSummary, BoxError> {
    conn.build_transaction()
        .repeatable_read()
        .read_only()
        .run(|conn| {
            // Timestamps in the file are UTC whatever the server's default zone.
            diesel::sql_query("SET LOCAL TIME ZONE 'UTC'").execute(conn)?;
            let tenant = tenants::find_by_code(conn, code)?
                .ok_or_else(|| format!("no tenant has code {code:?}"))?;
            let schema_version = tenant_data::schema_version(conn)?
                .ok_or("the database has no migrations applied")?;
            let header = Header {
                format: FORMAT.to_string(),
                format_version: FORMAT_VERSION,
                schema_version,
                tenant: HeaderTenant {
                    id: tenant.id,
                    code: tenant.code.clone(),
                },
                tables: std::iter::once("tenants")
                    .chain(TENANT_TABLES.iter().copied())
                    .map(str::to_string)
                    .collect(),
                exported_at: Utc::now(),
            };
            serde_json::to_writer(&mut *out, &header)?;
            out.write_all(b"\n")?;
            let tenant_row = tenant_data::tenant_row_json(conn, tenant.id)?;
            writeln!(out, r#"{{"table":"tenants","row":{tenant_row}}}"#)?;
            let mut rows = 1u64;
            for table in TENANT_TABLES {
                rows += tenant_data::stream_rows(conn, table, tenant.id, FETCH_BATCH, |json| {
                    writeln!(out, r#"{{"table":"{table}","row":{json}}}"#)?;
                    Ok::<(), BoxError>(())
                })?;
            }
            serde_json::to_writer(
                &mut *out,
                &EndLine {
                    end: EndInfo { rows },
                },
            )?;
            out.write_all(b"\n")?;
            out.flush()?;
            Ok(ExportSummary {
                tenant_id: tenant.id,
                rows,
            })
        })
}

/// What an import did.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    pub tenant_id: Uuid,
    pub source_id: Uuid,
    pub source_code: String,
    /// Rows inserted per table: `tenants` first, then [`TENANT_TABLES`] order.
    pub rows: Vec<(String, i64)>,
}

/// Rows of one table waiting to be inserted together.
struct Pending {
    plan: InsertPlan,
    rows: Vec<Value>,
}

/// Loads an export as the new tenant `new_code`, in one transaction: all of it or,
/// on any error, nothing.
pub fn import(
    conn: &mut PgConnection,
    input: impl BufRead,
    new_code: &str,
) -> Result<ImportSummary, BoxError> {
    if !crate::http::tenants::valid_code(new_code) {
        return Err(format!(
            "invalid tenant code {new_code:?}: must match ^[a-z0-9][a-z0-9-]{{0,49}}$"
        )
        .into());
    }
    let mut lines = input.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header = read_header(&mut lines)?;
    conn.transaction(|conn| {
        let ours = tenant_data::schema_version(conn)?.unwrap_or_default();
        if header.schema_version != ours {
            return Err(format!(
                "the file is from schema version {}, this database is at {}: \
                 import it into a database at the same migration",
                header.schema_version,
                if ours.is_empty() { "none" } else { &ours }
            )
            .into());
        }
        if tenants::find_by_code(conn, new_code)?.is_some() {
            return Err(format!("tenant code {new_code:?} already exists").into());
        }
        let new_id = Uuid::now_v7();
        let mut counts: Vec<(String, i64)> = std::iter::once("tenants")
            .chain(TENANT_TABLES.iter().copied())
            .map(|t| (t.to_string(), 0))
            .collect();
        let mut pending: Option<Pending> = None;
        let mut plans: Vec<InsertPlan> = Vec::new();
        let mut row_lines = 0u64;
        let mut end: Option<u64> = None;
        for (number, line) in lines {
            let line = line.map_err(|e| format!("line {number}: {e}"))?;
            if line.trim().is_empty() {
                continue;
            }
            if end.is_some() {
                return Err(format!("line {number}: data after the end line").into());
            }
            let at = |e: &dyn std::fmt::Display| format!("line {number}: {e}");
            let mut value: Value = serde_json::from_str(&line).map_err(|e| at(&e))?;
            if let Some(info) = value.get("end") {
                let info: EndInfo = serde_json::from_value(info.clone()).map_err(|e| at(&e))?;
                end = Some(info.rows);
                continue;
            }
            let (table, row) = take_row(&mut value).map_err(|e| at(&e))?;
            let first = row_lines == 0;
            if (table == "tenants") != first {
                return Err(at(&"the tenant's own row must come first, and only once").into());
            }
            let row = if first {
                rebrand_tenant(row, &header.tenant, new_id, new_code).map_err(|e| at(&e))?
            } else {
                retenant(row, header.tenant.id, new_id).map_err(|e| at(&e))?
            };
            row_lines += 1;
            if pending
                .as_ref()
                .is_some_and(|p| p.plan.table() != table || p.rows.len() >= INSERT_BATCH)
            {
                flush(conn, pending.take(), &mut counts).map_err(|e| at(&e))?;
            }
            match &mut pending {
                Some(p) => p.rows.push(row),
                None => {
                    // Catalog lookups once per table, not once per batch.
                    let plan = match plans.iter().find(|p| p.table() == table) {
                        Some(plan) => plan.clone(),
                        None => {
                            let plan = InsertPlan::for_table(conn, table)?;
                            plans.push(plan.clone());
                            plan
                        }
                    };
                    pending = Some(Pending {
                        plan,
                        rows: vec![row],
                    })
                }
            }
        }
        flush(conn, pending.take(), &mut counts)?;
        match end {
            None => return Err("the file has no end line: it is truncated".into()),
            Some(n) if n != row_lines => {
                return Err(format!(
                    "the end line counts {n} rows but the file has {row_lines}: it is damaged"
                )
                .into());
            }
            Some(_) => {}
        }
        if row_lines == 0 {
            return Err("the file holds no tenant row".into());
        }
        Ok(ImportSummary {
            tenant_id: new_id,
            source_id: header.tenant.id,
            source_code: header.tenant.code.clone(),
            rows: counts,
        })
    })
}

fn read_header(
    lines: &mut impl Iterator<Item = (usize, std::io::Result<String>)>,
) -> Result<Header, BoxError> {
    let (number, line) = lines.next().ok_or("the file is empty")?;
    let line = line.map_err(|e| format!("line {number}: {e}"))?;
    let header: Header = serde_json::from_str(&line)
        .map_err(|e| format!("line {number}: not a tenant export header: {e}"))?;
    if header.format != FORMAT || header.format_version != FORMAT_VERSION {
        return Err(format!(
            "unsupported export format {} version {} (expected {FORMAT} version {FORMAT_VERSION})",
            header.format, header.format_version
        )
        .into());
    }
    Ok(header)
}

/// Splits `{"table": ..., "row": {...}}` into a known table name and its row.
fn take_row(value: &mut Value) -> Result<(&'static str, Value), String> {
    let name = value
        .get("table")
        .and_then(Value::as_str)
        .ok_or("expected {\"table\": ..., \"row\": {...}}")?;
    let table = std::iter::once(&"tenants")
        .chain(TENANT_TABLES.iter())
        .find(|t| **t == name)
        .copied()
        .ok_or_else(|| format!("{name:?} is not a tenant table of this database"))?;
    let row = value
        .get_mut("row")
        .filter(|r| r.is_object())
        .map(Value::take)
        .ok_or("\"row\" must be an object")?;
    Ok((table, row))
}

/// The tenant's own row, as the new tenant: new id and code, everything else kept.
fn rebrand_tenant(
    mut row: Value,
    source: &HeaderTenant,
    new_id: Uuid,
    new_code: &str,
) -> Result<Value, String> {
    if row.get("id").and_then(Value::as_str) != Some(source.id.to_string().as_str()) {
        return Err("the tenant row is not the tenant named in the header".into());
    }
    row["id"] = Value::String(new_id.to_string());
    row["code"] = Value::String(new_code.to_string());
    Ok(row)
}

/// A tenant table's row, moved to the new tenant. Every row must belong to the
/// exported tenant: a file mixing tenants is refused rather than merged.
fn retenant(mut row: Value, source: Uuid, new_id: Uuid) -> Result<Value, String> {
    if row.get("tenant_id").and_then(Value::as_str) != Some(source.to_string().as_str()) {
        return Err("the row's tenant_id is not the exported tenant's".into());
    }
    row["tenant_id"] = Value::String(new_id.to_string());
    Ok(row)
}

fn flush(
    conn: &mut PgConnection,
    pending: Option<Pending>,
    counts: &mut [(String, i64)],
) -> Result<(), BoxError> {
    let Some(Pending { plan, rows }) = pending else {
        return Ok(());
    };
    let n = plan
        .insert(conn, &Value::Array(rows))
        .map_err(|e| format!("inserting into {}: {e}", plan.table()))?;
    if let Some(entry) = counts.iter_mut().find(|(t, _)| t == plan.table()) {
        entry.1 += n as i64;
    }
    Ok(())
}

/// Deletes tenant `code` and everything it owns; returns its id and the rows removed
/// per table.
pub fn delete(conn: &mut PgConnection, code: &str) -> Result<(Uuid, Vec<(String, i64)>), BoxError> {
    let tenant =
        tenants::find_by_code(conn, code)?.ok_or_else(|| format!("no tenant has code {code:?}"))?;
    let removed = tenants::delete(conn, tenant.id)?;
    Ok((tenant.id, removed))
}
