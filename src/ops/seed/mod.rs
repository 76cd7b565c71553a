//! `tenantry seed`: demo data, or volume data for load tests (API.md §11).
//!
//! Without flags it makes tenants `demo` and `test`, each with an admin, two members and
//! a viewer at fixed e-mail addresses, and prints the logins. It is idempotent: every
//! row is inserted only when missing (by tenant code, by e-mail), in one transaction,
//! so a second run adds no rows anywhere. It writes no audit rows: seeding is not a
//! change made by a tenant's user.
//!
//! Each domain adds its demo rows in its own function, listed in [`DEMO_DOMAINS`]
//! (parents first). Tables that land later (projects, tasks, budgets, expenses, items)
//! add their function there, following the same insert-if-missing rule.
//!
//! `--tenants N [--users M]` makes N tenants (`load-00001`, ...; codes that exist are
//! skipped) with M users each, using multi-row inserts in batches, one transaction per
//! batch, and a progress bar on a terminal (plain lines otherwise). All volume users
//! share one precomputed Argon2 hash: hashing per user would take minutes.

mod volume;

use std::cell::OnceCell;

use diesel::Connection;
use diesel::pg::PgConnection;
use uuid::Uuid;

pub use volume::{VOLUME_PASSWORD, VolumeReport, volume, volume_code};

use super::BoxError;
use crate::auth::Role;
use crate::auth::password;
use crate::models::tenant::NewTenant;
use crate::models::user::NewUser;
use crate::repos::seed as repo;

/// The password of every demo user (printed with the logins: this is demo data).
pub const DEMO_PASSWORD: &str = "demo-password-2026";
/// Users per volume tenant when `--users` is not given.
pub const DEFAULT_VOLUME_USERS: u32 = 10;

/// `tenantry seed` options.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SeedArgs {
    /// Volume mode: create N tenants `load-00001` ... (existing codes are skipped).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub tenants: Option<u32>,
    /// Volume mode: users per new tenant (default 10; the first is an admin).
    #[arg(long, value_name = "N", requires = "tenants",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub users: Option<u32>,
}

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

/// What a domain's demo function gets: the tenant, and the demo password hash, computed
/// at most once per run and only when a user is actually missing.
pub struct DemoTenant<'a> {
    pub id: Uuid,
    pub code: &'a str,
    password_hash: &'a OnceCell<String>,
}

impl DemoTenant<'_> {
    /// The demo e-mail address `local@code.test`.
    pub fn email(&self, local: &str) -> String {
        format!("{local}@{}.test", self.code)
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
/// they own, ...). Each inserts only rows that are missing, so reruns add nothing.
pub const DEMO_DOMAINS: &[(&str, DemoSeeder)] = &[("users", demo_users)];

/// The users domain: [`DEMO_USERS`] at fixed addresses.
fn demo_users(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let mut added = 0;
    for (local, username, role) in DEMO_USERS {
        let email = tenant.email(local);
        if repo::user_exists(conn, tenant.id, &email)? {
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
                role: role.as_str().to_string(),
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
            let (id, created) = repo::ensure_tenant(
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

/// Runs `tenantry seed` against `url` (pending migrations are applied first, as by
/// `serve`) and prints what it did.
pub fn run(args: SeedArgs, url: &str) -> Result<(), BoxError> {
    crate::server::migrate(url)?;
    let mut conn = crate::db::pool::connect(url)?;
    match args.tenants {
        Some(tenants) => {
            let users = args.users.unwrap_or(DEFAULT_VOLUME_USERS);
            let r = volume(&mut conn, tenants, users)?;
            println!(
                "added {} tenants ({} existed already) and {} users in {:.1} s; \
                 every volume user's password is {VOLUME_PASSWORD}",
                r.tenants_added,
                r.tenants_skipped,
                r.users_added,
                r.elapsed.as_secs_f64()
            );
        }
        None => {
            let r = demo(&mut conn)?;
            let total: u64 = r.added.iter().map(|(_, n)| n).sum();
            let detail = r
                .added
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            println!("demo data: {total} rows added ({detail})");
            println!("logins (password for all: {DEMO_PASSWORD}):");
            for l in &r.logins {
                println!("  {:<6} {:<7} {}", l.tenant_code, l.role.as_str(), l.email);
            }
        }
    }
    Ok(())
}
