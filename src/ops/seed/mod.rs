//! `tenantry seed`: demo data, or volume data for load tests (docs/API.md §11).
//!
//! Without volume flags it makes tenants `demo` and `test` with their users and a
//! little of every domain, and prints the logins ([`demo`]); a second run adds no rows
//! anywhere. Each domain adds its demo rows in its own function, listed in
//! [`DEMO_DOMAINS`] (parents first); a new table adds its function there.
//!
//! `--tenants N` switches to volume data ([`volume`]): tenants `load-00001` ... with
//! `--users` each and `--projects`, `--tasks`, `--expenses`, `--items` in total,
//! generated inside PostgreSQL in parallel batches, with a progress bar on a terminal.

mod demo;
mod demo_items;
mod demo_money;
mod demo_work;
pub(crate) mod progress;
mod volume;

pub use demo::{
    DEMO_DOMAINS, DEMO_PASSWORD, DEMO_TENANTS, DEMO_USERS, DemoReport, DemoSeeder, DemoTenant,
    Login, demo,
};
pub use volume::{
    DEFAULT_PROJECTS_PER_TENANT, VOLUME_PASSWORD, VolumePlan, VolumeReport, volume, volume_code,
};

use super::BoxError;

/// Users per volume tenant when `--users` is not given.
pub const DEFAULT_VOLUME_USERS: u32 = 10;

/// `tenantry seed` options. Without `--tenants`: the demo data.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(after_help = "\
Volume mode: --users is per tenant; --projects, --tasks, --expenses and --items are totals
over the N tenants, spread evenly (tenant i always gets the same share, so an interrupted
run resumes to the same totals). Example: --tenants 1000 --tasks 1000000 gives each tenant
10 users, 10 projects and 1,000 tasks. Expenses get one budget per category and month,
spent by exactly their approved amounts. Existing tenant codes are skipped whole.")]
pub struct SeedArgs {
    /// Volume mode: create N tenants `load-00001` ... (existing codes are skipped).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub tenants: Option<u32>,
    /// Users per new tenant (default 10; the first is an admin, every tenth a viewer).
    #[arg(long, value_name = "N", requires = "tenants",
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub users: Option<u32>,
    /// Projects in total (default: 10 per tenant when --tasks is given, else none).
    #[arg(long, value_name = "N", requires = "tenants",
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub projects: Option<u64>,
    /// Tasks in total, spread over each tenant's projects, in every status.
    #[arg(long, value_name = "N", requires = "tenants", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub tasks: u64,
    /// Expenses in total, in every workflow status, with matching budgets.
    #[arg(long, value_name = "N", requires = "tenants", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub expenses: u64,
    /// Items in total, with searchable titles and descriptions.
    #[arg(long, value_name = "N", requires = "tenants", default_value_t = 0,
          value_parser = clap::value_parser!(u64).range(0..=1_000_000_000))]
    pub items: u64,
    /// Parallel database connections (default: the number of CPU cores, at most 8).
    #[arg(long, value_name = "N", requires = "tenants",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub jobs: Option<u32>,
}

impl SeedArgs {
    /// The volume plan, when `--tenants` is given.
    pub fn plan(&self) -> Option<VolumePlan> {
        let tenants = self.tenants?;
        let default_projects = if self.tasks > 0 {
            u64::from(tenants) * DEFAULT_PROJECTS_PER_TENANT
        } else {
            0
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        Some(VolumePlan {
            tenants,
            users: self.users.unwrap_or(DEFAULT_VOLUME_USERS),
            projects: self.projects.unwrap_or(default_projects),
            tasks: self.tasks,
            expenses: self.expenses,
            items: self.items,
            jobs: self.jobs.map_or(cores, |j| j as usize),
        })
    }
}

/// Runs `tenantry seed` against `url` (pending migrations are applied first, as by
/// `serve`) and prints what it did.
pub fn run(args: SeedArgs, url: &str) -> Result<(), BoxError> {
    crate::server::migrate(url)?;
    match args.plan() {
        Some(plan) => {
            let r = volume(url, &plan)?;
            println!(
                "added {} tenants ({} existed already), {} in {:.1} s; \
                 every volume user's password is {VOLUME_PASSWORD}",
                r.tenants_added,
                r.tenants_skipped,
                r.rows(),
                r.elapsed.as_secs_f64()
            );
        }
        None => {
            let mut conn = crate::db::pool::connect(url)?;
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
