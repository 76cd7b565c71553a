//! Expenses of the caller's tenant and their workflow.
//!
//! Visibility: admins and viewers see every expense of the tenant, a member only its
//! own (another member's expense is `404`, as if it did not exist). Every workflow step
//! locks the expense row (`SELECT ... FOR UPDATE`), then checks, in this order: who may
//! act (`403`), the version (`409`/`412`), the state (`422 invalid_transition`). The
//! approval's budget debit, the expense change and the audit row share one transaction.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use serde_json::json;
use uuid::Uuid;

use crate::auth::{Role, TenantContext};
use crate::db::locking::Expected;
use crate::error::AppError;
use crate::models::budget::Category;
use crate::models::expense::{Expense, ExpenseChanges, ExpenseStatus, NewExpense};
use crate::models::period::Period;
use crate::repos::{audit, budgets};
use crate::schema::expenses;

/// Every expense query of a request starts here: the tenant, and for members their own.
fn visible(ctx: &TenantContext) -> expenses::BoxedQuery<'static, Pg> {
    let q = expenses::table
        .filter(expenses::tenant_id.eq(ctx.tenant_id()))
        .into_boxed();
    if ctx.role() == Role::Member {
        q.filter(expenses::submitter_id.eq(ctx.user_id()))
    } else {
        q
    }
}

/// Keyset position (`created_at DESC, id DESC`).
pub type ExpenseKey = (DateTime<Utc>, Uuid);

/// `GET /expenses` filters; `period` is the month of `incurred_on`.
#[derive(Debug, Default, Clone)]
pub struct ExpenseFilter {
    pub status: Option<ExpenseStatus>,
    pub category: Option<Category>,
    pub submitter_id: Option<Uuid>,
    pub period: Option<NaiveDate>,
}

/// One page of the expenses the caller may see, newest first.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    f: &ExpenseFilter,
    after: Option<ExpenseKey>,
    limit: i64,
) -> Result<Vec<Expense>, AppError> {
    let mut q = visible(ctx).select(Expense::as_select());
    if let Some(v) = f.status {
        q = q.filter(expenses::status.eq(v));
    }
    if let Some(v) = f.category {
        q = q.filter(expenses::category.eq(v));
    }
    if let Some(v) = f.submitter_id {
        q = q.filter(expenses::submitter_id.eq(v));
    }
    if let Some(v) = f.period {
        q = q.filter(expenses::period.eq(v));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            expenses::created_at
                .le(at)
                .and(expenses::created_at.lt(at).or(expenses::id.lt(id))),
        );
    }
    Ok(q.order((expenses::created_at.desc(), expenses::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// One visible expense, or `404`.
pub fn find(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<Expense, AppError> {
    visible(ctx)
        .filter(expenses::id.eq(id))
        .select(Expense::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("expense"))
}

/// A visible expense locked for the rest of the transaction, or `404`.
fn lock(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<Expense, AppError> {
    // Boxed queries cannot carry FOR UPDATE, so the visibility rule of `visible` is
    // spelled out here as one expression.
    let sees_all = ctx.role() != Role::Member;
    expenses::table
        .filter(expenses::tenant_id.eq(ctx.tenant_id()))
        .filter(
            expenses::submitter_id
                .eq(ctx.user_id())
                .or(sees_all.into_sql::<diesel::sql_types::Bool>()),
        )
        .filter(expenses::id.eq(id))
        .select(Expense::as_select())
        .for_update()
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("expense"))
}

fn submitter_only(e: &Expense, ctx: &TenantContext) -> Result<(), AppError> {
    if e.submitter_id == ctx.user_id() {
        Ok(())
    } else {
        Err(AppError::Forbidden("only the submitter can do this"))
    }
}

fn transition(from: ExpenseStatus, action: &str) -> AppError {
    AppError::InvalidTransition(format!(
        "cannot {action} an expense that is {}",
        from.as_str()
    ))
}

/// Creates a draft expense submitted by the caller.
pub fn create(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    new: NewExpenseInput,
) -> Result<Expense, AppError> {
    let expense = diesel::insert_into(expenses::table)
        .values(NewExpense {
            tenant_id: ctx.tenant_id(),
            id: Uuid::now_v7(),
            submitter_id: ctx.user_id(),
            category: new.category,
            amount_cents: new.amount_cents,
            currency: new.currency,
            description: new.description,
            incurred_on: new.incurred_on,
        })
        .returning(Expense::as_returning())
        .get_result(conn)?;
    audit::record(
        conn,
        ctx,
        "expense.created",
        expense.id,
        json!({"amount_cents": expense.amount_cents}),
    )?;
    Ok(expense)
}

/// Fields of a new expense, validated by the handler.
#[derive(Debug, Clone)]
pub struct NewExpenseInput {
    pub category: Category,
    pub amount_cents: i64,
    pub currency: String,
    pub description: String,
    pub incurred_on: NaiveDate,
}

/// Saves one workflow step: the new columns, a version bump, the audit row.
fn save<C>(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    changes: C,
    action: &str,
    meta: serde_json::Value,
) -> Result<Expense, AppError>
where
    C: diesel::AsChangeset<Target = expenses::table>,
    C::Changeset: diesel::query_builder::QueryFragment<Pg>,
{
    let expense = diesel::update(expenses::table)
        .filter(expenses::tenant_id.eq(ctx.tenant_id()))
        .filter(expenses::id.eq(id))
        .set((
            changes,
            expenses::version.eq(expenses::version + 1),
            expenses::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Expense::as_returning())
        .get_result(conn)?;
    audit::record(conn, ctx, action, id, meta)?;
    Ok(expense)
}

/// Edits a draft or rejected expense (submitter only).
pub fn update(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    changes: ExpenseChanges,
    expected: Expected,
) -> Result<Expense, AppError> {
    let e = lock(conn, ctx, id)?;
    submitter_only(&e, ctx)?;
    expected.check(e.version)?;
    let from = e.status;
    if !from.is_editable() {
        return Err(transition(from, "edit"));
    }
    let fields = changes.fields();
    save(
        conn,
        ctx,
        id,
        changes,
        "expense.updated",
        json!({"changed": fields}),
    )
}

/// draft | rejected → submitted (submitter only).
pub fn submit(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    expected: Expected,
) -> Result<Expense, AppError> {
    let e = lock(conn, ctx, id)?;
    submitter_only(&e, ctx)?;
    expected.check(e.version)?;
    let from = e.status;
    if !from.is_editable() {
        return Err(transition(from, "submit"));
    }
    // A resubmitted expense starts a fresh decision.
    let changes = (
        expenses::status.eq(ExpenseStatus::Submitted),
        expenses::approver_id.eq(None::<Uuid>),
        expenses::decided_at.eq(None::<DateTime<Utc>>),
        expenses::rejection_reason.eq(None::<String>),
    );
    save(
        conn,
        ctx,
        id,
        changes,
        "expense.submitted",
        json!({"from": from.as_str()}),
    )
}

/// submitted → approved (admin, not the submitter), debiting the budget of the
/// expense's category and month in the same transaction.
pub fn approve(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    expected: Expected,
) -> Result<Expense, AppError> {
    let e = lock(conn, ctx, id)?;
    if e.submitter_id == ctx.user_id() {
        return Err(AppError::SelfApproval);
    }
    expected.check(e.version)?;
    let from = e.status;
    if from != ExpenseStatus::Submitted {
        return Err(transition(from, "approve"));
    }
    let budget = budgets::debit(
        conn,
        ctx,
        e.category,
        Period::of(e.incurred_on).first_day(),
        e.amount_cents,
    )?;
    let changes = (
        expenses::status.eq(ExpenseStatus::Approved),
        expenses::approver_id.eq(Some(ctx.user_id())),
        expenses::decided_at.eq(Some(Utc::now())),
    );
    save(
        conn,
        ctx,
        id,
        changes,
        "expense.approved",
        json!({"amount_cents": e.amount_cents, "budget_id": budget.id, "budget_remaining_cents": budget.remaining_cents}),
    )
}

/// submitted → rejected with a reason (admin).
pub fn reject(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    expected: Expected,
    reason: String,
) -> Result<Expense, AppError> {
    let e = lock(conn, ctx, id)?;
    expected.check(e.version)?;
    let from = e.status;
    if from != ExpenseStatus::Submitted {
        return Err(transition(from, "reject"));
    }
    let changes = (
        expenses::status.eq(ExpenseStatus::Rejected),
        expenses::approver_id.eq(Some(ctx.user_id())),
        expenses::decided_at.eq(Some(Utc::now())),
        expenses::rejection_reason.eq(Some(reason)),
    );
    save(conn, ctx, id, changes, "expense.rejected", json!({}))
}

/// Deletes a draft (submitter only); an `If-Match`, when sent, must match.
pub fn delete(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<(), AppError> {
    let e = lock(conn, ctx, id)?;
    submitter_only(&e, ctx)?;
    if let Some(x) = expected {
        x.check(e.version)?;
    }
    let from = e.status;
    if from != ExpenseStatus::Draft {
        return Err(transition(from, "delete"));
    }
    diesel::delete(expenses::table)
        .filter(expenses::tenant_id.eq(ctx.tenant_id()))
        .filter(expenses::id.eq(id))
        .execute(conn)?;
    audit::record(conn, ctx, "expense.deleted", id, json!({}))?;
    Ok(())
}
