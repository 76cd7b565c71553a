//! The demo seed: tenants `demo` and `test`, each with an admin, two members and a
//! viewer at fixed e-mail addresses, and a little of everything else (projects, tasks
//! in each status, this month's budgets, expenses in each workflow status, items).
//!
//! Idempotent: users are inserted when their e-mail is free, every other row under an
//! id derived from the tenant and the row's name ([`DemoTenant::row_id`]) with `ON
//! CONFLICT DO NOTHING`, all in one transaction, so a second run adds no rows anywhere.
//! Dates are derived from the tenant's creation time, not from today, so a run next
//! month still finds every row in place. No audit rows: seeding is not a change made by
//! a tenant's user.

use std::cell::OnceCell;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use diesel::Connection;
use diesel::pg::PgConnection;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{demo_items, demo_money, demo_work};
use crate::auth::Role;
use crate::auth::password;
use crate::models::tenant::NewTenant;
use crate::models::user::NewUser;
use crate::ops::BoxError;
use crate::repos::seed as repo;

/// The password of every demo user (printed with the logins: this is demo data).
pub const DEMO_PASSWORD: &str = "demo-password-2026";

/// Demo tenants: code and name.
pub const DEMO_TENANTS: [(&str, &str); 2] = [("demo", "Demo Company"), ("test", "Test Company")];

/// Demo users of each tenant: local part of the e-mail (`admin` → `admin@demo.test`),
/// username and role.
pub const DEMO_USERS: [(&str, &str, Role); 4] = [
    ("admin", "Ada Admin", Role::Admin),
    ("alice", "Alice Member", Role::Member),
    ("bob", "Bob Member", Role::Member),
    ("viewer", "Vic Viewer", Role::Viewer),
];

/// What a domain's demo function gets: the tenant, the time its demo rows are dated
/// from, and the demo password hash, computed at most once per run and only when a user
/// is actually missing.
pub struct DemoTenant<'a> {
    pub id: Uuid,
    pub code: &'a str,
    /// The tenant's `created_at`: fixed once the tenant exists, so every derived date
    /// and id is the same on every run.
    pub epoch: DateTime<Utc>,
    password_hash: &'a OnceCell<String>,
}

impl DemoTenant<'_> {
    /// The demo e-mail address `local@code.test`.
    pub fn email(&self, local: &str) -> String {
        format!("{local}@{}.test", self.code)
    }

    /// The id of demo user `local` (an error when it is missing: the users domain runs
    /// first and makes them all).
    pub fn user(&self, conn: &mut PgConnection, local: &str) -> Result<Uuid, BoxError> {
        let email = self.email(local);
        repo::user_id(conn, self.id, &email)?
            .ok_or_else(|| format!("demo user {email} is missing").into())
    }

    /// When demo row number `n` of a domain was made: `n` milliseconds after the
    /// tenant, so the rows list in the order they are defined. (Row numbers are small
    /// constants; the clamp only keeps the arithmetic in range.)
    pub fn at(&self, n: usize) -> DateTime<Utc> {
        self.epoch + TimeDelta::milliseconds(n.min(1_000_000) as i64)
    }

    /// The tenant's creation date (UTC): "today" for the demo rows.
    pub fn today(&self) -> NaiveDate {
        self.epoch.date_naive()
    }

    /// The first day of the tenant's creation month: the demo budgets' period.
    pub fn this_month(&self) -> NaiveDate {
        let today = self.today();
        today.with_day(1).unwrap_or(today)
    }

    /// The id of the demo row `kind`/`name` made at `at`: a UUIDv7, like every server id,
    /// whose timestamp is `at` and whose other bits are the SHA-256 of the tenant id, the
    /// kind and the name. The same row always gets the same id, which is what makes
    /// `ON CONFLICT DO NOTHING` skip it on the next run.
    pub fn row_id(&self, kind: &str, name: &str, at: DateTime<Utc>) -> Uuid {
        let digest = Sha256::new()
            .chain_update(self.id.as_bytes())
            .chain_update(kind.as_bytes())
            .chain_update([0])
            .chain_update(name.as_bytes())
            .finalize();
        let mut bits = [0u8; 10];
        bits.copy_from_slice(&digest[..10]);
        let ms = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        uuid::Builder::from_unix_timestamp_millis(ms, &bits).into_uuid()
    }

    fn password_hash(&self) -> Result<&str, BoxError> {
        if let Some(h) = self.password_hash.get() {
            return Ok(h);
        }
        let h = password::hash(DEMO_PASSWORD)?;
        Ok(self.password_hash.get_or_init(|| h))
    }
}

/// Adds one domain's missing demo rows to a tenant; returns how many it added.
pub type DemoSeeder = fn(&mut PgConnection, &DemoTenant<'_>) -> Result<u64, BoxError>;

/// Every domain's demo function, parents before children (users before the projects
/// they own, budgets before the approved expenses that debit them). Each inserts only
/// rows that are missing, so reruns add nothing.
pub const DEMO_DOMAINS: &[(&str, DemoSeeder)] = &[
    ("users", demo_users),
    ("projects", demo_work::projects),
    ("tasks", demo_work::tasks),
    ("budgets", demo_money::budgets),
    ("expenses", demo_money::expenses),
    ("items", demo_items::items),
];

/// The users domain: [`DEMO_USERS`] at fixed addresses.
fn demo_users(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let mut added = 0;
    for (local, username, role) in DEMO_USERS {
        let email = tenant.email(local);
        if repo::user_id(conn, tenant.id, &email)?.is_some() {
            continue;
        }
        let inserted = repo::insert_user_if_absent(
            conn,
            NewUser {
                tenant_id: tenant.id,
                id: Uuid::now_v7(),
                email,
                username: username.to_string(),
                password_hash: tenant.password_hash()?.to_string(),
                role,
            },
        )?;
        added += u64::from(inserted);
    }
    Ok(added)
}

/// One demo login, as printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub tenant_code: String,
    pub email: String,
    pub role: Role,
}

/// What a demo seed did.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// Rows added per domain (`tenants` first); all zero on a rerun.
    pub added: Vec<(String, u64)>,
    pub logins: Vec<Login>,
}

/// Seeds the demo tenants in one transaction; see the module docs.
pub fn demo(conn: &mut PgConnection) -> Result<DemoReport, BoxError> {
    let hash = OnceCell::new();
    conn.transaction(|conn| {
        let mut added: Vec<(String, u64)> = std::iter::once("tenants")
            .chain(DEMO_DOMAINS.iter().map(|(name, _)| *name))
            .map(|name| (name.to_string(), 0))
            .collect();
        let mut logins = Vec::new();
        for (code, name) in DEMO_TENANTS {
            let (id, epoch, created) = repo::ensure_tenant(
                conn,
                NewTenant {
                    id: Uuid::now_v7(),
                    name: name.to_string(),
                    code: code.to_string(),
                    max_users: 100,
                    max_storage_gb: 10,
                    features_enabled: serde_json::json!({"expenses": true, "items": true}),
                },
            )?;
            added[0].1 += u64::from(created);
            let tenant = DemoTenant {
                id,
                code,
                epoch,
                password_hash: &hash,
            };
            for (i, (_, seeder)) in DEMO_DOMAINS.iter().enumerate() {
                added[i + 1].1 += seeder(conn, &tenant)?;
            }
            logins.extend(DEMO_USERS.iter().map(|(local, _, role)| Login {
                tenant_code: code.to_string(),
                email: tenant.email(local),
                role: *role,
            }));
        }
        Ok(DemoReport { added, logins })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(hash: &OnceCell<String>) -> DemoTenant<'_> {
        DemoTenant {
            id: Uuid::now_v7(),
            code: "demo",
            epoch: DateTime::parse_from_rfc3339("2026-11-30T23:59:59.990Z")
                .unwrap()
                .with_timezone(&Utc),
            password_hash: hash,
        }
    }

    #[test]
    fn row_ids_are_stable_v7_and_distinct_per_name_kind_and_tenant() {
        let hash = OnceCell::new();
        let t = tenant(&hash);
        let at = t.at(3);
        let a = t.row_id("project", "Website", at);
        assert_eq!(a, t.row_id("project", "Website", at), "stable");
        assert_eq!(a.get_version_num(), 7);
        let (secs, nanos) = a.get_timestamp().unwrap().to_unix();
        assert_eq!(
            secs * 1000 + u64::from(nanos) / 1_000_000,
            1_796_083_199_993
        );
        assert_ne!(a, t.row_id("project", "Mobile", at));
        assert_ne!(a, t.row_id("item", "Website", at));
        assert_ne!(a, tenant(&hash).row_id("project", "Website", at));
    }

    #[test]
    fn demo_dates_come_from_the_tenant_not_from_today() {
        let hash = OnceCell::new();
        let t = tenant(&hash);
        assert_eq!(t.today(), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(
            t.this_month(),
            NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
        );
        assert!(
            t.at(20) > t.epoch,
            "after the tenant, crossing midnight is fine"
        );
    }
}
