//! Loads what the tenant context needs to know about a token's user, in one query.

use diesel::prelude::*;
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::principal_cache::Principal;
use crate::error::AppError;
use crate::models::tenant::TenantStatus;
use crate::schema::{tenants, users};

/// The user's current role and active flag with its tenant's status and features;
/// `None` when no such user exists in that tenant.
pub fn load(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    user_id: Uuid,
) -> Result<Option<Principal>, AppError> {
    type Row = (
        Role,
        bool,
        TenantStatus,
        serde_json::Value,
        Option<chrono::DateTime<chrono::Utc>>,
    );
    let row: Option<Row> = users::table
        .inner_join(tenants::table)
        .filter(users::tenant_id.eq(tenant_id))
        .filter(users::id.eq(user_id))
        .select((
            users::role,
            users::is_active,
            tenants::status,
            tenants::features_enabled,
            users::tokens_valid_after,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(
        |(role, is_active, tenant_status, features, valid_after)| Principal {
            role,
            is_active,
            tenant_status,
            features,
            tokens_valid_after: valid_after.map(|t| t.timestamp()),
        },
    ))
}
