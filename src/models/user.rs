//! Users of a tenant. The password hash is a column, never a field of [`User`].

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Role;
use crate::schema::users;

/// A user as returned by the API (no password, no hash).
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A user to insert; `tenant_id` always comes from the caller's context.
#[derive(Debug, Insertable)]
#[diesel(table_name = users)]
pub struct NewUser {
    pub tenant_id: Uuid,
    pub id: Uuid,
    pub email: String,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
}

/// Changes to a user; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = users)]
pub struct UserChanges {
    pub username: Option<String>,
    pub role: Option<Role>,
    pub is_active: Option<bool>,
    pub password_hash: Option<String>,
    /// Set on a password change or deactivation: tokens issued before it are refused.
    pub tokens_valid_after: Option<chrono::DateTime<chrono::Utc>>,
}

impl UserChanges {
    pub fn is_empty(&self) -> bool {
        self.username.is_none()
            && self.role.is_none()
            && self.is_active.is_none()
            && self.password_hash.is_none()
    }
}
