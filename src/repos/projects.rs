//! Projects of the caller's tenant, including the list with owners and task counts
//! (`?include=owner,task_counts`) answered by a fixed number of single-shard statements.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::error::AppError;
use crate::models::project::{NewProject, Project, ProjectChanges};
use crate::models::user::User;
use crate::repos::audit;
use crate::schema::{projects, tasks, users};

/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    projects::table.filter(projects::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<projects::table, diesel::dsl::Eq<projects::tenant_id, Uuid>>;

/// Keyset position in the default order (`created_at DESC, id DESC`).
pub type ProjectKey = (DateTime<Utc>, Uuid);

/// What `?include=` asked for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Include {
    pub owner: bool,
    pub task_counts: bool,
}

/// Tasks of a project by status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TaskCounts {
    pub total: i64,
    pub pending: i64,
    pub in_progress: i64,
    pub completed: i64,
}

/// A project with what `include` asked for.
#[derive(Debug, Clone)]
pub struct ProjectRow {
    pub project: Project,
    pub owner: Option<User>,
    pub task_counts: Option<TaskCounts>,
}

/// One page of projects, newest first, with what `include` asked for.
///
/// At most three statements, each filtered by the tenant so that each routes to one
/// shard on Citus: the page (a keyset range scan), then, for the page's ids only, the
/// owners (`tenant_id = $1 AND id = ANY($2)`) and the task counts grouped by project
/// (`tenant_id = $1 AND project_id = ANY($2)`). One statement with the page as a
/// subquery joined to `users` and a LATERAL count over `tasks` is one round trip less
/// on a single server, but Citus plans a LIMITed subquery recursively: it refused the
/// LATERAL count and read every shard of `users` for the owners.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    owner_id: Option<Uuid>,
    after: Option<ProjectKey>,
    limit: i64,
    include: Include,
) -> Result<Vec<ProjectRow>, AppError> {
    let mut q = scoped(ctx).into_boxed().select(Project::as_select());
    if let Some(owner) = owner_id {
        q = q.filter(projects::owner_id.eq(owner));
    }
    if let Some((at, id)) = after {
        q = q.filter(
            projects::created_at
                .le(at)
                .and(projects::created_at.lt(at).or(projects::id.lt(id))),
        );
    }
    let rows: Vec<Project> = q
        .order((projects::created_at.desc(), projects::id.desc()))
        .limit(limit)
        .load(conn)?;
    let owners = if include.owner && !rows.is_empty() {
        owners_of(conn, ctx, &rows)?
    } else {
        HashMap::new()
    };
    let mut counts = if include.task_counts && !rows.is_empty() {
        task_counts_of(conn, ctx, &rows)?
    } else {
        HashMap::new()
    };
    Ok(rows
        .into_iter()
        .map(|project| ProjectRow {
            owner: project.owner_id.and_then(|o| owners.get(&o).cloned()),
            task_counts: include.task_counts.then(|| {
                counts.remove(&project.id).unwrap_or(TaskCounts {
                    total: 0,
                    pending: 0,
                    in_progress: 0,
                    completed: 0,
                })
            }),
            project,
        })
        .collect())
}

/// The owners of `rows`, by id: one statement for the whole page.
fn owners_of(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    rows: &[Project],
) -> Result<HashMap<Uuid, User>, AppError> {
    let mut ids: Vec<Uuid> = rows.iter().filter_map(|p| p.owner_id).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let owners: Vec<User> = users::table
        .filter(users::tenant_id.eq(ctx.tenant_id()))
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .load(conn)?;
    Ok(owners.into_iter().map(|u| (u.id, u)).collect())
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = SqlUuid)]
    project_id: Uuid,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    in_progress: i64,
    #[diesel(sql_type = BigInt)]
    completed: i64,
}

/// The task counts of `rows` by project: one grouped statement over the
/// `(tenant_id, project_id)` index. Projects without tasks have no row.
fn task_counts_of(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    rows: &[Project],
) -> Result<HashMap<Uuid, TaskCounts>, AppError> {
    let ids: Vec<Uuid> = rows.iter().map(|p| p.id).collect();
    let counts: Vec<CountRow> = diesel::sql_query(
        "SELECT project_id, count(*) AS total, \
           count(*) FILTER (WHERE status = 'pending') AS pending, \
           count(*) FILTER (WHERE status = 'in_progress') AS in_progress, \
           count(*) FILTER (WHERE status = 'completed') AS completed \
         FROM tasks WHERE tenant_id = $1 AND project_id = ANY($2) GROUP BY project_id",
    )
    .bind::<SqlUuid, _>(ctx.tenant_id())
    .bind::<Array<SqlUuid>, _>(ids)
    .load(conn)?;
    Ok(counts
        .into_iter()
        .map(|c| {
            (
                c.project_id,
                TaskCounts {
                    total: c.total,
                    pending: c.pending,
                    in_progress: c.in_progress,
                    completed: c.completed,
                },
            )
        })
        .collect())
}

/// One project of the caller's tenant, or `404`.
pub fn find(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<Project, AppError> {
    scoped(ctx)
        .filter(projects::id.eq(id))
        .select(Project::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("project"))
}

/// True when the project exists in the caller's tenant.
pub fn exists(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<bool, AppError> {
    Ok(
        diesel::select(diesel::dsl::exists(scoped(ctx).filter(projects::id.eq(id))))
            .get_result(conn)?,
    )
}

/// Creates a project (an `owner_id` outside the tenant is `422 invalid_reference`).
pub fn create(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    name: String,
    description: Option<String>,
    owner_id: Option<Uuid>,
) -> Result<Project, AppError> {
    let project = diesel::insert_into(projects::table)
        .values(NewProject {
            tenant_id: ctx.tenant_id(),
            id: Uuid::now_v7(),
            name,
            description,
            owner_id,
        })
        .returning(Project::as_returning())
        .get_result(conn)?;
    audit::record(
        conn,
        ctx,
        "project.created",
        project.id,
        json!({"name": project.name}),
    )?;
    Ok(project)
}

/// Applies `changes`, or `404`.
pub fn update(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    changes: ProjectChanges,
) -> Result<Project, AppError> {
    let fields = changes.fields();
    let project = diesel::update(projects::table)
        .filter(projects::tenant_id.eq(ctx.tenant_id()))
        .filter(projects::id.eq(id))
        .set((changes, projects::updated_at.eq(diesel::dsl::now)))
        .returning(Project::as_returning())
        .get_result(conn)
        .optional()?
        .ok_or(AppError::NotFound("project"))?;
    audit::record(conn, ctx, "project.updated", id, json!({"changed": fields}))?;
    Ok(project)
}

/// Deletes a project and (by cascade) its tasks, or `404`.
pub fn delete(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<(), AppError> {
    let tasks_removed: i64 = tasks::table
        .filter(tasks::tenant_id.eq(ctx.tenant_id()))
        .filter(tasks::project_id.eq(id))
        .count()
        .get_result(conn)?;
    let n = diesel::delete(projects::table)
        .filter(projects::tenant_id.eq(ctx.tenant_id()))
        .filter(projects::id.eq(id))
        .execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound("project"));
    }
    audit::record(
        conn,
        ctx,
        "project.deleted",
        id,
        json!({"tasks_deleted": tasks_removed}),
    )?;
    Ok(())
}
