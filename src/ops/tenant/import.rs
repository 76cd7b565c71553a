//! `tenantry tenant import`: an export loaded as a new tenant in one transaction, in
//! batches of rows per table; any error anywhere (a damaged line, a row the database
//! refuses, a missing end line) rolls everything back.

use std::io::BufRead;

use diesel::pg::PgConnection;
use diesel::prelude::Connection;
use serde_json::Value;
use uuid::Uuid;

use super::{EndInfo, FORMAT, FORMAT_VERSION, Header, HeaderTenant};
use crate::ops::BoxError;
use crate::repos::tenant_data::{self, InsertPlan};
use crate::repos::tenants::{self, TENANT_TABLES};

/// Rows inserted per statement: bounds memory, saves round trips.
const INSERT_BATCH: usize = 500;

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
    import_with_progress(conn, input, new_code, &mut |_, _| {})
}

/// As [`import`], calling `progress(rows so far, table)` every
/// [`PROGRESS_EVERY`](super::export::PROGRESS_EVERY) rows and once at the end.
pub fn import_with_progress(
    conn: &mut PgConnection,
    input: impl BufRead,
    new_code: &str,
    progress: &mut dyn FnMut(u64, &str),
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
            if row_lines % super::export::PROGRESS_EVERY == 0 {
                progress(row_lines, table);
            }
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
        progress(row_lines, "done");
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
