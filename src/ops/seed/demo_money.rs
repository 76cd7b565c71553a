//! Demo budgets and expenses: budgets for the tenant's first month in four categories,
//! and expenses in every workflow status. An approved expense is debited from its
//! budget when it is added, exactly as an approval does, so `spent_cents` is always the
//! sum of the approved expenses of that category and month, and never above the amount.

use chrono::TimeDelta;
use diesel::pg::PgConnection;

use super::demo::DemoTenant;
use crate::models::budget::Category;
use crate::models::expense::ExpenseStatus;
use crate::models::period::Period;
use crate::ops::BoxError;
use crate::repos::seed::{self as repo, DemoBudget, DemoExpense};

/// Budgets of the tenant's first month: category, amount in cents.
const BUDGETS: [(Category, i64); 4] = [
    (Category::Travel, 300_000),
    (Category::Meals, 80_000),
    (Category::Software, 150_000),
    (Category::Supplies, 50_000),
];

/// Expenses: submitter (a member), category, amount in cents, description, days before
/// the tenant's creation it was incurred (kept inside that month), status and, when
/// rejected, the reason. Decisions are the admin's.
type ExpenseRow = (
    &'static str,
    Category,
    i64,
    &'static str,
    i64,
    ExpenseStatus,
    Option<&'static str>,
);
const EXPENSES: [ExpenseRow; 8] = [
    (
        "alice",
        Category::Travel,
        42_000,
        "Train to the customer workshop",
        6,
        ExpenseStatus::Approved,
        None,
    ),
    (
        "alice",
        Category::Meals,
        6_350,
        "Team lunch after the workshop",
        6,
        ExpenseStatus::Approved,
        None,
    ),
    (
        "bob",
        Category::Software,
        12_900,
        "Design tool licence",
        4,
        ExpenseStatus::Approved,
        None,
    ),
    (
        "bob",
        Category::Travel,
        18_500,
        "Taxi to the airport",
        2,
        ExpenseStatus::Submitted,
        None,
    ),
    (
        "alice",
        Category::Supplies,
        4_200,
        "Printer paper and toner",
        1,
        ExpenseStatus::Submitted,
        None,
    ),
    (
        "bob",
        Category::Meals,
        9_800,
        "Client dinner",
        3,
        ExpenseStatus::Rejected,
        Some("Over the per-person limit: resubmit with the guest list"),
    ),
    (
        "alice",
        Category::Software,
        2_500,
        "Domain name renewal",
        0,
        ExpenseStatus::Draft,
        None,
    ),
    (
        "bob",
        Category::Other,
        15_000,
        "Conference ticket",
        0,
        ExpenseStatus::Draft,
        None,
    ),
];

/// Row numbers (see [`DemoTenant::at`]) of the budgets and the expenses.
const BUDGET_ROWS: usize = 200;
const EXPENSE_ROWS: usize = 300;

/// The budgets domain: [`BUDGETS`], unspent until [`expenses`] debits them.
pub fn budgets(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let rows = BUDGETS
        .into_iter()
        .enumerate()
        .map(|(n, (category, amount_cents))| {
            let at = tenant.at(BUDGET_ROWS + n);
            DemoBudget {
                tenant_id: tenant.id,
                id: tenant.row_id("budget", category.as_str(), at),
                category,
                period: tenant.this_month(),
                amount_cents,
                created_at: at,
                updated_at: at,
            }
        })
        .collect();
    Ok(repo::insert_budgets(conn, rows)? as u64)
}

/// The expenses domain: [`EXPENSES`]; each approved one that is added is debited from
/// its budget in the same transaction.
pub fn expenses(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let admin = tenant.user(conn, "admin")?;
    let mut added = 0;
    for (n, (submitter, category, amount_cents, description, days_ago, status, reason)) in
        EXPENSES.into_iter().enumerate()
    {
        let at = tenant.at(EXPENSE_ROWS + n);
        let incurred_on = (tenant.today() - TimeDelta::days(days_ago)).max(tenant.this_month());
        let decided = matches!(status, ExpenseStatus::Approved | ExpenseStatus::Rejected);
        let row = DemoExpense {
            tenant_id: tenant.id,
            id: tenant.row_id("expense", description, at),
            submitter_id: tenant.user(conn, submitter)?,
            category,
            amount_cents,
            currency: "USD".to_string(),
            description: description.to_string(),
            incurred_on,
            status,
            // Created at 1, raised by each step: submit, then approve or reject.
            version: match status {
                ExpenseStatus::Draft => 1,
                ExpenseStatus::Submitted => 2,
                _ => 3,
            },
            approver_id: decided.then_some(admin),
            decided_at: decided.then_some(at),
            rejection_reason: reason.map(str::to_string),
            created_at: at,
            updated_at: at,
        };
        if !repo::insert_expense(conn, row)? {
            continue;
        }
        added += 1;
        let period = Period::of(incurred_on).first_day();
        if status == ExpenseStatus::Approved
            && !repo::debit_budget(conn, tenant.id, category, period, amount_cents)?
        {
            // Only possible when someone made a smaller budget for that month first;
            // the whole seed rolls back rather than leave an undebited approval.
            return Err(format!(
                "tenant {}: the {category} budget of {} cannot take the approved demo \
                 expense {description:?} ({amount_cents} cents)",
                tenant.code,
                Period::of(incurred_on)
            )
            .into());
        }
    }
    Ok(added)
}
