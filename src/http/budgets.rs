//! `/api/v1/budgets` (docs/API.md §6). Gated by the `expenses` feature.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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
use crate::http::preconditions::{ETag, IfMatchHeader, etag_header};
use crate::models::budget::{Budget, Category};
use crate::models::period::Period;
use crate::repos::budgets::{self, BudgetKey};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_budget, list_budgets))
        .routes(routes!(get_budget, update_budget))
}

const CURSOR_TAG: &str = "budgets";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBudgetRequest {
    pub category: Category,
    /// `YYYY-MM`.
    #[schema(value_type = String, example = "2026-11", pattern = "^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: Period,
    /// Greater than 0.
    #[schema(minimum = 1)]
    pub amount_cents: i64,
}

/// Creates the budget of a category and month (admin); one per pair.
#[utoipa::path(
    post, path = "/api/v1/budgets", tag = "expenses", request_body = CreateBudgetRequest,
    responses(
        (status = 201, body = Budget),
        (status = 409, description = "already_exists: this category and period has a budget", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_budget(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppJson(body): AppJson<CreateBudgetRequest>,
) -> Result<Response, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Admin)?;
    let mut c = Checks::new();
    c.range("amount_cents", body.amount_cents, 1, i64::MAX);
    c.finish()?;
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::CREATED,
            version: Some(|r: &Budget| r.version),
        },
        move |conn, ctx| {
            budgets::create(
                conn,
                ctx,
                body.category,
                body.period.first_day(),
                body.amount_cents,
            )
        },
    )
    .await?;
    Ok(outcome.respond(|budget: Budget| {
        (
            StatusCode::CREATED,
            etag_header(budget.version),
            Json(budget),
        )
            .into_response()
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BudgetListQuery {
    /// `YYYY-MM`.
    #[param(value_type = Option<String>, pattern = "^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])$")]
    pub period: Option<Period>,
    #[param(value_type = Option<Category>)]
    pub category: Option<String>,
}

/// Lists budgets, newest first (any role).
#[utoipa::path(get, path = "/api/v1/budgets", tag = "expenses", params(BudgetListQuery), responses((status = 200, body = Page<Budget>)))]
pub async fn list_budgets(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<BudgetListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<Budget>, AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Viewer)?;
    let mut c = Checks::new();
    let category = c.choice(
        "category",
        q.category.as_deref(),
        Category::parse,
        "must be a known category",
    );
    c.finish()?;
    let period = q.period.map(Period::first_day);
    let after: Option<BudgetKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        budgets::list(conn, ctx, period, category, after, limit)
    })
    .await?;
    Ok(Page::from_rows(
        rows,
        &page,
        &app.cursors,
        CURSOR_TAG,
        |b| (b.created_at, b.id),
    ))
}

/// One budget (any role). Not in docs/API.md v1; added so a client can read the version it
/// must send to PATCH.
#[utoipa::path(
    get, path = "/api/v1/budgets/{id}", tag = "expenses", params(("id" = Uuid, Path)),
    responses((status = 200, body = Budget, headers(("etag" = String, description = "\"<version>\""))))
)]
pub async fn get_budget(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<(ETag, Json<Budget>), AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Viewer)?;
    let budget = db::read_for(&app, &ctx, move |conn, ctx| budgets::find(conn, ctx, id)).await?;
    Ok((etag_header(budget.version), Json(budget)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateBudgetRequest {
    /// The version being changed; or send `If-Match`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub version: Option<i32>,
    #[schema(minimum = 1)]
    pub amount_cents: i64,
}

/// Changes a budget's amount (admin); never below what is spent.
#[utoipa::path(
    patch, path = "/api/v1/budgets/{id}", tag = "expenses", request_body = UpdateBudgetRequest, params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Budget),
        crate::http::docs::LockFailures,
        (status = 422, description = "validation_failed, budget_below_spent", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_budget(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
    AppJson(body): AppJson<UpdateBudgetRequest>,
) -> Result<(ETag, Json<Budget>), AppError> {
    ctx.require_feature_role(Feature::Expenses, Role::Admin)?;
    let mut c = Checks::new();
    c.range("amount_cents", body.amount_cents, 1, i64::MAX);
    c.finish()?;
    let expected = Expected::from_parts(body.version, if_match)?;
    let amount = body.amount_cents;
    let budget = db::write_for(&app, &ctx, move |conn, ctx| {
        budgets::set_amount(conn, ctx, id, amount, expected)
    })
    .await?;
    Ok((etag_header(budget.version), Json(budget)))
}
