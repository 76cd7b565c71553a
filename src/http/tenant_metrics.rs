//! `GET /api/v1/tenant/metrics` (tenant admin): the caller's tenant's daily figures
//! (docs/API.md §3, §9).

use axum::extract::State;
use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::app::AppState;
use crate::auth::{Role, TenantContext};
use crate::db::{self, pagination::Page};
use crate::error::AppError;
use crate::http::extract::{AppQuery, PageParams};
use crate::models::tenant_metrics::TenantMetrics;
use crate::repos::tenant_metrics::{self, MetricsKey};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_tenant_metrics))
}

const CURSOR_TAG: &str = "tenant_metrics";
/// The first day any date may name (docs/API.md §1).
const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(1, 1, 1) {
    Some(day) => day,
    None => NaiveDate::MIN,
};

/// Days covered when no range is given: today (UTC) and the 29 days before it.
const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// First day, inclusive (`YYYY-MM-DD`). Default: 29 days before `to`.
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub from: Option<NaiveDate>,
    /// Last day, inclusive (`YYYY-MM-DD`). Default: today (UTC).
    #[param(value_type = Option<String>, format = Date)]
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub to: Option<NaiveDate>,
}

/// The range asked for, with the defaults filled in; `from > to` is `422`.
fn date_range(
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    today: NaiveDate,
) -> Result<(NaiveDate, NaiveDate), AppError> {
    let to = to.unwrap_or(today);
    // `to` is within 0001..=9999 but 29 days before it may not be: clamp to the first
    // allowed day instead of leaving the year range (or overflowing).
    let from = from.unwrap_or_else(|| {
        to.checked_sub_signed(Duration::days(DEFAULT_DAYS - 1))
            .filter(|d| crate::validate::YEARS.contains(&d.year()))
            .unwrap_or(FIRST_DAY)
    });
    if from > to {
        return Err(AppError::invalid("from", "must not be after `to`"));
    }
    Ok((from, to))
}

/// Daily metrics rows of the caller's tenant in `from..=to`, newest day first (tenant
/// admin). A day appears once a refresh (`POST /utils/db/optimize` or `tenantry
/// metrics refresh`) has run on it.
///
/// The answer is a page (`data`, `next_cursor`, `limit`) of days.
#[utoipa::path(
    get, path = "/api/v1/tenant/metrics", tag = "tenants", params(MetricsQuery),
    responses((status = 200, body = Page<TenantMetrics>))
)]
pub async fn list_tenant_metrics(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<MetricsQuery>,
    PageParams(page): PageParams,
) -> Result<Page<TenantMetrics>, AppError> {
    ctx.require(Role::Admin)?;
    let (from, to) = date_range(q.from, q.to, Utc::now().date_naive())?;
    let after: Option<MetricsKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        tenant_metrics::list(conn, ctx, from, to, after, limit)
    })
    .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        &app.cursors,
        CURSOR_TAG,
        |m| m.date,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_default_to_the_last_30_days_and_refuse_reversed_bounds() {
        let today = d("2026-11-24");
        assert_eq!(
            date_range(None, None, today).unwrap(),
            (d("2026-10-26"), today)
        );
        assert_eq!(
            date_range(None, Some(d("2026-01-31")), today).unwrap(),
            (d("2026-01-02"), d("2026-01-31"))
        );
        assert_eq!(
            date_range(Some(d("2026-11-24")), None, today).unwrap(),
            (today, today)
        );
        assert!(matches!(
            date_range(Some(d("2026-11-25")), Some(d("2026-11-24")), today),
            Err(AppError::Validation(_))
        ));
    }
}
