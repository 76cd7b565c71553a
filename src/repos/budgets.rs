//! Budgets of the caller's tenant, and the debit an approval makes.
//!
//! The debit is one conditional `UPDATE ... WHERE remaining_cents >= amount`: the row
//! lock serialises concurrent debits and each re-checks the condition against the
//! committed balance, so however many approvals race the budget is never overspent
//! (and the table's CHECK would refuse it anyway).

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde_json::json;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::db::locking::Expected;
use crate::error::AppError;
use crate::models::budget::{Budget, Category, NewBudget};
use crate::repos::audit;
use crate::schema::budgets;

/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    budgets::table.filter(budgets::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<budgets::table, diesel::dsl::Eq<budgets::tenant_id, Uuid>>;

/// Keyset position (`created_at DESC, id DESC`).
pub type BudgetKey = (DateTime<Utc>, Uuid);

/// One page of budgets, newest first.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    period: Option<NaiveDate>,
    category: Option<Category>,
    after: Option<BudgetKey>,
    limit: i64,
) -> Result<Vec<Budget>, AppError> {
    let mut q = scoped(ctx).into_boxed().select(Budget::as_select());
    if let Some(p) = period {
        q = q.filter(budgets::period.eq(p));
    }
    if let Some(c) = category {
        q = q.filter(budgets::category.eq(c));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            budgets::created_at
                .le(at)
                .and(budgets::created_at.lt(at).or(budgets::id.lt(id))),
        );
    }
    Ok(q.order((budgets::created_at.desc(), budgets::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// One budget, or `404`.
pub fn find(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<Budget, AppError> {
    scoped(ctx)
        .filter(budgets::id.eq(id))
        .select(Budget::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("budget"))
}

/// Creates a budget; one per category and period (`409`).
pub fn create(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    category: Category,
    period: NaiveDate,
    amount_cents: i64,
) -> Result<Budget, AppError> {
    let budget = diesel::insert_into(budgets::table)
        .values(NewBudget {
            tenant_id: ctx.tenant_id(),
            id: Uuid::now_v7(),
            category,
            period,
            amount_cents,
        })
        .returning(Budget::as_returning())
        .get_result(conn)?;
    audit::record(
        conn,
        ctx,
        "budget.created",
        budget.id,
        json!({"category": budget.category, "amount_cents": amount_cents}),
    )?;
    Ok(budget)
}

/// Sets a budget's amount under optimistic locking; never below what is spent.
pub fn set_amount(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    amount_cents: i64,
    expected: Expected,
) -> Result<Budget, AppError> {
    let any_version = expected.version().is_none();
    let updated = diesel::update(budgets::table)
        .filter(budgets::tenant_id.eq(ctx.tenant_id()))
        .filter(budgets::id.eq(id))
        .filter(
            budgets::version
                .eq(expected.version().unwrap_or(0))
                .or(any_version.into_sql::<Bool>()),
        )
        .filter(budgets::spent_cents.le(amount_cents))
        .set((
            budgets::amount_cents.eq(amount_cents),
            budgets::version.eq(budgets::version + 1),
            budgets::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Budget::as_returning())
        .get_result(conn)
        .optional()?;
    let Some(budget) = updated else {
        let current: Option<(i32, i64)> = scoped(ctx)
            .filter(budgets::id.eq(id))
            .select((budgets::version, budgets::spent_cents))
            .first(conn)
            .optional()?;
        return Err(match current {
            None => AppError::NotFound("budget"),
            Some((version, _)) if expected.check(version).is_err() => expected.conflict(version),
            Some(_) => AppError::BudgetBelowSpent,
        });
    };
    audit::record(
        conn,
        ctx,
        "budget.updated",
        id,
        json!({"amount_cents": amount_cents, "version": budget.version}),
    )?;
    Ok(budget)
}

/// Debits `amount_cents` from the budget of `category` in `period`, raising its version:
/// `422 no_budget` when there is none, `422 budget_exceeded` when too little remains.
pub fn debit(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    category: Category,
    period: NaiveDate,
    amount_cents: i64,
) -> Result<Budget, AppError> {
    let debited = diesel::update(budgets::table)
        .filter(budgets::tenant_id.eq(ctx.tenant_id()))
        .filter(budgets::category.eq(category))
        .filter(budgets::period.eq(period))
        .filter(budgets::remaining_cents.ge(amount_cents))
        .set((
            budgets::spent_cents.eq(budgets::spent_cents + amount_cents),
            budgets::version.eq(budgets::version + 1),
            budgets::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Budget::as_returning())
        .get_result(conn)
        .optional()?;
    if let Some(b) = debited {
        return Ok(b);
    }
    let exists: bool = diesel::select(diesel::dsl::exists(
        scoped(ctx)
            .filter(budgets::category.eq(category))
            .filter(budgets::period.eq(period)),
    ))
    .get_result(conn)?;
    Err(if exists {
        AppError::BudgetExceeded
    } else {
        AppError::NoBudget
    })
}
