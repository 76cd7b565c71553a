//! `GET /api/v1/audit-logs` (tenant admin), docs/API.md §8.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Role, TenantContext};
use crate::db::{self, pagination::Page};
use crate::error::AppError;
use crate::http::extract::{AppQuery, PageParams};
use crate::models::audit_log::{AuditLog, Severity};
use crate::repos::audit_logs::{self, AuditFilter, AuditKey};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_logs))
}

const CURSOR_TAG: &str = "audit_logs";
/// Longest `action` or `resource_type` filter.
pub const MAX_FILTER_CHARS: usize = 100;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditListQuery {
    pub action: Option<String>,
    #[param(value_type = Option<Severity>)]
    pub severity: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    /// Inclusive, RFC 3339.
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub from: Option<DateTime<Utc>>,
    /// Exclusive, RFC 3339.
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub to: Option<DateTime<Utc>>,
}

/// The caller's tenant's audit log, newest first.
#[utoipa::path(
    get, path = "/api/v1/audit-logs", tag = "audit", params(AuditListQuery),
    responses((status = 200, body = Page<AuditLog>))
)]
pub async fn list_audit_logs(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<AuditListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<AuditLog>, AppError> {
    ctx.require(Role::Admin)?;
    let mut c = Checks::new();
    let severity = c.choice(
        "severity",
        q.severity.as_deref(),
        Severity::parse,
        "must be info, warning, error or critical",
    );
    // The text filters match no index of their own: bound what one request can ask
    // the database to compare (actions and resource types are short words).
    for (field, value) in [("action", &q.action), ("resource_type", &q.resource_type)] {
        if let Some(v) = value {
            c.length(field, v, 0, MAX_FILTER_CHARS);
        }
    }
    c.finish()?;
    let filter = AuditFilter {
        action: q.action,
        severity,
        resource_type: q.resource_type,
        resource_id: q.resource_id,
        user_id: q.user_id,
        from: q.from,
        to: q.to,
    };
    let after: Option<AuditKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        audit_logs::list(conn, ctx, &filter, after, limit)
    })
    .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        &app.cursors,
        CURSOR_TAG,
        |a| (a.timestamp, a.id),
    ))
}
