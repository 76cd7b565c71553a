//! Volume data for load tests (`tenantry seed --tenants N ...`).
//!
//! Tenants `load-00001` ... `load-N` are made in batches of whole tenants, one
//! transaction per batch: the tenant rows from here (so codes that exist are skipped),
//! every other row generated inside PostgreSQL (`repos::seed::volume`). `--jobs`
//! workers, each with its own connection, take batches from a shared counter, since
//! PostgreSQL runs one statement on one core. A tenant that exists has all of its rows,
//! so an interrupted run resumes by skipping whole tenants.
//!
//! `--users` is per tenant; `--projects`, `--tasks`, `--expenses` and `--items` are
//! totals over the run's N tenants, tenant `i` getting its even share of each whether
//! or not the others exist already (so `--tenants 1000 --tasks 1000000` gives each
//! tenant 1,000 tasks, and a resumed run reaches the same totals).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use diesel::Connection;
use diesel::pg::PgConnection;
use uuid::Uuid;

use super::progress::Progress;
use crate::auth::password;
use crate::models::tenant::NewTenant;
use crate::ops::BoxError;
use crate::repos::seed::volume as repo;

/// The password of every volume user.
pub const VOLUME_PASSWORD: &str = "load-password-2026";
/// About this many rows go into one transaction: large enough that per-statement
/// costs vanish, small enough that progress moves and an interruption loses little.
const ROWS_PER_TRANSACTION: u64 = 20_000;
/// Projects per tenant when `--tasks` is given without `--projects`.
pub const DEFAULT_PROJECTS_PER_TENANT: u64 = 10;

/// What to make: tenant count and users per tenant, and totals of the other rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumePlan {
    pub tenants: u32,
    pub users: u32,
    pub projects: u64,
    pub tasks: u64,
    pub expenses: u64,
    pub items: u64,
    /// Parallel connections.
    pub jobs: usize,
}

impl VolumePlan {
    /// Refuses a plan that would leave a tenant with tasks but no project.
    pub fn check(&self) -> Result<(), BoxError> {
        if self.tasks > 0 && self.projects < u64::from(self.tenants) {
            return Err(format!(
                "--tasks needs a project in every tenant: --projects must be at least \
                 --tenants ({}), or left out for {DEFAULT_PROJECTS_PER_TENANT} per tenant",
                self.tenants
            )
            .into());
        }
        Ok(())
    }

    /// Tenant `i`'s (1-based) share of `total`: the first `total % tenants` tenants get
    /// one more.
    fn share(&self, total: u64, i: u32) -> i64 {
        let n = u64::from(self.tenants.max(1));
        let extra = u64::from(u64::from(i) <= total % n);
        i64::try_from(total / n + extra).unwrap_or(i64::MAX)
    }

    /// Tenants per transaction, from the rows a tenant gets.
    fn tenants_per_batch(&self) -> u32 {
        let n = u64::from(self.tenants.max(1));
        let per_tenant = 1
            + u64::from(self.users)
            + [self.projects, self.tasks, self.expenses, self.items]
                .iter()
                .map(|t| t.div_ceil(n))
                .sum::<u64>();
        u32::try_from((ROWS_PER_TRANSACTION / per_tenant).max(1)).unwrap_or(u32::MAX)
    }
}

/// What a volume seed added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeReport {
    pub tenants_added: u64,
    pub tenants_skipped: u64,
    pub users_added: u64,
    pub projects_added: u64,
    pub tasks_added: u64,
    pub budgets_added: u64,
    pub expenses_added: u64,
    pub items_added: u64,
    pub elapsed: Duration,
}

impl VolumeReport {
    fn add(&mut self, o: &VolumeReport) {
        self.tenants_added += o.tenants_added;
        self.tenants_skipped += o.tenants_skipped;
        self.users_added += o.users_added;
        self.projects_added += o.projects_added;
        self.tasks_added += o.tasks_added;
        self.budgets_added += o.budgets_added;
        self.expenses_added += o.expenses_added;
        self.items_added += o.items_added;
    }

    /// The rows added, for progress and the summary.
    pub fn rows(&self) -> String {
        format!(
            "{} users, {} projects, {} tasks, {} budgets, {} expenses, {} items",
            self.users_added,
            self.projects_added,
            self.tasks_added,
            self.budgets_added,
            self.expenses_added,
            self.items_added
        )
    }
}

/// Makes the plan's tenants and rows in the database at `url`; see the module docs.
pub fn volume(url: &str, plan: &VolumePlan) -> Result<VolumeReport, BoxError> {
    plan.check()?;
    let started = Instant::now();
    // One hash for every volume user: Argon2 is deliberately slow.
    let hash = password::hash(VOLUME_PASSWORD)?;
    let per_batch = plan.tenants_per_batch();
    let batches: Vec<Range<u32>> = (0..plan.tenants.div_ceil(per_batch))
        .map(|b| b * per_batch + 1..((b + 1) * per_batch).min(plan.tenants) + 1)
        .collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let mut report = VolumeReport::default();
    let mut progress = Progress::new(u64::from(plan.tenants));
    let (tx, rx) = mpsc::channel::<VolumeReport>();
    let results: Vec<Result<(), BoxError>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..plan.jobs.clamp(1, batches.len().max(1)))
            .map(|_| {
                let tx = tx.clone();
                let (hash, batches, next, stop) = (&hash, &batches, &next, &stop);
                s.spawn(move || {
                    let result = worker(url, plan, hash, batches, next, stop, &tx);
                    if result.is_err() {
                        // The others finish their batch and take no more.
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        drop(tx);
        for done in rx {
            report.add(&done);
            progress.update(
                report.tenants_added + report.tenants_skipped,
                &report.rows(),
            );
        }
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("a seed worker panicked".into()))
            })
            .collect()
    });
    progress.finish();
    results.into_iter().collect::<Result<Vec<()>, _>>()?;
    if report.tenants_added > 0 {
        repo::analyze(&mut crate::db::pool::connect(url)?)?;
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Takes batches until none are left (or another worker failed); reports each one.
fn worker(
    url: &str,
    plan: &VolumePlan,
    hash: &str,
    batches: &[Range<u32>],
    next: &AtomicUsize,
    stop: &AtomicBool,
    tx: &mpsc::Sender<VolumeReport>,
) -> Result<(), BoxError> {
    let mut conn = crate::db::pool::connect(url)?;
    while !stop.load(Ordering::Relaxed) {
        let Some(numbers) = batches.get(next.fetch_add(1, Ordering::Relaxed)) else {
            break;
        };
        let done = batch(&mut conn, plan, hash, numbers.clone())?;
        // The receiver lives until every worker is done.
        let _ = tx.send(done);
    }
    Ok(())
}

/// Tenants `numbers` and all their rows, in one transaction.
fn batch(
    conn: &mut PgConnection,
    plan: &VolumePlan,
    hash: &str,
    numbers: Range<u32>,
) -> Result<VolumeReport, BoxError> {
    let tenants: Vec<NewTenant> = numbers
        .clone()
        .map(|i| NewTenant {
            id: Uuid::now_v7(),
            name: format!("Load tenant {i}"),
            code: volume_code(i),
            max_users: i32::try_from(plan.users).unwrap_or(i32::MAX).max(100),
            max_storage_gb: 10,
            features_enabled: serde_json::json!({"expenses": true, "items": true}),
        })
        .collect();
    let number_of: HashMap<String, u32> = numbers.clone().map(|i| (volume_code(i), i)).collect();
    conn.transaction(|conn| {
        let added = repo::insert_tenants(conn, tenants)?;
        let mut r = VolumeReport {
            tenants_added: added.len() as u64,
            tenants_skipped: numbers.len() as u64 - added.len() as u64,
            ..VolumeReport::default()
        };
        if added.is_empty() {
            return Ok(r);
        }
        let ids: Vec<Uuid> = added.iter().map(|(id, _)| *id).collect();
        let codes: Vec<String> = added.iter().map(|(_, code)| code.clone()).collect();
        let counts = |total: u64| -> Vec<i64> {
            codes
                .iter()
                .map(|c| number_of.get(c).map_or(0, |i| plan.share(total, *i)))
                .collect()
        };
        r.users_added = repo::users(conn, &ids, &codes, i64::from(plan.users), hash)? as u64;
        let projects = counts(plan.projects);
        r.projects_added = all_of(
            repo::projects(conn, &ids, &projects)?,
            &projects,
            "projects",
        )?;
        let tasks = counts(plan.tasks);
        r.tasks_added = all_of(repo::tasks(conn, &ids, &tasks)?, &tasks, "tasks")?;
        let expenses = counts(plan.expenses);
        r.expenses_added = all_of(
            repo::expenses(conn, &ids, &expenses)?,
            &expenses,
            "expenses",
        )?;
        if r.expenses_added > 0 {
            r.budgets_added = repo::budgets(conn, &ids)? as u64;
        }
        let items = counts(plan.items);
        r.items_added = all_of(repo::items(conn, &ids, &items)?, &items, "items")?;
        Ok(r)
    })
}

/// `inserted` as u64 when it is all that `counts` asked for: a generator joins on the
/// batch's users and projects, and must not drop a tenant's rows silently.
fn all_of(inserted: usize, counts: &[i64], what: &str) -> Result<u64, BoxError> {
    let wanted: i64 = counts.iter().sum();
    if i64::try_from(inserted).ok() != Some(wanted) {
        return Err(format!("seeding {what}: inserted {inserted} rows instead of {wanted}").into());
    }
    Ok(inserted as u64)
}

/// Code of volume tenant `i`.
pub fn volume_code(i: u32) -> String {
    format!("load-{i:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(tenants: u32, tasks: u64) -> VolumePlan {
        VolumePlan {
            tenants,
            users: 10,
            projects: u64::from(tenants) * DEFAULT_PROJECTS_PER_TENANT,
            tasks,
            jobs: 2,
            ..VolumePlan::default()
        }
    }

    #[test]
    fn shares_add_up_to_the_total() {
        let p = plan(7, 100);
        let shares: Vec<i64> = (1..=7).map(|i| p.share(100, i)).collect();
        assert_eq!(shares, [15, 15, 14, 14, 14, 14, 14]);
        assert_eq!(plan(1000, 1_000_000).share(1_000_000, 1000), 1000);
        assert_eq!(p.share(0, 3), 0);
    }

    #[test]
    fn batches_hold_about_the_same_number_of_rows() {
        // 1 tenant row + 10 users + 10 projects + 1000 tasks per tenant.
        assert_eq!(plan(1000, 1_000_000).tenants_per_batch(), 19);
        assert_eq!(plan(3, 0).tenants_per_batch(), 952);
        assert_eq!(plan(1, 10_000_000).tenants_per_batch(), 1);
    }

    #[test]
    fn tasks_need_a_project_in_every_tenant() {
        assert!(plan(10, 100).check().is_ok());
        let few = VolumePlan {
            projects: 9,
            ..plan(10, 100)
        };
        assert!(few.check().is_err());
        let no_tasks = VolumePlan {
            projects: 0,
            ..plan(10, 0)
        };
        assert!(no_tasks.check().is_ok());
    }
}
