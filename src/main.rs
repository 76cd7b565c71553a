//! The `tenantry` command line: `serve` (the default), `migrate`, `token`, `openapi`, `metrics`,
//! the operator commands of `tenantry::ops` (`seed`, `tenant`, `db`, `healthcheck`),
//! and `completions` / `man` generated from the same definition.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tenantry::config::Config;
use tenantry::db::{migrations, pool};
use tenantry::ops;
use tenantry::server::{self, Database};

/// mimalloc instead of the system allocator: a request makes many small, short-lived
/// allocations across threads (hyper buffers, JSON, log lines), which glibc's malloc
/// serves with more locking and consolidation work (seen in `perf` of the benchmark).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "tenantry", version, about = "Multi-tenant REST API server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending migrations, or revert / redo them.
    Migrate {
        /// Revert the N most recent migrations.
        #[arg(long, value_name = "N", conflicts_with = "redo")]
        revert: Option<usize>,
        /// Revert the most recent migration and apply it again.
        #[arg(long)]
        redo: bool,
    },
    /// Print a signed token.
    Token {
        /// A platform-admin token (the only kind this command mints).
        #[arg(long, required = true)]
        platform_admin: bool,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 3600)]
        ttl: i64,
        /// Operator name put in `sub`.
        #[arg(long, default_value = "operator")]
        name: String,
    },
    /// Print the OpenAPI 3.1 document the server serves at /openapi.json.
    Openapi,
    /// Tenant metrics.
    Metrics {
        #[command(subcommand)]
        action: MetricsAction,
    },
    /// Demo data (idempotent), or volume data with --tenants and --users, --projects,
    /// --tasks, --expenses, --items.
    Seed(ops::seed::SeedArgs),
    /// Export, import or delete one tenant's rows.
    Tenant {
        #[command(subcommand)]
        action: ops::tenant::TenantCommand,
    },
    /// Run a database client against the database tenantry uses.
    Db {
        #[command(subcommand)]
        action: ops::db::DbCommand,
    },
    /// Exit 0 when the server at BIND_ADDR answers /health/ready with 200, else 1
    /// (for container health checks).
    Healthcheck,
    /// Print a shell completion script (e.g. `tenantry completions bash > /etc/bash_completion.d/tenantry`).
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) to stdout: `tenantry man | man -l -`.
    Man,
}

/// The command line definition, with `serve --help` listing the environment.
fn command() -> clap::Command {
    Cli::command().mut_subcommand("serve", |serve| {
        serve.after_help(tenantry::env_vars::help_text())
    })
}

#[derive(Debug, Subcommand)]
enum MetricsAction {
    /// Upsert today's metrics row of every tenant (also done by POST /utils/db/optimize).
    Refresh,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    // `.env` fills in what the environment does not set; a missing file is fine, a
    // broken one is an error rather than a silently different configuration.
    match dotenvy::dotenv() {
        Ok(_) => {}
        Err(e) if e.not_found() => {}
        Err(e) => {
            eprintln!("tenantry: .env: {e}");
            return ExitCode::from(2);
        }
    }
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match &cli.command {
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut command(), "tenantry", &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Some(Command::Man) => {
            return match clap_mangen::Man::new(command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("tenantry: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        _ => {}
    }
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tenantry: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Dropped at the end of `main`, after the runtime: it flushes the exported spans.
    let _telemetry = tenantry::telemetry::init(config.log_format, config.otlp_endpoint.is_some());
    match run(cli.command.unwrap_or(Command::Serve), config) {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = %e, "tenantry failed");
            eprintln!("tenantry: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command, config: Config) -> Result<ExitCode, BoxError> {
    match command {
        Command::Healthcheck => {
            let target = ops::healthcheck::target(config.bind_addr);
            return Ok(match ops::healthcheck::check(target) {
                Ok(200) => ExitCode::SUCCESS,
                Ok(status) => {
                    eprintln!("tenantry: {target}/health/ready answered {status}");
                    ExitCode::FAILURE
                }
                Err(e) => {
                    eprintln!("tenantry: {e}");
                    ExitCode::FAILURE
                }
            });
        }
        Command::Completions { .. } | Command::Man => {}
        Command::Db { action } => {
            let database = server::open_database(&config)?;
            return ops::db::run(action, &database.platform_url);
        }
        Command::Seed(args) => {
            let database = server::open_database(&config)?;
            ops::seed::run(args, &database.platform_url)?;
        }
        Command::Tenant { action } => {
            let database = server::open_database(&config)?;
            ops::tenant::run(action, &database.platform_url)?;
        }
        Command::Serve => {
            // The private cluster is started on this (main) thread and stopped when
            // `database` is dropped, after the server has drained.
            let database = server::open_database(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?;
            let result = runtime.block_on(server::serve(config, &database));
            drop(runtime);
            drop(database);
            result?;
        }
        Command::Migrate { revert, redo } => {
            let database: Database = server::open_database(&config)?;
            let mut conn = pool::connect(&database.platform_url)?;
            let (verb, versions) = match (revert, redo) {
                (Some(n), _) => ("reverted", migrations::revert(&mut conn, n)?),
                (None, true) => ("redone", migrations::redo(&mut conn)?),
                (None, false) => ("applied", migrations::run_pending(&mut conn)?),
            };
            if versions.is_empty() {
                println!("no migrations {verb}");
            }
            for v in versions {
                println!("{verb} {v}");
            }
        }
        Command::Token {
            platform_admin: _,
            ttl,
            name,
        } => {
            let secret = server::jwt_secret(&config)?;
            let keys = tenantry::auth::jwt::JwtKeys::new(secret.as_bytes());
            println!("{}", keys.issue_platform_admin(&name, ttl)?);
        }
        Command::Openapi => {
            println!("{}", tenantry::http::openapi_json_pretty()?);
        }
        Command::Metrics {
            action: MetricsAction::Refresh,
        } => {
            let database = server::open_database(&config)?;
            let mut conn = pool::connect(&database.platform_url)?;
            let tenants = tenantry::ops::metrics::refresh(&mut conn)?;
            println!("refreshed today's metrics of {tenants} tenants");
        }
    }
    Ok(ExitCode::SUCCESS)
}
