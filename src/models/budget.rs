//! Budgets: how much a tenant may approve per expense category and month.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::budgets;

crate::text_enum! {
    /// Expense categories.
    pub enum Category {
        Travel = "travel",
        Meals = "meals",
        Lodging = "lodging",
        Supplies = "supplies",
        Software = "software",
        Other = "other",
    }
}

/// A budget as stored and returned.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = budgets, check_for_backend(diesel::pg::Pg))]
pub struct Budget {
    pub id: Uuid,
    pub category: Category,
    /// The month, `YYYY-MM`.
    #[serde(serialize_with = "crate::models::period::serialize_as_period")]
    #[schema(value_type = String, example = "2026-11")]
    pub period: NaiveDate,
    pub amount_cents: i64,
    pub spent_cents: i64,
    pub remaining_cents: i64,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A budget to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = budgets)]
pub struct NewBudget {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub category: Category,
    pub period: NaiveDate,
    pub amount_cents: i64,
}
