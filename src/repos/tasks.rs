//! Tasks of the caller's tenant: filtered, sorted keyset lists, and optimistic-locking
//! updates (one `UPDATE ... WHERE tenant_id AND id AND version` per attempt).

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable, Timestamptz};
use serde_json::json;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::db::locking::Expected;
use crate::error::AppError;
use crate::models::task::{NewTask, Task, TaskChanges, TaskStatus};
use crate::repos::audit;
use crate::schema::tasks;

/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    tasks::table.filter(tasks::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<tasks::table, diesel::dsl::Eq<tasks::tenant_id, Uuid>>;

/// List filters; `due_after` inclusive, `due_before` exclusive.
#[derive(Debug, Default, Clone)]
pub struct TaskFilter {
    pub project_id: Option<Uuid>,
    pub status: Option<TaskStatus>,
    pub assignee_id: Option<Uuid>,
    pub priority_gte: Option<i32>,
    pub due_before: Option<DateTime<Utc>>,
    pub due_after: Option<DateTime<Utc>>,
}

crate::text_enum! {
    /// The list orders of `?sort=`.
    pub enum TaskSort {
        /// `-created_at` (default): newest first.
        CreatedDesc = "-created_at",
        /// `created_at`: oldest first.
        CreatedAsc = "created_at",
        /// `due_at`: soonest first, tasks without a due date last.
        DueAsc = "due_at",
        /// `-priority`: highest first, then newest (ids are time-ordered UUIDv7).
        PriorityDesc = "-priority",
    }
}

impl TaskSort {
    /// Cursor tag: a cursor is only valid for the ordering that made it.
    pub fn tag(self) -> &'static str {
        match self {
            TaskSort::CreatedDesc => "tasks:-created_at",
            TaskSort::CreatedAsc => "tasks:created_at",
            TaskSort::DueAsc => "tasks:due_at",
            TaskSort::PriorityDesc => "tasks:-priority",
        }
    }
}

/// Keyset position after the last row of a page, per ordering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TaskAfter {
    Created(DateTime<Utc>, Uuid),
    Due(Option<DateTime<Utc>>, Uuid),
    Priority(i32, Uuid),
}

impl TaskAfter {
    /// The position of `task` in `sort` order.
    pub fn of(task: &Task, sort: TaskSort) -> Self {
        match sort {
            TaskSort::CreatedDesc | TaskSort::CreatedAsc => {
                TaskAfter::Created(task.created_at, task.id)
            }
            TaskSort::DueAsc => TaskAfter::Due(task.due_at, task.id),
            TaskSort::PriorityDesc => TaskAfter::Priority(task.priority, task.id),
        }
    }
}

/// One page of tasks in `sort` order, strictly after `after`.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    f: &TaskFilter,
    sort: TaskSort,
    after: Option<TaskAfter>,
    limit: i64,
) -> Result<Vec<Task>, AppError> {
    let mut q = scoped(ctx).into_boxed().select(Task::as_select());
    if let Some(v) = f.project_id {
        q = q.filter(tasks::project_id.eq(v));
    }
    if let Some(v) = f.status {
        q = q.filter(tasks::status.eq(v));
    }
    if let Some(v) = f.assignee_id {
        q = q.filter(tasks::assignee_id.eq(v));
    }
    if let Some(v) = f.priority_gte {
        q = q.filter(tasks::priority.ge(v));
    }
    if let Some(v) = f.due_before {
        q = q.filter(tasks::due_at.lt(v));
    }
    if let Some(v) = f.due_after {
        q = q.filter(tasks::due_at.ge(v));
    }
    // Each keyset condition is written so its first comparison is an index condition
    // on the index of that ordering: the page starts with a range scan at the cursor.
    q = match after {
        None => q,
        Some(TaskAfter::Created(at, id)) if sort == TaskSort::CreatedAsc => q.filter(
            tasks::created_at
                .ge(at)
                .and(tasks::created_at.gt(at).or(tasks::id.gt(id))),
        ),
        Some(TaskAfter::Created(at, id)) => q.filter(
            tasks::created_at
                .le(at)
                .and(tasks::created_at.lt(at).or(tasks::id.lt(id))),
        ),
        Some(TaskAfter::Priority(p, id)) => q.filter(
            tasks::priority
                .le(p)
                .and(tasks::priority.lt(p).or(tasks::id.lt(id))),
        ),
        Some(TaskAfter::Due(Some(due), id)) => q.filter(
            tasks::due_at
                .ge(due)
                .and(tasks::due_at.gt(due).or(tasks::id.gt(id)))
                .or(tasks::due_at.is_null()),
        ),
        Some(TaskAfter::Due(None, id)) => q.filter(tasks::due_at.is_null().and(tasks::id.gt(id))),
    };
    q = match sort {
        TaskSort::CreatedDesc => q.order((tasks::created_at.desc(), tasks::id.desc())),
        TaskSort::CreatedAsc => q.order((tasks::created_at.asc(), tasks::id.asc())),
        TaskSort::DueAsc => q.order((tasks::due_at.asc().nulls_last(), tasks::id.asc())),
        TaskSort::PriorityDesc => q.order((tasks::priority.desc(), tasks::id.desc())),
    };
    Ok(q.limit(limit).load(conn)?)
}

/// One task of the caller's tenant, or `404`.
pub fn find(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<Task, AppError> {
    scoped(ctx)
        .filter(tasks::id.eq(id))
        .select(Task::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("task"))
}

/// Fields of a new task.
#[derive(Debug, Clone)]
pub struct CreateTask {
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: i32,
    pub due_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
}

/// Creates a task in `project_id`: a project outside the tenant is `404` (it is in the
/// path), an assignee outside it `422 invalid_reference`. One INSERT; the composite
/// foreign keys do the checking.
pub fn create(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    project_id: Uuid,
    new: CreateTask,
) -> Result<Task, AppError> {
    let completed_at = (new.status == TaskStatus::Completed).then(Utc::now);
    let inserted = diesel::insert_into(tasks::table)
        .values(NewTask {
            tenant_id: ctx.tenant_id(),
            id: Uuid::now_v7(),
            project_id,
            title: new.title,
            description: new.description,
            status: new.status,
            priority: new.priority,
            due_at: new.due_at,
            assignee_id: new.assignee_id,
            completed_at,
        })
        .returning(Task::as_returning())
        .get_result(conn);
    let task = match inserted.map_err(AppError::from) {
        Err(AppError::InvalidReference { field }) if field == "project_id" => {
            return Err(AppError::NotFound("project"));
        }
        other => other?,
    };
    audit::record(
        conn,
        ctx,
        "task.created",
        task.id,
        json!({"project_id": project_id}),
    )?;
    Ok(task)
}

/// Applies `changes` if the task is still at the expected version; raises the version.
pub fn update(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    changes: TaskChanges,
    expected: Expected,
) -> Result<Task, AppError> {
    let fields = changes.fields();
    // completed_at follows status: set on entering completed (kept if it already was),
    // cleared on leaving it. The time is a parameter, decided here: Citus refuses
    // `now()` inside COALESCE/CASE in an UPDATE of a distributed table.
    let completed_at = changes.status.map(|status| {
        let value: Box<dyn BoxableExpression<tasks::table, Pg, SqlType = Nullable<Timestamptz>>> =
            if status == TaskStatus::Completed {
                Box::new(
                    sql::<Nullable<Timestamptz>>("COALESCE(completed_at, ")
                        .bind::<Timestamptz, _>(Utc::now())
                        .sql(")"),
                )
            } else {
                Box::new(sql::<Nullable<Timestamptz>>("NULL"))
            };
        tasks::completed_at.eq(value)
    });
    let any_version = expected.version().is_none();
    let updated = diesel::update(tasks::table)
        .filter(tasks::tenant_id.eq(ctx.tenant_id()))
        .filter(tasks::id.eq(id))
        .filter(
            tasks::version
                .eq(expected.version().unwrap_or(0))
                .or(any_version.into_sql::<Bool>()),
        )
        .set((
            changes,
            completed_at,
            tasks::version.eq(tasks::version + 1),
            tasks::updated_at.eq(diesel::dsl::now),
        ))
        .returning(Task::as_returning())
        .get_result(conn)
        .optional()?;
    let Some(task) = updated else {
        return Err(expected.miss(current_version(conn, ctx, id)?, "task"));
    };
    audit::record(
        conn,
        ctx,
        "task.updated",
        id,
        json!({"changed": fields, "version": task.version}),
    )?;
    Ok(task)
}

/// Deletes a task; with `expected`, only at that version.
pub fn delete(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    expected: Option<Expected>,
) -> Result<(), AppError> {
    let version = expected.and_then(|e| e.version());
    let n = diesel::delete(tasks::table)
        .filter(tasks::tenant_id.eq(ctx.tenant_id()))
        .filter(tasks::id.eq(id))
        .filter(
            tasks::version
                .eq(version.unwrap_or(0))
                .or(version.is_none().into_sql::<Bool>()),
        )
        .execute(conn)?;
    if n == 0 {
        let current = current_version(conn, ctx, id)?;
        return Err(match expected {
            Some(e) => e.miss(current, "task"),
            None => AppError::NotFound("task"),
        });
    }
    audit::record(conn, ctx, "task.deleted", id, json!({}))?;
    Ok(())
}

fn current_version(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
) -> Result<Option<i32>, AppError> {
    Ok(scoped(ctx)
        .filter(tasks::id.eq(id))
        .select(tasks::version)
        .first(conn)
        .optional()?)
}
