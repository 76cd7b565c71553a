//! Reading the caller's tenant's daily metrics (`GET /api/v1/tenant/metrics`). The rows
//! are written for every tenant at once by `ops::metrics::refresh`.

use chrono::NaiveDate;
use diesel::prelude::*;

use crate::auth::TenantContext;
use crate::error::AppError;
use crate::models::tenant_metrics::TenantMetrics;
use crate::schema::tenant_metrics;

/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    tenant_metrics::table.filter(tenant_metrics::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<
    tenant_metrics::table,
    diesel::dsl::Eq<tenant_metrics::tenant_id, uuid::Uuid>,
>;

/// Keyset position: the last date returned (one row per date).
pub type MetricsKey = NaiveDate;

/// One page of days in `from..=to`, newest first, strictly before `after`. The primary
/// key `(tenant_id, date)` serves it as a backward range scan.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    from: NaiveDate,
    to: NaiveDate,
    after: Option<MetricsKey>,
    limit: i64,
) -> Result<Vec<TenantMetrics>, AppError> {
    let mut q = scoped(ctx)
        .into_boxed()
        .select(TenantMetrics::as_select())
        .filter(tenant_metrics::date.ge(from))
        .filter(tenant_metrics::date.le(to));
    if let Some(date) = after {
        q = q.filter(tenant_metrics::date.lt(date));
    }
    Ok(q.order(tenant_metrics::date.desc())
        .limit(limit)
        .load(conn)?)
}
