//! `/api/v1/projects` (docs/API.md §5).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Role, TenantContext};
use crate::db::{self, pagination::Page};
use crate::error::{AppError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PageParams};
use crate::http::idempotency::{self, Answer, Idempotency};
use crate::http::patch::{non_null, nullable};
use crate::models::project::{Project, ProjectChanges};
use crate::models::user::User;
use crate::repos::projects::{self, Include, ProjectKey, ProjectRow, TaskCounts};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_project, list_projects))
        .routes(routes!(get_project, update_project, delete_project))
}

const CURSOR_TAG: &str = "projects";

fn check(c: &mut Checks, name: Option<&str>, description: Option<&str>) {
    if let Some(n) = name {
        c.text("name", n, 255);
    }
    if let Some(d) = description {
        c.length("description", d, 0, 10_000);
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProjectRequest {
    /// 1..=255 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub name: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// A user of the caller's tenant.
    #[serde(default)]
    pub owner_id: Option<Uuid>,
}

/// Creates a project (member or admin).
#[utoipa::path(
    post, path = "/api/v1/projects", tag = "projects", request_body = CreateProjectRequest,
    responses(
        (status = 201, body = Project),
        (status = 422, description = "validation_failed, invalid_reference (owner_id is not a user of this tenant)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_project(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppJson(body): AppJson<CreateProjectRequest>,
) -> Result<Response, AppError> {
    ctx.require(Role::Member)?;
    let mut c = Checks::new();
    check(&mut c, Some(&body.name), body.description.as_deref());
    c.finish()?;
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::CREATED,
            version: None,
        },
        move |conn, ctx| projects::create(conn, ctx, body.name, body.description, body.owner_id),
    )
    .await?;
    Ok(outcome.respond(|project: Project| (StatusCode::CREATED, Json(project)).into_response()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProjectListQuery {
    pub owner_id: Option<Uuid>,
    /// Comma-separated: `owner`, `task_counts`.
    #[param(pattern = "^(owner|task_counts)?(,(owner|task_counts)?)*$")]
    pub include: Option<String>,
}

/// A project in a list, with what `include` asked for.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectListItem {
    #[serde(flatten)]
    pub project: Project,
    /// With `include=owner`: the owner, or null.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<Option<User>>,
    /// With `include=task_counts`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_counts: Option<TaskCounts>,
}

fn parse_include(raw: Option<&str>) -> Result<Include, AppError> {
    let mut include = Include::default();
    for part in raw.unwrap_or("").split(',').filter(|p| !p.is_empty()) {
        match part {
            "owner" => include.owner = true,
            "task_counts" => include.task_counts = true,
            _ => {
                return Err(AppError::invalid(
                    "include",
                    "must list owner and/or task_counts",
                ));
            }
        }
    }
    Ok(include)
}

/// Lists projects, newest first; `include=owner,task_counts` joins both in one query.
#[utoipa::path(
    get, path = "/api/v1/projects", tag = "projects", params(ProjectListQuery),
    responses((status = 200, body = Page<ProjectListItem>))
)]
pub async fn list_projects(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<ProjectListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<ProjectListItem>, AppError> {
    let include = parse_include(q.include.as_deref())?;
    let after: Option<ProjectKey> = page.after(&app.cursors, CURSOR_TAG)?;
    let (owner_id, limit) = (q.owner_id, page.fetch_limit());
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        projects::list(conn, ctx, owner_id, after, limit, include)
    })
    .await?;
    let page = Page::from_rows(rows, &page, &app.cursors, CURSOR_TAG, |r: &ProjectRow| {
        (r.project.created_at, r.project.id)
    });
    Ok(page.map(|r| ProjectListItem {
        project: r.project,
        owner: include.owner.then_some(r.owner),
        task_counts: r.task_counts,
    }))
}

/// One project.
#[utoipa::path(
    get, path = "/api/v1/projects/{id}", tag = "projects", params(("id" = Uuid, Path)),
    responses((status = 200, body = Project))
)]
pub async fn get_project(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Project>, AppError> {
    Ok(Json(
        db::read_for(&app, &ctx, move |conn, ctx| projects::find(conn, ctx, id)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateProjectRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 255, pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub owner_id: Option<Option<Uuid>>,
}

/// Updates a project (member or admin). An empty body changes nothing and is `422`.
#[utoipa::path(
    patch, path = "/api/v1/projects/{id}", tag = "projects", request_body = UpdateProjectRequest,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Project),
        (status = 422, description = "validation_failed, invalid_reference (owner_id)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_project(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<UpdateProjectRequest>,
) -> Result<Json<Project>, AppError> {
    ctx.require(Role::Member)?;
    let mut c = Checks::new();
    check(
        &mut c,
        body.name.as_deref(),
        body.description.as_ref().and_then(|d| d.as_deref()),
    );
    let changes = ProjectChanges {
        name: body.name,
        description: body.description,
        owner_id: body.owner_id,
    };
    if changes.fields().is_empty() {
        c.fail("body", "must change at least one field");
    }
    c.finish()?;
    Ok(Json(
        db::write_for(&app, &ctx, move |conn, ctx| {
            projects::update(conn, ctx, id, changes)
        })
        .await?,
    ))
}

/// Deletes a project and its tasks (member or admin).
#[utoipa::path(
    delete, path = "/api/v1/projects/{id}", tag = "projects", params(("id" = Uuid, Path)),
    responses((status = 204, description = "deleted, with its tasks"))
)]
pub async fn delete_project(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode, AppError> {
    ctx.require(Role::Member)?;
    db::write_for(&app, &ctx, move |conn, ctx| projects::delete(conn, ctx, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
