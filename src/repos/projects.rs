//! Projects of the caller's tenant, including the joined list
//! (`?include=owner,task_counts`) answered by one SQL statement.

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::error::AppError;
use crate::models::project::{NewProject, Project, ProjectChanges};
use crate::models::user::User;
use crate::repos::audit;
use crate::schema::{projects, tasks};

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

/// One page of projects, newest first.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    owner_id: Option<Uuid>,
    after: Option<ProjectKey>,
    limit: i64,
    include: Include,
) -> Result<Vec<ProjectRow>, AppError> {
    if include.owner || include.task_counts {
        return list_joined(conn, ctx, owner_id, after, limit, include);
    }
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
    Ok(rows
        .into_iter()
        .map(|project| ProjectRow {
            project,
            owner: None,
            task_counts: None,
        })
        .collect())
}

#[derive(QueryableByName)]
struct JoinedRow {
    #[diesel(embed)]
    project: Project,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    o_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    o_email: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    o_username: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    o_role: Option<String>,
    #[diesel(sql_type = Nullable<Bool>)]
    o_is_active: Option<bool>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    o_last_login_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    o_created_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    o_updated_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c_total: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c_pending: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c_in_progress: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    c_completed: Option<i64>,
}

/// The page of projects, their owners and their task counts in one statement: the page
/// is cut first (a keyset range scan), then each of its at most 100 projects is joined
/// to its owner and to a `FILTER`-grouped count over the `(tenant_id, project_id)`
/// index. Every join is on `tenant_id` as well as the id (Citus co-location).
fn list_joined(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    owner_id: Option<Uuid>,
    after: Option<ProjectKey>,
    limit: i64,
    include: Include,
) -> Result<Vec<ProjectRow>, AppError> {
    let owner_cols = if include.owner {
        "o.id AS o_id, o.email AS o_email, o.username AS o_username, o.role AS o_role, \
         o.is_active AS o_is_active, o.last_login_at AS o_last_login_at, \
         o.created_at AS o_created_at, o.updated_at AS o_updated_at"
    } else {
        "NULL::uuid AS o_id, NULL::text AS o_email, NULL::text AS o_username, NULL::text AS o_role, \
         NULL::bool AS o_is_active, NULL::timestamptz AS o_last_login_at, \
         NULL::timestamptz AS o_created_at, NULL::timestamptz AS o_updated_at"
    };
    let count_cols = if include.task_counts {
        "c.total AS c_total, c.pending AS c_pending, c.in_progress AS c_in_progress, c.completed AS c_completed"
    } else {
        "NULL::bigint AS c_total, NULL::bigint AS c_pending, NULL::bigint AS c_in_progress, NULL::bigint AS c_completed"
    };
    let mut page = String::from("SELECT * FROM projects WHERE tenant_id = $1");
    let mut n = 1;
    if owner_id.is_some() {
        n += 1;
        page.push_str(&format!(" AND owner_id = ${n}"));
    }
    if after.is_some() {
        page.push_str(&format!(
            " AND created_at <= ${} AND (created_at < ${} OR id < ${})",
            n + 1,
            n + 1,
            n + 2
        ));
        n += 2;
    }
    page.push_str(&format!(
        " ORDER BY created_at DESC, id DESC LIMIT ${}",
        n + 1
    ));
    let mut sql = format!(
        "SELECT p.id, p.tenant_id, p.name, p.description, p.owner_id, p.created_at, p.updated_at, \
         {owner_cols}, {count_cols} FROM ({page}) p"
    );
    if include.owner {
        sql.push_str(" LEFT JOIN users o ON o.tenant_id = p.tenant_id AND o.id = p.owner_id");
    }
    if include.task_counts {
        sql.push_str(
            " CROSS JOIN LATERAL (SELECT count(*) AS total, \
               count(*) FILTER (WHERE t.status = 'pending') AS pending, \
               count(*) FILTER (WHERE t.status = 'in_progress') AS in_progress, \
               count(*) FILTER (WHERE t.status = 'completed') AS completed \
             FROM tasks t WHERE t.tenant_id = p.tenant_id AND t.project_id = p.id) c",
        );
    }
    sql.push_str(" ORDER BY p.created_at DESC, p.id DESC");

    let mut q = diesel::sql_query(sql)
        .into_boxed::<Pg>()
        .bind::<SqlUuid, _>(ctx.tenant_id());
    if let Some(owner) = owner_id {
        q = q.bind::<SqlUuid, _>(owner);
    }
    if let Some((at, id)) = after {
        q = q.bind::<Timestamptz, _>(at).bind::<SqlUuid, _>(id);
    }
    let rows: Vec<JoinedRow> = q.bind::<BigInt, _>(limit).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|r| into_project_row(r, include))
        .collect())
}

fn into_project_row(r: JoinedRow, include: Include) -> ProjectRow {
    let owner = match (
        r.o_id,
        r.o_email,
        r.o_username,
        r.o_role,
        r.o_is_active,
        r.o_created_at,
        r.o_updated_at,
    ) {
        (
            Some(id),
            Some(email),
            Some(username),
            Some(role),
            Some(is_active),
            Some(created_at),
            Some(updated_at),
        ) => Some(User {
            id,
            tenant_id: r.project.tenant_id,
            email,
            username,
            role,
            is_active,
            last_login_at: r.o_last_login_at,
            created_at,
            updated_at,
        }),
        _ => None,
    };
    let task_counts = include.task_counts.then(|| TaskCounts {
        total: r.c_total.unwrap_or(0),
        pending: r.c_pending.unwrap_or(0),
        in_progress: r.c_in_progress.unwrap_or(0),
        completed: r.c_completed.unwrap_or(0),
    });
    ProjectRow {
        project: r.project,
        owner,
        task_counts,
    }
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
