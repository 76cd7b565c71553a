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
    /// `CORS_ALLOWED_ORIGINS`: browser origins allowed to call the API (empty: no CORS).
    pub cors_allowed_origins: Vec<String>,
    /// `DOCS_ENABLED`: serve the `/docs` page (default true).
    pub docs_enabled: bool,
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
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("docs_enabled", &self.docs_enabled)
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
            cors_allowed_origins: get("CORS_ALLOWED_ORIGINS")
                .map(|v| {
                    v.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_string())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            docs_enabled: parse_or(&get, "DOCS_ENABLED", true)?,
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
        ]))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("abcdef-secret"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let err = Config::from_lookup(env(&[("DB_POOL_SIZE", "lots")])).unwrap_err();
        assert_eq!(err.name, "DB_POOL_SIZE");
        let err = Config::from_lookup(env(&[("LOG_FORMAT", "xml")])).unwrap_err();
        assert_eq!(err.name, "LOG_FORMAT");
    }
}
