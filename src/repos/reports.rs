//! The expense report (`GET /api/v1/reports/expenses`): one SQL statement that groups a
//! month of one tenant's expenses, splits the sums by status with `FILTER`, applies
//! `min_total_cents` with `HAVING`, joins each category's budget, and computes the
//! totals with window sums. No loop over rows in Rust.

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Nullable, Text, Uuid as SqlUuid};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::TenantContext;
use crate::error::AppError;

crate::text_enum! {
    /// What the report groups by (the value of `?group_by=`).
    pub enum GroupBy {
        Category = "category",
        Submitter = "submitter",
    }
}

/// One group of the report.
#[derive(Debug, Clone, Serialize, ToSchema, QueryableByName)]
pub struct ReportGroup {
    /// The category name, or the submitter's user id.
    #[diesel(sql_type = Text)]
    pub key: String,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    /// Every expense of the group, whatever its status.
    #[diesel(sql_type = BigInt)]
    pub total_cents: i64,
    #[diesel(sql_type = BigInt)]
    pub approved_cents: i64,
    /// Submitted and awaiting a decision.
    #[diesel(sql_type = BigInt)]
    pub pending_cents: i64,
    /// The category's budget for the month (null when grouping by submitter or none).
    #[diesel(sql_type = Nullable<BigInt>)]
    pub budget_cents: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub remaining_cents: Option<i64>,
}

/// Sums over the groups returned.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct ReportTotals {
    pub count: i64,
    pub total_cents: i64,
    pub approved_cents: i64,
    pub pending_cents: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(embed)]
    group: ReportGroup,
    #[diesel(sql_type = BigInt)]
    all_count: i64,
    #[diesel(sql_type = BigInt)]
    all_total: i64,
    #[diesel(sql_type = BigInt)]
    all_approved: i64,
    #[diesel(sql_type = BigInt)]
    all_pending: i64,
}

/// Groups and totals of one month, largest total first.
pub fn expenses(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    period: NaiveDate,
    group_by: GroupBy,
    min_total_cents: Option<i64>,
) -> Result<(Vec<ReportGroup>, ReportTotals), AppError> {
    let (key, budget_join, budget_cols) = match group_by {
        GroupBy::Category => (
            "category",
            "LEFT JOIN budgets b ON b.tenant_id = $1 AND b.period = $2 AND b.category = g.key",
            "b.amount_cents AS budget_cents, b.remaining_cents AS remaining_cents",
        ),
        GroupBy::Submitter => (
            "submitter_id::text",
            "",
            "NULL::bigint AS budget_cents, NULL::bigint AS remaining_cents",
        ),
    };
    let sql = format!(
        "WITH g AS ( \
           SELECT {key} AS key, count(*) AS count, sum(amount_cents)::bigint AS total_cents, \
                  coalesce(sum(amount_cents) FILTER (WHERE status = 'approved'), 0)::bigint AS approved_cents, \
                  coalesce(sum(amount_cents) FILTER (WHERE status = 'submitted'), 0)::bigint AS pending_cents \
           FROM expenses WHERE tenant_id = $1 AND period = $2 \
           GROUP BY 1 HAVING $3::bigint IS NULL OR sum(amount_cents) >= $3::bigint) \
         SELECT g.key, g.count, g.total_cents, g.approved_cents, g.pending_cents, {budget_cols}, \
                (sum(g.count) OVER ())::bigint AS all_count, (sum(g.total_cents) OVER ())::bigint AS all_total, \
                (sum(g.approved_cents) OVER ())::bigint AS all_approved, \
                (sum(g.pending_cents) OVER ())::bigint AS all_pending \
         FROM g {budget_join} ORDER BY g.total_cents DESC, g.key"
    );
    let rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<SqlUuid, _>(ctx.tenant_id())
        .bind::<Date, _>(period)
        .bind::<Nullable<BigInt>, _>(min_total_cents)
        .load(conn)?;
    let totals = rows
        .first()
        .map(|r| ReportTotals {
            count: r.all_count,
            total_cents: r.all_total,
            approved_cents: r.all_approved,
            pending_cents: r.all_pending,
        })
        .unwrap_or_default();
    Ok((rows.into_iter().map(|r| r.group).collect(), totals))
}
