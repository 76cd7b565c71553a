//! Every environment variable Tenantry reads, with its default and meaning: one table
//! for `tenantry serve --help`, checked by the tests against `.env.example`, the README's
//! configuration table and the names `config.rs` reads, so none of them drifts.

/// One variable: name, default (as the README shows it) and what it does.
#[derive(Debug, Clone, Copy)]
pub struct EnvVar {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

const fn var(name: &'static str, default: &'static str, meaning: &'static str) -> EnvVar {
    EnvVar {
        name,
        default,
        meaning,
    }
}

/// The variables, in the README's order. `.env` in the working directory is read first
/// when present; a variable already set in the environment wins over it.
pub const ENV_VARS: &[EnvVar] = &[
    var(
        "DATABASE_URL",
        "unset",
        "PostgreSQL to use; unset starts the private cluster",
    ),
    var(
        "TENANTRY_DATA_DIR",
        "./data",
        "the private cluster and the generated dev JWT_SECRET",
    ),
    var(
        "JWT_SECRET",
        "unset",
        "HS256 key, at least 32 bytes; required with DATABASE_URL",
    ),
    var("BIND_ADDR", "127.0.0.1:8080", "listen address"),
    var("DB_POOL_SIZE", "4 per CPU core", "r2d2 pool size"),
    var("LOG_FORMAT", "pretty", "`json` for one JSON object a line"),
    var("RUST_LOG", "info", "log filter"),
    var(
        "RATE_LIMIT_RPS",
        "0",
        "per-tenant requests per second; off at 0",
    ),
    var(
        "RATE_LIMIT_BURST",
        "0",
        "per-tenant burst (RATE_LIMIT_RPS when 0)",
    ),
    var(
        "LOGIN_RATE_LIMIT_PER_MIN",
        "30",
        "logins per client address and minute; off at 0",
    ),
    var(
        "TRUSTED_PROXIES",
        "unset",
        "proxies (addresses or CIDRs) whose X-Forwarded-For is believed",
    ),
    var(
        "TENANT_POOL_SHARE",
        "0.5",
        "largest share of the pool one tenant may hold at once",
    ),
    var(
        "HEADER_READ_TIMEOUT_MS",
        "10000",
        "time for a request head to arrive",
    ),
    var(
        "IDLE_TIMEOUT_MS",
        "60000",
        "idle keep-alive connections are closed after it",
    ),
    var("MAX_CONNECTIONS", "1024", "open client connections at most"),
    var(
        "CORS_ALLOWED_ORIGINS",
        "unset",
        "browser origins allowed to call the API",
    ),
    var("DOCS_ENABLED", "true", "serve /docs"),
    var(
        "MIGRATION_DATABASE_URL",
        "unset",
        "the owner role's URL for migrations",
    ),
    var("REQUEST_TIMEOUT_MS", "30000", "whole-request budget"),
    var(
        "DB_ACQUIRE_TIMEOUT_MS",
        "3000",
        "wait for a pooled connection before answering 503",
    ),
    var(
        "SLOW_QUERY_MS",
        "100",
        "queries slower than this are logged as warnings",
    ),
    var(
        "STATEMENT_TIMEOUT_MS",
        "5000",
        "cap on one statement of a request",
    ),
    var(
        "HASH_WORKERS",
        "one per CPU core",
        "threads that run Argon2 password hashing",
    ),
    var(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "unset",
        "export spans over OTLP/HTTP to it (plain http, e.g. a collector at http://127.0.0.1:4318); off when unset",
    ),
    var(
        "OTEL_SERVICE_NAME",
        "tenantry",
        "service.name of the exported spans",
    ),
];

/// The table as `serve --help` prints it.
pub fn help_text() -> String {
    let width = ENV_VARS.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut out =
        String::from("Environment (also read from ./.env when present; the environment wins):\n");
    for v in ENV_VARS {
        out.push_str(&format!(
            "  {:<width$}  {} [default: {}]\n",
            v.name, v.meaning, v.default
        ));
    }
    out
}
