//! Tasks: versioned work items of a project.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::tasks;

crate::text_enum! {
    /// A task's status; any status may follow any other.
    pub enum TaskStatus {
        Pending = "pending",
        InProgress = "in_progress",
        Completed = "completed",
    }
}

/// A task as stored and returned.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct Task {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    /// `status == "completed"`, kept by the database.
    pub completed: bool,
    pub priority: i32,
    pub due_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
    pub version: i32,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A task to insert; `tenant_id` always comes from the caller's context.
#[derive(Debug, Insertable)]
#[diesel(table_name = tasks)]
pub struct NewTask {
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
}

/// Changes to a task: `None` leaves a column, `Some(None)` clears a nullable one.
/// `completed_at` follows `status` in the repository's UPDATE.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tasks)]
pub struct TaskChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<TaskStatus>,
    pub priority: Option<i32>,
    pub due_at: Option<Option<DateTime<Utc>>>,
    pub assignee_id: Option<Option<Uuid>>,
}

impl TaskChanges {
    /// Names of the fields being changed, for the audit row.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        for (set, name) in [
            (self.title.is_some(), "title"),
            (self.description.is_some(), "description"),
            (self.status.is_some(), "status"),
            (self.priority.is_some(), "priority"),
            (self.due_at.is_some(), "due_at"),
            (self.assignee_id.is_some(), "assignee_id"),
        ] {
            if set {
                f.push(name);
            }
        }
        f
    }
}
