//! Configuration read once from the environment at start-up.
//!
//! Secrets (`JWT_SECRET`, passwords inside `DATABASE_URL`) are held here but never
//! printed: `Debug` is implemented by hand to redact them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Shortest HS256 key the server accepts (docs/API.md §2).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Everything the server reads from the environment.
#[derive(Clone)]
pub struct Config {
    /// `DATABASE_URL`; `None` means "start the private PostgreSQL cluster".
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    /// `JWT_SECRET`; `None` is only allowed with the private cluster (a dev secret is generated).
    pub jwt_secret: Option<String>,
    pub bind_addr: SocketAddr,
    pub db_pool_size: u32,
    pub log_format: LogFormat,
    pub rate_limit_rps: u32,
    pub rate_limit_burst: u32,
    /// Whole-request budget; a request still running after it answers 503.
    pub request_timeout: Duration,
    /// How long a request waits for a pooled connection before answering 503.
    pub db_acquire_timeout: Duration,
    /// Queries slower than this are logged as warnings.
    pub slow_query: Duration,
    /// `MIGRATION_DATABASE_URL`: the owner's URL, for migrations and the platform path,
    /// when `DATABASE_URL` names the restricted application role.
    pub migration_database_url: Option<String>,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: spans are exported over OTLP/HTTP when set.
    pub otlp_endpoint: Option<String>,
    /// `CORS_ALLOWED_ORIGINS`: browser origins allowed to call the API (empty: no CORS).
    pub cors_allowed_origins: Vec<String>,
    /// `DOCS_ENABLED`: serve the `/docs` page (default true).
    pub docs_enabled: bool,
    /// `LOGIN_RATE_LIMIT_PER_MIN`: logins per client address and minute; 0 turns it off.
    pub login_rate_limit_per_min: u32,
    /// `TRUSTED_PROXIES`: peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `TENANT_POOL_SHARE`: the largest share of the pool one tenant may hold at once.
    pub tenant_pool_share: f64,
    /// `HEADER_READ_TIMEOUT_MS`: a request head must arrive within this.
    pub header_read_timeout: Duration,
    /// `IDLE_TIMEOUT_MS`: an idle keep-alive connection is closed after this.
    pub idle_timeout: Duration,
    /// `MAX_CONNECTIONS`: connections open at once; more wait in the accept queue.
    pub max_connections: usize,
    /// `HASH_WORKERS`: password-hashing threads (default one per core).
    pub hash_workers: usize,
    /// `STATEMENT_TIMEOUT_MS`: the cap on one statement of a request (a read or a
    /// small write); maintenance routes get the request budget instead.
    pub statement_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("data_dir", &self.data_dir)
            .field(
                "jwt_secret",
                &self.jwt_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("bind_addr", &self.bind_addr)
            .field("db_pool_size", &self.db_pool_size)
            .field("log_format", &self.log_format)
            .field("rate_limit_rps", &self.rate_limit_rps)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("request_timeout", &self.request_timeout)
            .field("db_acquire_timeout", &self.db_acquire_timeout)
            .field("slow_query", &self.slow_query)
            .field(
                "migration_database_url",
                &self.migration_database_url.as_ref().map(|_| "<set>"),
            )
            .field(
                "otlp_endpoint",
                &self.otlp_endpoint.as_ref().map(|_| "<set>"),
            )
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("docs_enabled", &self.docs_enabled)
            .field("login_rate_limit_per_min", &self.login_rate_limit_per_min)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("tenant_pool_share", &self.tenant_pool_share)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_connections", &self.max_connections)
            .field("hash_workers", &self.hash_workers)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// A configuration value that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ConfigError {
    pub name: &'static str,
    pub message: String,
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the real environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;

        let jwt_secret = get("JWT_SECRET");
        if let Some(secret) = &jwt_secret {
            check_jwt_secret(secret)?;
        }
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => {
                return Err(ConfigError {
                    name: "LOG_FORMAT",
                    message: "must be `pretty` or `json`".into(),
                });
            }
        };
        Ok(Config {
            database_url: get("DATABASE_URL"),
            data_dir: get("TENANTRY_DATA_DIR")
                .map_or_else(|| PathBuf::from("./data"), PathBuf::from),
            jwt_secret,
            bind_addr: parse_or(&get, "BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            db_pool_size: parse_or(&get, "DB_POOL_SIZE", 4 * cores)?.max(1),
            log_format,
            rate_limit_rps: parse_or(&get, "RATE_LIMIT_RPS", 0)?,
            rate_limit_burst: parse_or(&get, "RATE_LIMIT_BURST", 0)?,
            request_timeout: Duration::from_millis(parse_or(&get, "REQUEST_TIMEOUT_MS", 30_000)?),
            db_acquire_timeout: Duration::from_millis(parse_or(
                &get,
                "DB_ACQUIRE_TIMEOUT_MS",
                3_000,
            )?),
            slow_query: Duration::from_millis(parse_or(&get, "SLOW_QUERY_MS", 100)?),
            migration_database_url: get("MIGRATION_DATABASE_URL"),
            otlp_endpoint: get("OTEL_EXPORTER_OTLP_ENDPOINT"),
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            docs_enabled: parse_or(&get, "DOCS_ENABLED", true)?,
            login_rate_limit_per_min: parse_or(&get, "LOGIN_RATE_LIMIT_PER_MIN", 30)?,
            trusted_proxies: parse_proxies(get("TRUSTED_PROXIES").as_deref())?,
            tenant_pool_share: parse_share(&get)?,
            header_read_timeout: Duration::from_millis(
                parse_or(&get, "HEADER_READ_TIMEOUT_MS", 10_000u64)?.max(1),
            ),
            idle_timeout: Duration::from_millis(
                parse_or(&get, "IDLE_TIMEOUT_MS", 60_000u64)?.max(1),
            ),
            max_connections: parse_or(&get, "MAX_CONNECTIONS", 1024usize)?.max(1),
            hash_workers: parse_or(&get, "HASH_WORKERS", cores as usize)?.max(1),
            statement_timeout: Duration::from_millis(
                parse_or(&get, "STATEMENT_TIMEOUT_MS", 5_000u64)?.max(1),
            ),
        })
    }
}

/// Rejects HS256 keys too short to resist brute force.
pub fn check_jwt_secret(secret: &str) -> Result<(), ConfigError> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(ConfigError {
            name: "JWT_SECRET",
            message: format!("must be at least {MIN_JWT_SECRET_BYTES} bytes long"),
        });
    }
    Ok(())
}

/// `TRUSTED_PROXIES`: comma-separated addresses or CIDRs (`10.0.0.0/8, ::1`).
fn parse_proxies(raw: Option<&str>) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError {
                    name: "TRUSTED_PROXIES",
                    message: format!("{s:?} is not an address or CIDR"),
                })
        })
        .collect()
}

/// `TENANT_POOL_SHARE`: a fraction in (0, 1].
fn parse_share(get: &impl Fn(&str) -> Option<String>) -> Result<f64, ConfigError> {
    let share: f64 = parse_or(get, "TENANT_POOL_SHARE", 0.5)?;
    if !(share > 0.0 && share <= 1.0) {
        return Err(ConfigError {
            name: "TENANT_POOL_SHARE",
            message: "must be a fraction above 0 and at most 1".into(),
        });
    }
    Ok(share)
}

fn parse_or<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match get(name) {
        None => Ok(default),
        Some(raw) => raw.trim().parse().map_err(|_| ConfigError {
            name,
            message: format!("cannot parse {raw:?}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults_apply_when_unset() {
        let c = Config::from_lookup(env(&[])).unwrap();
        assert!(c.database_url.is_none());
        assert_eq!(c.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert_eq!(c.rate_limit_rps, 0);
        assert!(c.db_pool_size >= 4);
    }

    #[test]
    fn short_secret_is_refused() {
        let err = Config::from_lookup(env(&[("JWT_SECRET", "short")])).unwrap_err();
        assert_eq!(err.name, "JWT_SECRET");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Config::from_lookup(env(&[
            ("JWT_SECRET", "0123456789abcdef0123456789abcdef-secret"),
            ("DATABASE_URL", "postgres://u:hunter2@h/db"),
            ("MIGRATION_DATABASE_URL", "postgres://o:swordfish@h/db"),
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("swordfish"));
        assert!(!shown.contains("abcdef-secret"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_lookup(env(&[("DB_POOL_SIZE", "lots")])).unwrap_err();
        assert_eq!(err.name, "DB_POOL_SIZE");
        let err = Config::from_lookup(env(&[("LOG_FORMAT", "xml")])).unwrap_err();
        assert_eq!(err.name, "LOG_FORMAT");
        let err = Config::from_lookup(env(&[("TENANT_POOL_SHARE", "1.5")])).unwrap_err();
        assert_eq!(err.name, "TENANT_POOL_SHARE");
        let err = Config::from_lookup(env(&[("TRUSTED_PROXIES", "10.0.0.0/8, nope")])).unwrap_err();
        assert_eq!(err.name, "TRUSTED_PROXIES");
    }

    #[test]
    fn hardening_defaults_and_proxies() {
        let c = Config::from_lookup(env(&[])).unwrap();
        assert_eq!(c.login_rate_limit_per_min, 30);
        assert_eq!(c.tenant_pool_share, 0.5);
        assert_eq!(c.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.max_connections, 1024);
        assert!(c.trusted_proxies.is_empty());
        let c =
            Config::from_lookup(env(&[("TRUSTED_PROXIES", "10.0.0.0/8, ::1,127.0.0.1")])).unwrap();
        assert_eq!(c.trusted_proxies.len(), 3);
        assert!(c.trusted_proxies[0].contains(&"10.1.2.3".parse::<std::net::IpAddr>().unwrap()));
    }
}
