//! What the code needs to know about Citus (docs/scaling.md): whether the database is a
//! Citus coordinator, for the few platform-wide operations that must read or write
//! differently there (statistics from the shards, reindex, the volume seed).
//!
//! Row-level security (issue 13) will set the tenant with `SET LOCAL` and, on Citus,
//! `citus.propagate_set_commands = 'local'` so that the setting reaches the workers
//! inside the transaction; that belongs in `db::read_for` / `db::write_for`, and a
//! Citus check for it would live here.

use diesel::prelude::*;

/// Whether this database has the Citus extension.
pub fn is_citus(conn: &mut PgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')",
    ))
    .get_result(conn)
}
