//! `tenantry db exec -- COMMAND [ARGS...]`: runs a database client (pg_dump, psql, a
//! script) with `DATABASE_URL` set to the database `tenantry` uses.
//!
//! With `DATABASE_URL` set this only passes it on. Without it, the private cluster is
//! joined or started; a cluster this process started stops when it exits, which is why
//! the command runs *inside* `db exec` rather than being handed a URL that would die
//! with us (`scripts/backup.sh` and `scripts/restore.sh` re-run themselves this way).

use std::process::ExitCode;

use clap::Subcommand;

use super::BoxError;

/// `tenantry db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Run COMMAND with DATABASE_URL set (starting the private cluster for its duration
    /// when DATABASE_URL is unset); exits with COMMAND's status.
    Exec {
        /// The command and its arguments (put `--` before them).
        #[arg(
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "COMMAND"
        )]
        command: Vec<String>,
    },
}

/// Runs a `db` subcommand against the database at `url`.
pub fn run(command: DbCommand, url: &str) -> Result<ExitCode, BoxError> {
    match command {
        DbCommand::Exec { command } => {
            let (program, args) = command.split_first().ok_or("no command given")?;
            let status = std::process::Command::new(program)
                .args(args)
                .env("DATABASE_URL", url)
                .status()
                .map_err(|e| format!("cannot run {program}: {e}"))?;
            // A child killed by a signal reports it the way shells do (128 + signal).
            let code = status.code().unwrap_or_else(|| {
                use std::os::unix::process::ExitStatusExt;
                128 + status.signal().unwrap_or(0)
            });
            Ok(ExitCode::from(u8::try_from(code).unwrap_or(1)))
        }
    }
}
