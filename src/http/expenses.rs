//! `/api/v1/expenses` and its workflow actions (docs/API.md §6). Gated by the `expenses`
//! feature. Members see and act on their own expenses only.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Feature, Role, TenantContext};
use crate::db::locking::Expected;
use crate::db::{self, pagination::Page};
use crate::error::{AppError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PageParams};
use crate::http::idempotency::{self, Answer, Idempotency};
use crate::http::patch::non_null;
use crate::http::preconditions::{IfMatchHeader, etag_header};
use crate::models::budget::Category;
use crate::models::expense::{Expense, ExpenseChanges, ExpenseStatus, MAX_AMOUNT_CENTS};
use crate::models::period::Period;
use crate::repos::expenses::{self, ExpenseFilter, ExpenseKey, NewExpenseInput};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_expense, list_expenses))
        .routes(routes!(get_expense, update_expense, delete_expense))
        .routes(routes!(submit_expense))
        .routes(routes!(approve_expense))
        .routes(routes!(reject_expense))
}

const CURSOR_TAG: &str = "expenses";

fn check_fields(
    c: &mut Checks,
    amount: Option<i64>,
    currency: Option<&str>,
    description: Option<&str>,
    incurred_on: Option<NaiveDate>,
) {
    if let Some(a) = amount {
        c.range("amount_cents", a, 1, MAX_AMOUNT_CENTS);
    }
    if let Some(cur) = currency {
        if cur.len() != 3 || !cur.bytes().all(|b| b.is_ascii_uppercase()) {
            c.fail(
                "currency",
                "must be an ISO 4217 code of three upper-case letters",
            );
        }
    }
    if let Some(d) = description {
        c.text("description", d, 1000);
    }
    if let Some(day) = incurred_on {
        if day > chrono::Utc::now().date_naive() {
            c.fail("incurred_on", "must not be in the future");
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateExpenseRequest {
    pub category: Category,
    /// 1..=100000000 minor units.
    #[schema(minimum = 1, maximum = 100000000)]
    pub amount_cents: i64,
    /// ISO 4217, default `USD`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    /// 1..=1000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub description: String,
    /// `YYYY-MM-DD`, not in the future.
    #[serde(deserialize_with = "crate::validate::year_bounded")]
    pub incurred_on: NaiveDate,
}

/// Creates a draft expense submitted by the caller (member or admin).
#[utoipa::path(post, path = "/api/v1/expenses", tag = "expenses", request_body = CreateExpenseRequest, responses((status = 201, body = Expense)))]
pub async fn create_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppJson(body): AppJson<CreateExpenseRequest>,
) -> Result<Response, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Member)?;
    let mut c = Checks::new();
    check_fields(
        &mut c,
        Some(body.amount_cents),
        body.currency.as_deref(),
        Some(&body.description),
        Some(body.incurred_on),
    );
    c.finish()?;
    let new = NewExpenseInput {
        category: body.category,
        amount_cents: body.amount_cents,
        currency: body.currency.unwrap_or_else(|| "USD".into()),
        description: body.description,
        incurred_on: body.incurred_on,
    };
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::CREATED,
            version: Some(|r: &Expense| r.version),
        },
        move |conn, ctx| expenses::create(conn, ctx, new),
    )
    .await?;
    Ok(outcome.respond(|expense: Expense| {
        (
            StatusCode::CREATED,
            etag_header(expense.version),
            Json(expense),
        )
            .into_response()
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpenseListQuery {
    #[param(value_type = Option<ExpenseStatus>)]
    pub status: Option<String>,
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
    pub submitter_id: Option<Uuid>,
    /// `YYYY-MM`: the month of `incurred_on`.
    #[param(value_type = Option<String>, pattern = "^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: Option<Period>,
}

/// Lists expenses, newest first: all of them for admins and viewers, a member's own.
#[utoipa::path(get, path = "/api/v1/expenses", tag = "expenses", params(ExpenseListQuery), responses((status = 200, body = Page<Expense>)))]
pub async fn list_expenses(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<ExpenseListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<Expense>, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Viewer)?;
    let mut c = Checks::new();
    let status = c.choice(
        "status",
        q.status.as_deref(),
        ExpenseStatus::parse,
        "must be draft, submitted, approved or rejected",
    );
    let category = c.choice(
        "category",
        q.category.as_deref(),
        Category::parse,
        "must be a known category",
    );
    c.finish()?;
    let filter = ExpenseFilter {
        status,
        category,
        submitter_id: q.submitter_id,
        period: q.period.map(Period::first_day),
    };
    let after: Option<ExpenseKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        expenses::list(conn, ctx, &filter, after, limit)
    })
    .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        &app.cursors,
        CURSOR_TAG,
        |e| (e.created_at, e.id),
    ))
}

/// One expense the caller may see.
#[utoipa::path(
    get, path = "/api/v1/expenses/{id}", tag = "expenses", params(("id" = Uuid, Path)),
    responses((status = 200, body = Expense, headers(("etag" = String, description = "\"<version>\""))))
)]
pub async fn get_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<(HeaderMap, Json<Expense>), AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Viewer)?;
    let e = db::read_for(&app, &ctx, move |conn, ctx| expenses::find(conn, ctx, id)).await?;
    Ok((etag_header(e.version), Json(e)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateExpenseRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub version: Option<i32>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Category)]
    pub category: Option<Category>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i64, minimum = 1, maximum = 100000000)]
    pub amount_cents: Option<i64>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, pattern = "^[A-Z]{3}$")]
    pub currency: Option<String>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 1000, pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub description: Option<String>,
    /// `YYYY-MM-DD`, not in the future.
    #[serde(default, deserialize_with = "crate::validate::year_bounded_non_null")]
    #[schema(value_type = NaiveDate)]
    pub incurred_on: Option<NaiveDate>,
}

/// The answer of a workflow step: the row and its new `ETag`.
type Versioned = (HeaderMap, Json<Expense>);

fn versioned(e: Expense) -> Versioned {
    (etag_header(e.version), Json(e))
}

/// Edits a draft or rejected expense (its submitter), under optimistic locking.
///
/// The version comes in the body or in `If-Match`. A body that changes no field (`{}` or
/// `version` alone) is `422 validation_failed`.
#[utoipa::path(
    patch, path = "/api/v1/expenses/{id}", tag = "expenses", request_body = UpdateExpenseRequest,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Expense),
        crate::http::docs::LockFailures,
        (status = 422, description = "validation_failed, invalid_transition (not draft or rejected)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
    AppJson(body): AppJson<UpdateExpenseRequest>,
) -> Result<Versioned, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Member)?;
    let mut c = Checks::new();
    check_fields(
        &mut c,
        body.amount_cents,
        body.currency.as_deref(),
        body.description.as_deref(),
        body.incurred_on,
    );
    let changes = ExpenseChanges {
        category: body.category,
        amount_cents: body.amount_cents,
        currency: body.currency,
        description: body.description,
        incurred_on: body.incurred_on,
    };
    if changes.fields().is_empty() {
        c.fail("body", "must change at least one field");
    }
    c.finish()?;
    let expected = Expected::from_parts(body.version, if_match)?;
    let e = db::write_for(&app, &ctx, move |conn, ctx| {
        expenses::update(conn, ctx, id, changes, expected)
    })
    .await?;
    Ok(versioned(e))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VersionBody {
    /// The version acted on; or send `If-Match`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub version: Option<i32>,
}

/// draft | rejected → submitted (the submitter).
///
/// Resubmitting a rejected expense clears `approver_id`, `decided_at` and
/// `rejection_reason`.
#[utoipa::path(
    post, path = "/api/v1/expenses/{id}/submit", tag = "expenses", request_body = VersionBody,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Expense),
        crate::http::docs::LockFailures,
        (status = 422, description = "invalid_transition", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn submit_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
    AppJson(body): AppJson<VersionBody>,
) -> Result<Response, AppError> {
    // Viewers only read (docs/API.md §2), even an expense they drafted before a demotion.
    ctx.require_feature_role(Feature::Expenses, Role::Member)?;
    let expected = Expected::from_parts(body.version, if_match)?;
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::OK,
            version: Some(|r: &Expense| r.version),
        },
        move |conn, ctx| expenses::submit(conn, ctx, id, expected),
    )
    .await?;
    Ok(outcome.respond(|e| versioned(e).into_response()))
}

/// submitted → approved (admin, not the submitter), debiting the budget of the
/// expense's category and month in the same transaction.
///
/// Budgets carry no currency: the approval debits `amount_cents` whatever the expense's
/// currency.
#[utoipa::path(
    post, path = "/api/v1/expenses/{id}/approve", tag = "expenses", request_body = VersionBody,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Expense),
        crate::http::docs::LockFailures,
        (status = 422, description = "invalid_transition, no_budget, budget_exceeded", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn approve_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
    AppJson(body): AppJson<VersionBody>,
) -> Result<Response, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Admin)?;
    let expected = Expected::from_parts(body.version, if_match)?;
    let outcome = idempotency::write_retrying(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::OK,
            version: Some(|r: &Expense| r.version),
        },
        move |conn, ctx| expenses::approve(conn, ctx, id, expected),
    )
    .await?;
    Ok(outcome.respond(|e| versioned(e).into_response()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub version: Option<i32>,
    /// 1..=1000 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub reason: String,
}

/// submitted → rejected with a reason (admin).
#[utoipa::path(
    post, path = "/api/v1/expenses/{id}/reject", tag = "expenses", request_body = RejectBody,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 200, body = Expense),
        crate::http::docs::LockFailures,
        (status = 422, description = "validation_failed, invalid_transition", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reject_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
    AppJson(body): AppJson<RejectBody>,
) -> Result<Response, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Admin)?;
    let mut c = Checks::new();
    c.text("reason", &body.reason, 1000);
    c.finish()?;
    let expected = Expected::from_parts(body.version, if_match)?;
    let reason = body.reason;
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::OK,
            version: Some(|r: &Expense| r.version),
        },
        move |conn, ctx| expenses::reject(conn, ctx, id, expected, reason),
    )
    .await?;
    Ok(outcome.respond(|e| versioned(e).into_response()))
}

/// Deletes a draft (its submitter); an `If-Match`, when sent, must match.
#[utoipa::path(
    delete, path = "/api/v1/expenses/{id}", tag = "expenses",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 204, description = "deleted"),
        (status = 412, description = "precondition_failed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "invalid_transition: only drafts can be deleted", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_expense(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
) -> Result<StatusCode, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Member)?;
    let expected = if_match
        .map(|m| Expected::from_parts(None, Some(m)))
        .transpose()?;
    db::write_for(&app, &ctx, move |conn, ctx| {
        expenses::delete(conn, ctx, id, expected)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
