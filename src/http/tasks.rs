//! Tasks: `/api/v1/projects/{id}/tasks` and `/api/v1/tasks` (docs/API.md §5), with
//! optimistic locking by body `version` (409) or `If-Match` (412), and `ETag`s.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Role, TenantContext};
use crate::db::locking::Expected;
use crate::db::pagination::{Page, PageRequest};
use crate::db::{self};
use crate::error::{AppError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PageParams};
use crate::http::idempotency::{self, Answer, Idempotency};
use crate::http::patch::{non_null, nullable};
use crate::http::preconditions::{IfMatchHeader, etag_header};
use crate::models::task::{Task, TaskChanges, TaskStatus};
use crate::repos::projects;
use crate::repos::tasks::{self, CreateTask, TaskAfter, TaskFilter, TaskSort};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_task, list_project_tasks))
        .routes(routes!(list_tasks))
        .routes(routes!(get_task, update_task, delete_task))
}

fn check_fields(
    c: &mut Checks,
    title: Option<&str>,
    description: Option<&str>,
    priority: Option<i32>,
) {
    if let Some(t) = title {
        c.text("title", t, 255);
    }
    if let Some(d) = description {
        c.length("description", d, 0, 10_000);
    }
    if let Some(p) = priority {
        c.range("priority", p, 0, 10);
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTaskRequest {
    /// 1..=255 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub title: String,
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
    /// 0..=10, default 0.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 0, maximum = 10)]
    pub priority: Option<i32>,
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub due_at: Option<DateTime<Utc>>,
    /// A user of the caller's tenant.
    #[serde(default)]
    pub assignee_id: Option<Uuid>,
    /// Default `pending`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = TaskStatus)]
    pub status: Option<TaskStatus>,
}

/// Creates a task in a project (member or admin); answers with `ETag: "1"`.
#[utoipa::path(
    post, path = "/api/v1/projects/{id}/tasks", tag = "tasks", request_body = CreateTaskRequest,
    params(("id" = Uuid, Path, description = "project id")),
    responses(
        (status = 201, body = Task, headers(("etag" = String, description = "\"<version>\""))),
        (status = 422, description = "validation_failed, invalid_reference (assignee_id)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_task(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppPath(project_id): AppPath<Uuid>,
    AppJson(body): AppJson<CreateTaskRequest>,
) -> Result<Response, AppError> {
    ctx.require(Role::Member)?;
    let mut c = Checks::new();
    check_fields(
        &mut c,
        Some(&body.title),
        body.description.as_deref(),
        body.priority,
    );
    c.finish()?;
    let new = CreateTask {
        title: body.title,
        description: body.description,
        status: body.status.unwrap_or(TaskStatus::Pending),
        priority: body.priority.unwrap_or(0),
        due_at: body.due_at,
        assignee_id: body.assignee_id,
    };
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::CREATED,
            version: Some(|r: &Task| r.version),
        },
        move |conn, ctx| tasks::create(conn, ctx, project_id, new),
    )
    .await?;
    Ok(outcome.respond(|task: Task| {
        (StatusCode::CREATED, etag_header(task.version), Json(task)).into_response()
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    pub project_id: Option<Uuid>,
    #[param(value_type = Option<TaskStatus>)]
    pub status: Option<String>,
    pub assignee_id: Option<Uuid>,
    #[param(minimum = 0, maximum = 10)]
    pub priority_gte: Option<i32>,
    /// Exclusive, RFC 3339.
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub due_before: Option<DateTime<Utc>>,
    /// Inclusive, RFC 3339.
    #[serde(default, deserialize_with = "crate::validate::year_bounded_opt")]
    pub due_after: Option<DateTime<Utc>>,
    /// `-created_at` (default), `created_at`, `due_at` (no due date last), `-priority`.
    #[param(schema_with = crate::http::docs::task_sort)]
    pub sort: Option<String>,
}

impl TaskListQuery {
    fn parse(&self) -> Result<(TaskFilter, TaskSort), AppError> {
        let mut c = Checks::new();
        let status = c.choice(
            "status",
            self.status.as_deref(),
            TaskStatus::parse,
            "must be pending, in_progress or completed",
        );
        let sort = c
            .choice(
                "sort",
                self.sort.as_deref(),
                TaskSort::parse,
                "must be -created_at, created_at, due_at or -priority",
            )
            .unwrap_or(TaskSort::CreatedDesc);
        if let Some(p) = self.priority_gte {
            c.range("priority_gte", p, 0, 10);
        }
        c.finish()?;
        Ok((
            TaskFilter {
                project_id: self.project_id,
                status,
                assignee_id: self.assignee_id,
                priority_gte: self.priority_gte,
                due_before: self.due_before,
                due_after: self.due_after,
            },
            sort,
        ))
    }
}

/// Decodes the cursor for the ordering in use.
fn decode_after(
    app: &AppState,
    page: &PageRequest,
    sort: TaskSort,
) -> Result<Option<TaskAfter>, AppError> {
    let tag = sort.tag();
    Ok(match sort {
        TaskSort::CreatedDesc | TaskSort::CreatedAsc => page
            .after::<(DateTime<Utc>, Uuid)>(&app.cursors, tag)?
            .map(|(a, i)| TaskAfter::Created(a, i)),
        TaskSort::DueAsc => page
            .after::<(Option<DateTime<Utc>>, Uuid)>(&app.cursors, tag)?
            .map(|(d, i)| TaskAfter::Due(d, i)),
        TaskSort::PriorityDesc => page
            .after::<(i32, Uuid)>(&app.cursors, tag)?
            .map(|(p, i)| TaskAfter::Priority(p, i)),
    })
}

fn to_page(app: &AppState, rows: Vec<Task>, page: &PageRequest, sort: TaskSort) -> Page<Task> {
    Page::from_rows(
        rows,
        page,
        &app.cursors,
        sort.tag(),
        |t| match TaskAfter::of(t, sort) {
            TaskAfter::Created(a, i) => serde_json::json!([a, i]),
            TaskAfter::Due(d, i) => serde_json::json!([d, i]),
            TaskAfter::Priority(p, i) => serde_json::json!([p, i]),
        },
    )
}

/// Lists the tenant's tasks with filters and a sort.
///
/// `sort=-priority` breaks ties newest first (ids are time-ordered UUIDv7).
#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "tasks", params(TaskListQuery),
    responses((status = 200, body = Page<Task>))
)]
pub async fn list_tasks(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(q): AppQuery<TaskListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<Task>, AppError> {
    let (filter, sort) = q.parse()?;
    let after = decode_after(&app, &page, sort)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        tasks::list(conn, ctx, &filter, sort, after, limit)
    })
    .await?;
    Ok(to_page(&app, rows, &page, sort))
}

/// Lists one project's tasks; `404` when the project does not exist.
#[utoipa::path(
    get, path = "/api/v1/projects/{id}/tasks", tag = "tasks",
    params(("id" = Uuid, Path, description = "project id"), TaskListQuery),
    responses((status = 200, body = Page<Task>))
)]
pub async fn list_project_tasks(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(project_id): AppPath<Uuid>,
    AppQuery(q): AppQuery<TaskListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<Task>, AppError> {
    let (mut filter, sort) = q.parse()?;
    filter.project_id = Some(project_id);
    let after = decode_after(&app, &page, sort)?;
    let limit = page.fetch_limit();
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        let rows = tasks::list(conn, ctx, &filter, sort, after, limit)?;
        // Only an empty page needs the second query that tells "no tasks" from "no project".
        if rows.is_empty() && !projects::exists(conn, ctx, project_id)? {
            return Err(AppError::NotFound("project"));
        }
        Ok(rows)
    })
    .await?;
    Ok(to_page(&app, rows, &page, sort))
}

/// One task, with `ETag: "<version>"`.
#[utoipa::path(
    get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = Uuid, Path)),
    responses((status = 200, body = Task, headers(("etag" = String, description = "\"<version>\""))))
)]
pub async fn get_task(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<(HeaderMap, Json<Task>), AppError> {
    let task = db::read_for(&app, &ctx, move |conn, ctx| tasks::find(conn, ctx, id)).await?;
    Ok((etag_header(task.version), Json(task)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTaskRequest {
    /// The version being changed; or send `If-Match: "<version>"` instead.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 1)]
    pub version: Option<i32>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 255, pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = TaskStatus)]
    pub status: Option<TaskStatus>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = i32, minimum = 0, maximum = 10)]
    pub priority: Option<i32>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::validate::year_bounded_nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub due_at: Option<Option<DateTime<Utc>>>,
    /// `null` unassigns.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
}

/// Updates a task under optimistic locking (member or admin).
///
/// The version comes in the body or in `If-Match`. A body that changes no field (`{}` or
/// `version` alone) is `422 validation_failed`.
#[utoipa::path(
    patch, path = "/api/v1/tasks/{id}", tag = "tasks", request_body = UpdateTaskRequest,
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "\"<version>\", instead of a body version")),
    responses(
        (status = 200, body = Task, headers(("etag" = String, description = "\"<new version>\""))),
        crate::http::docs::LockFailures,
        (status = 422, description = "validation_failed (also: no field to change), invalid_reference (assignee_id)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_task(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
    AppJson(body): AppJson<UpdateTaskRequest>,
) -> Result<(HeaderMap, Json<Task>), AppError> {
    ctx.require(Role::Member)?;
    let mut c = Checks::new();
    check_fields(
        &mut c,
        body.title.as_deref(),
        body.description.as_ref().and_then(|d| d.as_deref()),
        body.priority,
    );
    let changes = TaskChanges {
        title: body.title,
        description: body.description,
        status: body.status,
        priority: body.priority,
        due_at: body.due_at,
        assignee_id: body.assignee_id,
    };
    if changes.fields().is_empty() {
        c.fail("body", "must change at least one field");
    }
    c.finish()?;
    let expected = Expected::from_parts(body.version, if_match)?;
    let task = db::write_for(&app, &ctx, move |conn, ctx| {
        tasks::update(conn, ctx, id, changes, expected)
    })
    .await?;
    Ok((etag_header(task.version), Json(task)))
}

/// Deletes a task (member or admin); an `If-Match`, when sent, must match.
#[utoipa::path(
    delete, path = "/api/v1/tasks/{id}", tag = "tasks",
    params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "optional \"<version>\"")),
    responses(
        (status = 204, description = "deleted"),
        (status = 412, description = "precondition_failed: If-Match is stale", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_task(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    IfMatchHeader(if_match): IfMatchHeader,
) -> Result<StatusCode, AppError> {
    ctx.require(Role::Member)?;
    let expected = if_match
        .map(|m| Expected::from_parts(None, Some(m)))
        .transpose()?;
    db::write_for(&app, &ctx, move |conn, ctx| {
        tasks::delete(conn, ctx, id, expected)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
