//! Items: a tenant's free-form records, searchable by full text (docs/API.md §7). The
//! stored `search` vector is maintained by PostgreSQL and never read or written here.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::items;

/// An item as returned by the API.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = items, check_for_backend(diesel::pg::Pg))]
pub struct Item {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    /// The user who created the item.
    pub owner_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An item to insert; `tenant_id` and `owner_id` always come from the caller's context.
#[derive(Debug, Insertable)]
#[diesel(table_name = items)]
pub struct NewItem {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub owner_id: Uuid,
}

/// Changes to an item: `None` leaves a column as it is; `description: Some(None)`
/// clears it.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = items)]
pub struct ItemChanges {
    pub title: Option<String>,
    pub description: Option<Option<String>>,
}

impl ItemChanges {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none()
    }

    /// Names of the fields being changed, for the audit row (never their values).
    pub fn changed(&self) -> Vec<&'static str> {
        let mut names = Vec::new();
        if self.title.is_some() {
            names.push("title");
        }
        if self.description.is_some() {
            names.push("description");
        }
        names
    }
}
