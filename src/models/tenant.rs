//! Tenants: the root of isolation (not itself tenant-scoped).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::schema::tenants;

crate::text_enum! {
    /// A tenant's lifecycle status.
    pub enum TenantStatus {
        Active = "active",
        Suspended = "suspended",
        Archived = "archived",
    }
}

/// A tenant as stored and returned.
#[derive(Debug, Clone, Queryable, Selectable, Serialize, ToSchema)]
#[diesel(table_name = tenants, check_for_backend(diesel::pg::Pg))]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub status: TenantStatus,
    pub max_users: i32,
    pub max_storage_gb: i32,
    /// Feature → enabled (`expenses`, `items`); a missing feature is enabled.
    #[schema(value_type = Object)]
    pub features_enabled: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A tenant to insert.
#[derive(Debug, Insertable)]
#[diesel(table_name = tenants)]
pub struct NewTenant {
    pub id: Uuid,
    pub name: String,
    pub code: String,
    pub max_users: i32,
    pub max_storage_gb: i32,
    pub features_enabled: serde_json::Value,
}

/// Changes to a tenant; `None` leaves a column as it is.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = tenants)]
pub struct TenantChanges {
    pub name: Option<String>,
    pub status: Option<TenantStatus>,
    pub max_users: Option<i32>,
    pub max_storage_gb: Option<i32>,
}
