//! Tenant roles (ordered by privilege) and tenant feature flags.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A tenant user's role. The derived order is the privilege order:
/// `viewer < member < admin`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Member,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "viewer" => Some(Role::Viewer),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Role claim of platform operators; not a tenant role.
pub const PLATFORM_ADMIN: &str = "platform_admin";

/// Features a tenant can have switched off (`features_enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    Expenses,
    Items,
}

impl Feature {
    pub const ALL: [Feature; 2] = [Feature::Expenses, Feature::Items];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::Expenses => "expenses",
            Feature::Items => "items",
        }
    }

    /// A feature is on unless the tenant's flags set it to `false`.
    pub fn enabled_in(self, flags: &serde_json::Value) -> bool {
        flags.get(self.as_str()) != Some(&serde_json::Value::Bool(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_order_by_privilege() {
        assert!(Role::Viewer < Role::Member && Role::Member < Role::Admin);
        for r in [Role::Viewer, Role::Member, Role::Admin] {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("platform_admin"), None);
    }

    #[test]
    fn features_default_to_on() {
        let flags = serde_json::json!({"items": false});
        assert!(!Feature::Items.enabled_in(&flags));
        assert!(Feature::Expenses.enabled_in(&flags));
    }
}
