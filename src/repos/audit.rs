//! The audit writer: one row per successful change, on the caller's connection so it
//! commits (or rolls back) with the change it records.

use diesel::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::error::AppError;
use crate::models::audit_log::{NewAuditLog, Severity};
use crate::schema::audit_logs;

/// One audit event.
#[derive(Debug, Clone)]
pub struct AuditEvent<'a> {
    pub tenant_id: Uuid,
    pub user_id: Option<Uuid>,
    /// `<resource_type>.<past tense>`, e.g. `task.updated`.
    pub action: &'a str,
    pub resource_type: &'a str,
    pub resource_id: Option<Uuid>,
    pub severity: Severity,
    pub metadata: Value,
    pub request_id: Option<&'a str>,
}

/// Writes one audit row.
pub fn write(conn: &mut PgConnection, event: AuditEvent<'_>) -> Result<(), AppError> {
    diesel::insert_into(audit_logs::table)
        .values(NewAuditLog {
            tenant_id: event.tenant_id,
            id: Uuid::now_v7(),
            user_id: event.user_id,
            action: event.action.to_string(),
            resource_type: event.resource_type.to_string(),
            resource_id: event.resource_id,
            severity: event.severity,
            metadata: event.metadata,
            request_id: event.request_id.map(str::to_string),
        })
        .execute(conn)?;
    Ok(())
}

/// Records a change made by the caller: `action` is `<resource_type>.<verb>` and the
/// resource type is its first part.
pub fn record(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    action: &str,
    resource_id: Uuid,
    metadata: Value,
) -> Result<(), AppError> {
    let resource_type = action.split('.').next().unwrap_or(action);
    write(
        conn,
        AuditEvent {
            tenant_id: ctx.tenant_id(),
            user_id: Some(ctx.user_id()),
            action,
            resource_type,
            resource_id: Some(resource_id),
            severity: Severity::Info,
            metadata,
            request_id: Some(ctx.request_id()),
        },
    )
}
