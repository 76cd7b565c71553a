//! `tenantry tenant export`: one snapshot (`REPEATABLE READ READ ONLY`), streamed
//! through a server-side cursor table by table, so memory stays bounded whatever the
//! tenant's size.

use std::io::Write;

use chrono::Utc;
use diesel::RunQueryDsl;
use diesel::pg::PgConnection;
use uuid::Uuid;

use super::{EndInfo, EndLine, FORMAT, FORMAT_VERSION, Header, HeaderTenant};
use crate::ops::BoxError;
use crate::repos::tenant_data;
use crate::repos::tenants::{self, TENANT_TABLES};

/// Rows fetched from the cursor per round trip.
const FETCH_BATCH: usize = 500;

/// What an export wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub tenant_id: Uuid,
    /// Row lines written (the tenant's own row included).
    pub rows: u64,
}

/// Rows between two progress reports.
pub const PROGRESS_EVERY: u64 = 1000;

/// Writes tenant `code` to `out` (see the module docs for the format).
pub fn export(
    conn: &mut PgConnection,
    code: &str,
    out: &mut impl Write,
) -> Result<ExportSummary, BoxError> {
    export_with_progress(conn, code, out, &mut |_, _| {})
}

/// As [`export`], calling `progress(rows so far, table)` every [`PROGRESS_EVERY`] rows.
pub fn export_with_progress(
    conn: &mut PgConnection,
    code: &str,
    out: &mut impl Write,
    progress: &mut dyn FnMut(u64, &str),
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
                let mut written = rows;
                rows += tenant_data::stream_rows(conn, table, tenant.id, FETCH_BATCH, |json| {
                    writeln!(out, r#"{{"table":"{table}","row":{json}}}"#)?;
                    written += 1;
                    if written % PROGRESS_EVERY == 0 {
                        progress(written, table);
                    }
                    Ok::<(), BoxError>(())
                })?;
                progress(rows, table);
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
