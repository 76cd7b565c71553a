//! Whole-tenant data movement for the operator commands (`tenantry tenant export` and
//! `import`), generic over [`TENANT_TABLES`]: columns and keys are read from the
//! catalog and rows travel as JSON (`row_to_json` out, `jsonb_populate_recordset` in),
//! so a new tenant table needs no code here.
//!
//! Table names are only ever `tenants` or an entry of [`TENANT_TABLES`] (constants),
//! never text from a file; column names come from the catalog, quoted by PostgreSQL's
//! `quote_ident`.

use diesel::prelude::*;
use diesel::sql_types::{Jsonb, Nullable, Text, Uuid as SqlUuid};
use uuid::Uuid;

use crate::repos::tenants::TENANT_TABLES;

#[derive(QueryableByName)]
struct OptText {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Whether `table` may be named in generated SQL: the tenants table or a tenant table.
fn known(table: &str) -> Option<&'static str> {
    std::iter::once(&"tenants")
        .chain(TENANT_TABLES.iter())
        .find(|t| **t == table)
        .copied()
}

fn unknown(table: &str) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(format!("{table:?} is not a tenant table").into())
}

/// The latest applied migration version, which an export is tied to (`None` on an
/// unmigrated database).
pub fn schema_version(conn: &mut PgConnection) -> QueryResult<Option<String>> {
    let row: OptText =
        diesel::sql_query("SELECT max(version)::text AS v FROM __diesel_schema_migrations")
            .get_result(conn)?;
    Ok(row.v)
}

/// The quoted primary-key columns of `table`, in key order, comma-separated: the
/// export's row order, so two exports of the same data are byte-identical.
pub fn primary_key(conn: &mut PgConnection, table: &str) -> QueryResult<String> {
    let table = known(table).ok_or_else(|| unknown(table))?;
    let row: OptText = diesel::sql_query(
        "SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) AS v
           FROM pg_index i
          CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
          WHERE i.indrelid = $1::regclass AND i.indisprimary",
    )
    .bind::<Text, _>(table)
    .get_result(conn)?;
    row.v.ok_or_else(|| {
        diesel::result::Error::QueryBuilderError(format!("table {table} has no primary key").into())
    })
}

/// The tenant's own row as JSON text.
pub fn tenant_row_json(conn: &mut PgConnection, tenant_id: Uuid) -> QueryResult<String> {
    let row: Line =
        diesel::sql_query("SELECT row_to_json(t)::text AS line FROM tenants t WHERE t.id = $1")
            .bind::<SqlUuid, _>(tenant_id)
            .get_result(conn)?;
    Ok(row.line)
}

/// Streams every row of `tenant_id` in `table` as JSON text, in primary-key order,
/// through a server-side cursor fetched `batch` rows at a time, so memory stays bounded
/// whatever the tenant's size. Must run inside a transaction (cursors live in one);
/// returns the number of rows.
pub fn stream_rows<E>(
    conn: &mut PgConnection,
    table: &str,
    tenant_id: Uuid,
    batch: usize,
    mut sink: impl FnMut(&str) -> Result<(), E>,
) -> Result<u64, E>
where
    E: From<diesel::result::Error>,
{
    let table = known(table).ok_or_else(|| unknown(table))?;
    let order = primary_key(conn, table)?;
    diesel::sql_query(format!(
        "DECLARE tenant_rows NO SCROLL CURSOR FOR
         SELECT row_to_json(t)::text AS line FROM {table} t WHERE t.tenant_id = $1 ORDER BY {order}"
    ))
    .bind::<SqlUuid, _>(tenant_id)
    .execute(conn)?;
    let fetch = format!("FETCH FORWARD {} FROM tenant_rows", batch.max(1));
    let mut total = 0u64;
    loop {
        let rows: Vec<Line> = diesel::sql_query(&fetch).load(conn)?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            sink(&row.line)?;
        }
        total += rows.len() as u64;
    }
    diesel::sql_query("CLOSE tenant_rows").execute(conn)?;
    Ok(total)
}

/// How rows are inserted into one table: its insertable columns, read from the catalog
/// once per table (not per batch).
#[derive(Debug, Clone)]
pub struct InsertPlan {
    table: &'static str,
    /// Quoted, comma-separated; only ever built from the catalog.
    columns: String,
}

impl InsertPlan {
    /// The plan for `table` (`tenants` or an entry of [`TENANT_TABLES`]). Generated
    /// columns (a stored `tsvector`, say) are left out: the server computes them and
    /// refuses a given value.
    pub fn for_table(conn: &mut PgConnection, table: &str) -> QueryResult<Self> {
        let table = known(table).ok_or_else(|| unknown(table))?;
        let row: OptText = diesel::sql_query(
            "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) AS v
               FROM pg_attribute
              WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped
                AND attgenerated = ''",
        )
        .bind::<Text, _>(table)
        .get_result(conn)?;
        let columns = row.v.ok_or_else(|| {
            diesel::result::Error::QueryBuilderError(format!("table {table} has no columns").into())
        })?;
        Ok(InsertPlan { table, columns })
    }

    /// The table this plan writes.
    pub fn table(&self) -> &'static str {
        self.table
    }

    /// Inserts `rows` (a JSON array of objects keyed by column name) in one statement.
    /// A key missing from a row is NULL; a key that is not an insertable column is
    /// ignored.
    pub fn insert(&self, conn: &mut PgConnection, rows: &serde_json::Value) -> QueryResult<usize> {
        let InsertPlan { table, columns } = self;
        // OVERRIDING SYSTEM VALUE keeps the exported value of a GENERATED ALWAYS identity
        // column (ids are kept); it changes nothing for tables without one.
        diesel::sql_query(format!(
            "INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE
             SELECT {columns} FROM jsonb_populate_recordset(NULL::{table}, $1)"
        ))
        .bind::<Jsonb, _>(rows)
        .execute(conn)
    }
}
