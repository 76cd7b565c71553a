//! `GET /api/v1/reports/expenses` (admin), docs/API.md §6.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::{Feature, Role, TenantContext};
use crate::db;
use crate::error::AppError;
use crate::http::extract::AppQuery;
use crate::models::period::Period;
use crate::repos::reports::{self, GroupBy, ReportGroup, ReportTotals};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(expense_report))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `YYYY-MM`, the month of `incurred_on`; default the current UTC month.
    #[param(value_type = Option<String>, pattern = "^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: Option<Period>,
    /// `category` (default) or `submitter`.
    #[param(schema_with = crate::http::docs::group_by)]
    pub group_by: Option<String>,
    /// Only groups whose total is at least this.
    pub min_total_cents: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExpenseReport {
    #[schema(value_type = String, example = "2026-11")]
    pub period: Period,
    /// Largest total first. `total_cents` and `count` cover every status; `totals` sum the
    /// groups returned (after `min_total_cents`).
    pub groups: Vec<ReportGroup>,
    pub totals: ReportTotals,
}

/// Expenses of a month grouped by category or submitter, with budgets.
///
/// `count` and `total_cents` cover every status, `pending_cents` the submitted ones;
/// groups are ordered by total, largest first; `totals` sum the groups returned (after
/// `min_total_cents`). `period` defaults to the current UTC month.
#[utoipa::path(get, path = "/api/v1/reports/expenses", tag = "expenses", params(ReportQuery), responses((status = 200, body = ExpenseReport)))]
pub async fn expense_report(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<ReportQuery>,
) -> Result<Json<ExpenseReport>, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Admin)?;
    let group_by = match q.group_by.as_deref() {
        None => GroupBy::Category,
        Some(raw) => GroupBy::parse(raw)
            .ok_or_else(|| AppError::invalid("group_by", "must be category or submitter"))?,
    };
    let period = q
        .period
        .unwrap_or_else(|| Period::of(chrono::Utc::now().date_naive()));
    let min = q.min_total_cents;
    let (groups, totals) = db::read_for(&app, &ctx, move |conn, ctx| {
        reports::expenses(conn, ctx, period.first_day(), group_by, min)
    })
    .await?;
    Ok(Json(ExpenseReport {
        period,
        groups,
        totals,
    }))
}
