//! Projects: a tenant's containers of tasks.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::projects;

/// A project as stored and returned.
#[derive(Debug, Clone, Queryable, Selectable, QueryableByName, Serialize, ToSchema)]
#[diesel(table_name = projects, check_for_backend(diesel::pg::Pg))]
pub struct Project {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A project to insert; `tenant_id` always comes from the caller's context.
#[derive(Debug, Insertable)]
#[diesel(table_name = projects)]
pub struct NewProject {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub name: String,
    pub description: Option<String>,
    pub owner_id: Option<Uuid>,
}

/// Changes to a project: `None` leaves a column, `Some(None)` clears a nullable one.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = projects)]
pub struct ProjectChanges {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub owner_id: Option<Option<Uuid>>,
}

impl ProjectChanges {
    /// Names of the fields being changed, for the audit row.
    pub fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        if self.name.is_some() {
            f.push("name");
        }
        if self.description.is_some() {
            f.push("description");
        }
        if self.owner_id.is_some() {
            f.push("owner_id");
        }
        f
    }
}
