//! Expenses and their approval workflow:
//! `draft → submitted → approved | rejected`, and `rejected → submitted` again.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::models::budget::Category;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::expenses;

crate::text_enum! {
    /// Where an expense is in its workflow.
    pub enum ExpenseStatus {
        Draft = "draft",
        Submitted = "submitted",
        Approved = "approved",
        Rejected = "rejected",
    }
}

impl ExpenseStatus {
    /// Statuses in which the submitter may still edit (and, for drafts, delete).
    pub fn is_editable(self) -> bool {
        matches!(self, ExpenseStatus::Draft | ExpenseStatus::Rejected)
    }
}

/// Largest amount of one expense, in minor units.
pub const MAX_AMOUNT_CENTS: i64 = 100_000_000;

/// An expense as stored and returned.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = expenses, check_for_backend(diesel::pg::Pg))]
pub struct Expense {
    pub id: Uuid,
    pub submitter_id: Uuid,
    pub category: Category,
    pub amount_cents: i64,
    #[schema(example = "USD")]
    pub currency: String,
    pub description: String,
    pub incurred_on: NaiveDate,
    pub status: ExpenseStatus,
    pub version: i32,
    pub approver_id: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An expense to insert; `submitter_id` is the caller.
#[derive(Debug, Insertable)]
#[diesel(table_name = expenses)]
pub struct NewExpense {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub submitter_id: Uuid,
    pub category: Category,
    pub amount_cents: i64,
    pub currency: String,
    pub description: String,
    pub incurred_on: NaiveDate,
}

/// Edits of a draft or rejected expense.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = expenses)]
pub struct ExpenseChanges {
    pub category: Option<Category>,
    pub amount_cents: Option<i64>,
    pub currency: Option<String>,
    pub description: Option<String>,
    pub incurred_on: Option<NaiveDate>,
}

impl ExpenseChanges {
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        for (set, name) in [
            (self.category.is_some(), "category"),
            (self.amount_cents.is_some(), "amount_cents"),
            (self.currency.is_some(), "currency"),
            (self.description.is_some(), "description"),
            (self.incurred_on.is_some(), "incurred_on"),
        ] {
            if set {
                f.push(name);
            }
        }
        f
    }
}
