//! Writes for `tenantry seed`. No audit rows: seeding is not a change made by a
//! tenant's user.
//!
//! The demo rows (this module) are inserted only when missing: tenants by code, users by
//! e-mail, every other row by a primary key the seed derives from the tenant and a name,
//! with `ON CONFLICT DO NOTHING`, so a second run adds nothing and two concurrent runs
//! cannot duplicate a row. Volume rows ([`volume`]) are generated inside PostgreSQL.

pub mod volume;

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::models::budget::Category;
use crate::models::expense::ExpenseStatus;
use crate::models::task::TaskStatus;
use crate::models::tenant::NewTenant;
use crate::models::user::NewUser;
use crate::schema::{budgets, expenses, items, projects, tasks, tenants, users};

/// The id and creation time of tenant `code`, inserting `new` when no tenant has that
/// code. Returns `(id, created_at, created)`. Safe against a concurrent seed: the insert
/// does nothing on conflict.
pub fn ensure_tenant(
    conn: &mut PgConnection,
    new: NewTenant,
) -> QueryResult<(Uuid, DateTime<Utc>, bool)> {
    let code = new.code.clone();
    let inserted: Option<(Uuid, DateTime<Utc>)> = diesel::insert_into(tenants::table)
        .values(new)
        .on_conflict(tenants::code)
        .do_nothing()
        .returning((tenants::id, tenants::created_at))
        .get_result(conn)
        .optional()?;
    match inserted {
        Some((id, at)) => Ok((id, at, true)),
        None => {
            let (id, at) = tenants::table
                .filter(tenants::code.eq(code))
                .select((tenants::id, tenants::created_at))
                .first(conn)?;
            Ok((id, at, false))
        }
    }
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// The id of `tenant_id`'s user with `email` (case-insensitive, like the unique index).
pub fn user_id(conn: &mut PgConnection, tenant_id: Uuid, email: &str) -> QueryResult<Option<Uuid>> {
    users::table
        .filter(users::tenant_id.eq(tenant_id))
        .filter(lower(users::email).eq(email.to_lowercase()))
        .select(users::id)
        .first(conn)
        .optional()
}

/// Inserts `user` unless the tenant already has it (by id or by email); returns whether
/// a row was added.
pub fn insert_user_if_absent(conn: &mut PgConnection, user: NewUser) -> QueryResult<bool> {
    let n = diesel::insert_into(users::table)
        .values(user)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

/// A demo project. Unlike the API's insert shapes, the seed sets the timestamps, so the
/// demo rows list in the order they are defined.
#[derive(Debug, Insertable)]
#[diesel(table_name = projects)]
pub struct DemoProject {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A demo task, in any status (`completed_at` set exactly when completed).
#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub struct DemoTask {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: i32,
    pub due_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A demo budget; it starts unspent and approved demo expenses debit it
/// ([`debit_budget`]).
#[derive(Debug, Insertable)]
#[diesel(table_name = budgets)]
pub struct DemoBudget {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub category: Category,
    pub period: NaiveDate,
    pub amount_cents: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A demo expense in any workflow status, with the version its transitions would have
/// given it.
#[derive(Debug, Insertable)]
#[diesel(table_name = expenses)]
pub struct DemoExpense {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub submitter_id: Uuid,
    pub category: Category,
    pub amount_cents: i64,
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

/// A demo item (its search vector is computed by the database).
#[derive(Debug, Insertable)]
#[diesel(table_name = items)]
pub struct DemoItem {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Inserts the rows whose key is free; returns how many were added.
macro_rules! insert_missing {
    ($(#[$doc:meta])* $name:ident, $row:ty, $table:path) => {
        $(#[$doc])*
        pub fn $name(conn: &mut PgConnection, rows: Vec<$row>) -> QueryResult<usize> {
            diesel::insert_into($table).values(rows).on_conflict_do_nothing().execute(conn)
        }
    };
}

insert_missing!(
    /// Inserts the demo projects that are missing.
    insert_projects, DemoProject, projects::table);
insert_missing!(
    /// Inserts the demo tasks that are missing.
    insert_tasks, DemoTask, tasks::table);
insert_missing!(
    /// Inserts the demo budgets whose id and whose (category, period) are free.
    insert_budgets, DemoBudget, budgets::table);
insert_missing!(
    /// Inserts the demo items that are missing.
    insert_items, DemoItem, items::table);

/// Inserts one demo expense unless its id exists; returns whether it was added.
pub fn insert_expense(conn: &mut PgConnection, row: DemoExpense) -> QueryResult<bool> {
    let n = diesel::insert_into(expenses::table)
        .values(row)
        .on_conflict_do_nothing()
        .execute(conn)?;
    Ok(n == 1)
}

/// Debits an approved expense from its budget exactly as an approval does (one
/// conditional UPDATE, version + 1); returns false when there is no budget of that
/// category and month or too little remains.
pub fn debit_budget(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    category: Category,
    period: NaiveDate,
    amount_cents: i64,
) -> QueryResult<bool> {
    let n = diesel::update(budgets::table)
        .filter(budgets::tenant_id.eq(tenant_id))
        .filter(budgets::category.eq(category))
        .filter(budgets::period.eq(period))
        .filter(budgets::remaining_cents.ge(amount_cents))
        .set((
            budgets::spent_cents.eq(budgets::spent_cents + amount_cents),
            budgets::version.eq(budgets::version + 1),
        ))
        .execute(conn)?;
    Ok(n == 1)
}
