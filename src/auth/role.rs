//! Tenant roles (ordered by privilege) and tenant feature flags.

crate::text_enum! {
    /// A tenant user's role. The derived order is the privilege order:
    /// `viewer < member < admin`.
    #[derive(PartialOrd, Ord)]
    pub enum Role {
        Viewer = "viewer",
        Member = "member",
        Admin = "admin",
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
        for &r in Role::ALL {
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
