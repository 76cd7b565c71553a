//! Budgets: how much a tenant may approve per expense category and month.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::budgets;

/// Expense categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Travel,
    Meals,
    Lodging,
    Supplies,
    Software,
    Other,
}

impl Category {
    pub const ALL: [Category; 6] = [
        Category::Travel,
        Category::Meals,
        Category::Lodging,
        Category::Supplies,
        Category::Software,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Travel => "travel",
            Category::Meals => "meals",
            Category::Lodging => "lodging",
            Category::Supplies => "supplies",
            Category::Software => "software",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A budget as stored and returned.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = budgets, check_for_backend(diesel::pg::Pg))]
pub struct Budget {
    pub id: Uuid,
    #[schema(value_type = Category)]
    pub category: String,
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
    pub category: String,
    pub period: NaiveDate,
    pub amount_cents: i64,
}
