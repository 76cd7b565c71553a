//! Demo projects and their tasks: every project has an owner, and the tasks cover each
//! status (completed ones with `completed_at`), with and without due dates (one
//! overdue) and assignees.

use chrono::TimeDelta;
use diesel::pg::PgConnection;

use super::demo::DemoTenant;
use crate::models::task::TaskStatus;
use crate::ops::BoxError;
use crate::repos::seed::{self as repo, DemoProject, DemoTask};

/// Projects: name, description, owner (a demo user's local part).
const PROJECTS: [(&str, &str, &str); 3] = [
    (
        "Website relaunch",
        "New design, new copy and a faster site before the spring campaign.",
        "alice",
    ),
    (
        "Mobile app",
        "The first public release of the iOS and Android app.",
        "bob",
    ),
    (
        "Office move",
        "Moving the team to the new office on the third floor.",
        "admin",
    ),
];

/// Tasks: project (index into [`PROJECTS`]), title, status, priority, due in days
/// from the tenant's creation (negative: overdue), assignee.
type TaskRow = (
    usize,
    &'static str,
    TaskStatus,
    i32,
    Option<i64>,
    Option<&'static str>,
);
const TASKS: [TaskRow; 11] = [
    (
        0,
        "Draft the sitemap",
        TaskStatus::Completed,
        3,
        None,
        Some("alice"),
    ),
    (
        0,
        "Write the homepage copy",
        TaskStatus::InProgress,
        5,
        Some(7),
        Some("alice"),
    ),
    (
        0,
        "Choose a web font",
        TaskStatus::Completed,
        1,
        None,
        Some("bob"),
    ),
    (
        0,
        "Set up redirects",
        TaskStatus::Pending,
        4,
        Some(21),
        None,
    ),
    (
        1,
        "Sketch the onboarding screens",
        TaskStatus::InProgress,
        6,
        Some(5),
        Some("bob"),
    ),
    (
        1,
        "Fix the login crash",
        TaskStatus::Pending,
        9,
        Some(2),
        Some("bob"),
    ),
    (
        1,
        "Publish the beta",
        TaskStatus::Pending,
        7,
        Some(30),
        None,
    ),
    (
        1,
        "Write the release notes",
        TaskStatus::Completed,
        2,
        None,
        Some("alice"),
    ),
    (
        2,
        "Book the movers",
        TaskStatus::Completed,
        8,
        None,
        Some("admin"),
    ),
    (
        2,
        "Order new desks",
        TaskStatus::InProgress,
        5,
        Some(14),
        Some("admin"),
    ),
    (
        2,
        "Update the address on invoices",
        TaskStatus::Pending,
        3,
        Some(-3),
        None,
    ),
];

/// Row numbers of the tasks start here (see [`DemoTenant::at`]), after the projects'.
const TASK_ROWS: usize = 100;

/// The id of project `n` of [`PROJECTS`], made at row number `n`.
fn project_id(tenant: &DemoTenant<'_>, n: usize) -> uuid::Uuid {
    tenant.row_id("project", PROJECTS[n].0, tenant.at(n))
}

/// The projects domain: [`PROJECTS`].
pub fn projects(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let mut rows = Vec::with_capacity(PROJECTS.len());
    for (n, (name, description, owner)) in PROJECTS.into_iter().enumerate() {
        let at = tenant.at(n);
        rows.push(DemoProject {
            tenant_id: tenant.id,
            id: project_id(tenant, n),
            name: name.to_string(),
            description: Some(description.to_string()),
            owner_id: Some(tenant.user(conn, owner)?),
            created_at: at,
            updated_at: at,
        });
    }
    Ok(repo::insert_projects(conn, rows)? as u64)
}

/// The tasks domain: [`TASKS`], in the projects made by [`projects`].
pub fn tasks(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let mut rows = Vec::with_capacity(TASKS.len());
    for (n, (project, title, status, priority, due_in_days, assignee)) in
        TASKS.into_iter().enumerate()
    {
        let (project_name, ..) = PROJECTS[project];
        let at = tenant.at(TASK_ROWS + n);
        let assignee_id = match assignee {
            Some(local) => Some(tenant.user(conn, local)?),
            None => None,
        };
        // A task created as completed is completed when it is created, as through the API.
        let completed_at = (status == TaskStatus::Completed).then_some(at);
        rows.push(DemoTask {
            tenant_id: tenant.id,
            id: tenant.row_id("task", &format!("{project_name}/{title}"), at),
            project_id: project_id(tenant, project),
            title: title.to_string(),
            description: None,
            status,
            priority,
            due_at: due_in_days.map(|d| tenant.epoch + TimeDelta::days(d)),
            assignee_id,
            completed_at,
            created_at: at,
            updated_at: at,
        });
    }
    Ok(repo::insert_tasks(conn, rows)? as u64)
}
