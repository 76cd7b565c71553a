//! Audit log rows: one per successful change, written in the change's transaction.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::audit_logs;

crate::text_enum! {
    /// How serious an audited event is.
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Error = "error",
        Critical = "critical",
    }
}

/// An audit row as returned by `GET /api/v1/audit-logs`.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = audit_logs, check_for_backend(diesel::pg::Pg))]
pub struct AuditLog {
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    #[schema(example = "task.updated")]
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub severity: Severity,
    #[schema(value_type = Object)]
    pub metadata: serde_json::Value,
    pub request_id: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// An audit row to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = audit_logs)]
pub struct NewAuditLog {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub user_id: Option<Uuid>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<Uuid>,
    pub severity: Severity,
    pub metadata: serde_json::Value,
    pub request_id: Option<String>,
}
