//! Reading the caller's tenant's audit log (`GET /api/v1/audit-logs`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::error::AppError;
use crate::models::audit_log::{AuditLog, Severity};
use crate::schema::audit_logs;

/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    audit_logs::table.filter(audit_logs::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<audit_logs::table, diesel::dsl::Eq<audit_logs::tenant_id, Uuid>>;

/// Keyset position (`timestamp DESC, id DESC`).
pub type AuditKey = (DateTime<Utc>, Uuid);

/// Filters of `GET /audit-logs`; `from` inclusive, `to` exclusive.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    pub action: Option<String>,
    pub severity: Option<Severity>,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// One page of audit rows, newest first. `from`/`to` also prune partitions.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    f: &AuditFilter,
    after: Option<AuditKey>,
    limit: i64,
) -> Result<Vec<AuditLog>, AppError> {
    let mut q = scoped(ctx).into_boxed().select(AuditLog::as_select());
    if let Some(v) = &f.action {
        q = q.filter(audit_logs::action.eq(v.clone()));
    }
    if let Some(v) = f.severity {
        q = q.filter(audit_logs::severity.eq(v));
    }
    if let Some(v) = &f.resource_type {
        q = q.filter(audit_logs::resource_type.eq(v.clone()));
    }
    if let Some(v) = f.resource_id {
        q = q.filter(audit_logs::resource_id.eq(v));
    }
    if let Some(v) = f.user_id {
        q = q.filter(audit_logs::user_id.eq(v));
    }
    if let Some(v) = f.from {
        q = q.filter(audit_logs::timestamp.ge(v));
    }
    if let Some(v) = f.to {
        q = q.filter(audit_logs::timestamp.lt(v));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            audit_logs::timestamp
                .le(at)
                .and(audit_logs::timestamp.lt(at).or(audit_logs::id.lt(id))),
        );
    }
    Ok(
        q.order((audit_logs::timestamp.desc(), audit_logs::id.desc()))
            .limit(limit)
            .load(conn)?,
    )
}
