//! The tenant setting of row-level security: where `app.tenant_id` is made.
//!
//! Every tenant table's policy compares `tenant_id` with
//! `NULLIF(current_setting('app.tenant_id', true), '')::uuid` (migration
//! `roles_and_rls`). The setting is made here only, as `SET LOCAL` in the same
//! simple-query message as `BEGIN`: one round trip, and PostgreSQL itself discards it at
//! `COMMIT` or `ROLLBACK`, so it never outlives its request on a pooled connection —
//! not after an error, not after a panic or a dropped future (a connection returned to
//! the pool inside a transaction is broken and discarded by r2d2), and without a reset
//! statement of our own that could be forgotten.
//!
//! Why not a session-level setting kept per pooled connection (no transaction for a
//! read, one round trip fewer)? It would outlive its request on the idle connection,
//! and it would not work on Citus: only `SET LOCAL` inside a transaction reaches the
//! workers (with `citus.propagate_set_commands = 'local'`, set per session on the tenant
//! pool); a session `SET` or `set_config(..., true)` does not.
//!
//! The value is the tenant id of the verified [`TenantContext`] (a `Uuid`, formatted as
//! 36 hex digits and hyphens), never client text, so inlining it is safe.

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;

use crate::auth::TenantContext;
use crate::error::AppError;

/// What the transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `BEGIN READ ONLY`: a read path that tried to write would fail, not write.
    ReadOnly,
    ReadWrite,
}

/// The first round trip of a tenant transaction.
pub fn begin_sql(tenant_id: uuid::Uuid, access: Access) -> String {
    let mode = match access {
        Access::ReadOnly => " READ ONLY",
        Access::ReadWrite => "",
    };
    format!("BEGIN{mode}; SET LOCAL app.tenant_id = '{tenant_id}'")
}

/// Runs `f` in a transaction scoped to `ctx`'s tenant; commits when it succeeds, rolls
/// back when it fails. Repositories may open savepoints inside (`conn.transaction`):
/// Diesel's transaction manager knows this transaction is open.
pub fn transaction<T, F>(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    access: Access,
    f: F,
) -> Result<T, AppError>
where
    F: FnOnce(&mut PgConnection, &TenantContext) -> Result<T, AppError>,
{
    if let Err(e) =
        AnsiTransactionManager::begin_transaction_sql(conn, &begin_sql(ctx.tenant_id(), access))
    {
        // Diesel counts the transaction as open only when the whole message succeeded;
        // if BEGIN ran and SET LOCAL did not, the server is inside a failed transaction
        // Diesel does not know of. End it here, so the pooled connection is clean.
        let _ = conn.batch_execute("ROLLBACK");
        return Err(e.into());
    }
    // As Diesel's own `TransactionManager::transaction`, with a custom BEGIN.
    match f(conn, ctx) {
        Ok(value) => {
            AnsiTransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match AnsiTransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_made_with_begin_in_one_message() {
        let id = uuid::Uuid::nil();
        assert_eq!(
            begin_sql(id, Access::ReadOnly),
            "BEGIN READ ONLY; SET LOCAL app.tenant_id = '00000000-0000-0000-0000-000000000000'"
        );
        assert!(begin_sql(id, Access::ReadWrite).starts_with("BEGIN; SET LOCAL "));
    }
}
