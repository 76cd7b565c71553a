//! Embedded Diesel migrations, applied by `serve` at start and by `tenantry migrate`.
//!
//! After any migration run, the monthly `audit_logs` partitions for the current and
//! the next two months are ensured (docs/API.md §8), because months pass between deploys.

use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Every migration under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// How many months ahead of the current one get an audit partition.
pub const PARTITION_MONTHS_AHEAD: i32 = 2;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Applies every pending migration and ensures the audit partitions; returns the
/// versions applied.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    // Two servers starting at once must not both migrate: serialise on an advisory lock.
    conn.transaction::<_, BoxError, _>(|conn| {
        diesel::sql_query("SELECT pg_advisory_xact_lock(7306102026)").execute(conn)?;
        let applied: Vec<String> = conn
            .run_pending_migrations(MIGRATIONS)?
            .iter()
            .map(|v| v.to_string())
            .collect();
        ensure_audit_partitions(conn)?;
        Ok(applied)
    })
}

/// Reverts the `n` most recent migrations; returns the versions reverted.
pub fn revert(conn: &mut PgConnection, n: usize) -> Result<Vec<String>, BoxError> {
    let mut reverted = Vec::new();
    for _ in 0..n {
        if applied_count(conn)? == 0 {
            break;
        }
        reverted.push(conn.revert_last_migration(MIGRATIONS)?.to_string());
    }
    Ok(reverted)
}

/// Reverts every applied migration.
pub fn revert_all(conn: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    Ok(conn
        .revert_all_migrations(MIGRATIONS)?
        .iter()
        .map(|v| v.to_string())
        .collect())
}

/// Reverts the most recent migration and applies it again.
pub fn redo(conn: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    let reverted = revert(conn, 1)?;
    run_pending(conn)?;
    Ok(reverted)
}

fn applied_count(conn: &mut PgConnection) -> Result<usize, BoxError> {
    Ok(conn.applied_migrations()?.len())
}

/// Creates the missing monthly `audit_logs` partitions; returns their names.
pub fn ensure_audit_partitions(conn: &mut PgConnection) -> Result<Vec<String>, BoxError> {
    #[derive(diesel::QueryableByName)]
    struct Created {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let created: Vec<Created> = diesel::sql_query("SELECT ensure_audit_log_partitions($1) AS name")
        .bind::<diesel::sql_types::Integer, _>(PARTITION_MONTHS_AHEAD)
        .load(conn)?;
    Ok(created.into_iter().map(|c| c.name).collect())
}
