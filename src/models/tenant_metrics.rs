//! Daily per-tenant figures (docs/API.md §9), written by `ops::metrics::refresh`.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::schema::tenant_metrics;

/// One tenant's figures for one UTC day, as of the day's latest refresh.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = tenant_metrics, check_for_backend(diesel::pg::Pg))]
pub struct TenantMetrics {
    pub date: NaiveDate,
    pub user_count: i64,
    /// Users who logged in within the 30 days before the refresh.
    pub active_users: i64,
    pub project_count: i64,
    pub task_count: i64,
    pub item_count: i64,
    pub expense_count: i64,
    pub audit_log_count: i64,
    /// Estimated size of the tenant's rows in MiB (row data only, without indexes and
    /// free space; see `ops::metrics`).
    pub storage_used_mb: f64,
}
