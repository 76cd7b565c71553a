//! Volume data for load tests (`tenantry seed --tenants N --users M`): multi-row
//! inserts in batches, one transaction per batch, progress on stderr, one shared
//! precomputed password hash.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::pg::PgConnection;
use indicatif::{ProgressBar, ProgressStyle};
use uuid::Uuid;

use crate::auth::Role;
use crate::auth::password;
use crate::models::tenant::NewTenant;
use crate::models::user::NewUser;
use crate::ops::BoxError;
use crate::repos::seed as repo;

/// The password of every volume user.
pub const VOLUME_PASSWORD: &str = "load-password-2026";
/// About this many rows go into one transaction.
const ROWS_PER_TRANSACTION: usize = 10_000;

/// What a volume seed did.
#[derive(Debug, Clone, Default)]
pub struct VolumeReport {
    pub tenants_added: u64,
    pub tenants_skipped: u64,
    pub users_added: u64,
    pub elapsed: Duration,
}

/// Progress on a terminal (a bar on stderr) or in logs (a plain line at most every
/// two seconds, and at the end).
enum Progress {
    Bar(ProgressBar),
    Lines { total: u64, last: Option<Instant> },
}

impl Progress {
    fn new(total: u64) -> Self {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} tenants, {msg} ({eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            Progress::Bar(bar)
        } else {
            Progress::Lines { total, last: None }
        }
    }

    fn update(&mut self, done: u64, users: u64) {
        match self {
            Progress::Bar(bar) => {
                bar.set_position(done);
                bar.set_message(format!("{users} users"));
            }
            Progress::Lines { total, last } => {
                let due = last.is_none_or(|t| t.elapsed() >= Duration::from_secs(2));
                if due || done == *total {
                    eprintln!("seed: {done}/{total} tenants, {users} users");
                    *last = Some(Instant::now());
                }
            }
        }
    }

    fn finish(&self) {
        if let Progress::Bar(bar) = self {
            bar.finish();
        }
    }
}

/// Makes `tenants` volume tenants with `users` users each; see the module docs.
pub fn volume(conn: &mut PgConnection, tenants: u32, users: u32) -> Result<VolumeReport, BoxError> {
    let started = Instant::now();
    // One hash for every volume user: Argon2 is deliberately slow.
    let hash = password::hash(VOLUME_PASSWORD)?;
    let per_tx = (ROWS_PER_TRANSACTION / (users as usize + 1)).max(1);
    let mut report = VolumeReport::default();
    let mut progress = Progress::new(u64::from(tenants));
    let numbers: Vec<u32> = (1..=tenants).collect();
    for chunk in numbers.chunks(per_tx) {
        let rows = chunk
            .iter()
            .map(|i| NewTenant {
                id: Uuid::now_v7(),
                name: format!("Load tenant {i}"),
                code: volume_code(*i),
                max_users: i32::try_from(users).unwrap_or(i32::MAX).max(100),
                max_storage_gb: 10,
                features_enabled: serde_json::json!({"expenses": true, "items": true}),
            })
            .collect();
        // The tenants and their users commit together, so a tenant that exists has all
        // of its users, and an interrupted run resumes by skipping whole tenants.
        let (added, n_users) = conn.transaction::<_, BoxError, _>(|conn| {
            let added = repo::insert_tenants(conn, rows)?;
            let new_users = added
                .iter()
                .flat_map(|(tenant_id, code)| {
                    (1..=users).map(|j| volume_user(*tenant_id, code, j, &hash))
                })
                .collect();
            let n = repo::insert_users(conn, new_users)?;
            Ok((added.len() as u64, n as u64))
        })?;
        report.tenants_added += added;
        report.tenants_skipped += chunk.len() as u64 - added;
        report.users_added += n_users;
        progress.update(
            report.tenants_added + report.tenants_skipped,
            report.users_added,
        );
    }
    progress.finish();
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Code of volume tenant `i`.
pub fn volume_code(i: u32) -> String {
    format!("load-{i:05}")
}

fn volume_user(tenant_id: Uuid, code: &str, j: u32, hash: &str) -> NewUser {
    let role = match j {
        1 => Role::Admin,
        j if j % 10 == 0 => Role::Viewer,
        _ => Role::Member,
    };
    NewUser {
        tenant_id,
        id: Uuid::now_v7(),
        email: format!("user{j:05}@{code}.test"),
        username: format!("User {j}"),
        password_hash: hash.to_string(),
        role: role.as_str().to_string(),
    }
}
