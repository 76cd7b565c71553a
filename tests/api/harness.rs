//! The test harness.
//!
//! One PostgreSQL per test run: `DATABASE_URL`'s server when set, else a private cluster
//! started with the same code as `tenantry serve`, in a fresh temporary directory, and
//! stopped (and deleted) when the test process exits. A template database is migrated
//! once; every test gets its own database cloned from it and dropped afterwards, and
//! drives the real router in-process with real signed JWTs.
//!
//! Citus mode (`TENANTRY_TEST_CITUS=1`, set by `scripts/test-citus.sh`): a cloned
//! database would not carry Citus's metadata (which tables are distributed, where the
//! shards live), so every test shares the one distributed database `DATABASE_URL` names
//! (migrated and distributed by the script) and is isolated by its own tenants instead:
//! [`TestApp::tenant`] appends a unique suffix to every tenant code. Tests that are
//! single-node by nature (migrations up and down, a backup of the whole database, an
//! empty restore target) call [`skip_on_citus!`] with the reason, which is printed.

#![allow(dead_code)]

use std::sync::{Mutex, OnceLock};

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::{Connection, RunQueryDsl};
use http_body_util::BodyExt;
use serde_json::Value;
use tenantry::app::{App, AppState};
use tenantry::auth::Role;
use tenantry::config::Config;
use tenantry::db::embedded::{PrivateCluster, StartOptions};
use tenantry::db::{migrations, pool};
use tower::ServiceExt;
use uuid::Uuid;

/// The HS256 key every test app uses.
pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123456789";
/// The password of every fixture user.
pub const PASSWORD: &str = "correct horse battery";

/// Whether the tests run against a Citus coordinator (see the module comment).
pub fn citus() -> bool {
    std::env::var("TENANTRY_TEST_CITUS").is_ok_and(|v| v == "1")
}

/// Returns from the calling test in Citus mode, printing why it does not apply there.
#[macro_export]
macro_rules! skip_on_citus {
    ($reason:expr) => {
        if $crate::harness::citus() {
            eprintln!("skipped on Citus: {}", $reason);
            return;
        }
    };
}

/// Returns from the calling test when not in Citus mode, printing why.
#[macro_export]
macro_rules! skip_on_citus_not {
    ($reason:expr) => {
        if !$crate::harness::citus() {
            eprintln!("skipped on a single node: {}", $reason);
            return;
        }
    };
}

/// The tenant code a test asks for, made unique in Citus mode, where every test shares
/// one database (a code is unique across tenants).
pub fn tenant_code(code: &str) -> String {
    if citus() {
        format!("{code}-{}", &Uuid::new_v4().simple().to_string()[..10])
    } else {
        code.to_string()
    }
}

/// Where the test databases live.
struct Server {
    /// `postgres://user:pass@host:port/` (database name appended per use).
    base: String,
    /// Everything after the database name (`?sslmode=...`), if any.
    suffix: String,
    template: String,
}

impl Server {
    fn url(&self, db: &str) -> String {
        format!("{}{db}{}", self.base, self.suffix)
    }
}

/// The private cluster and its directory, stopped and removed at process exit.
static PRIVATE: Mutex<Option<(PrivateCluster, tempfile::TempDir)>> = Mutex::new(None);
static SERVER: OnceLock<Server> = OnceLock::new();

extern "C" fn stop_private_cluster() {
    if let Ok(mut guard) = PRIVATE.lock() {
        if let Some((mut cluster, dir)) = guard.take() {
            cluster.stop();
            drop(dir);
        }
    }
}

/// A directory the `postgres` OS user can enter (tempfile makes 0700 directories).
pub fn open_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("tenantry-test-")
        .tempdir()
        .expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// Starts a throw-away private cluster on a thread that lives as long as the process
/// (the server is bound to the thread that starts it).
pub fn start_private_cluster(dir: std::path::PathBuf, port: Option<u16>) -> PrivateCluster {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let cluster = PrivateCluster::start_with(
            &dir,
            &StartOptions {
                port,
                durable: false,
            },
        );
        let _ = tx.send(cluster);
        loop {
            std::thread::park();
        }
    });
    rx.recv()
        .expect("cluster thread")
        .expect("private PostgreSQL starts")
}

fn server() -> &'static Server {
    SERVER.get_or_init(|| {
        let (base, suffix) = match std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(url) => split_url(&url),
            None => {
                let dir = open_tempdir();
                let cluster = start_private_cluster(dir.path().to_path_buf(), None);
                let (base, suffix) = split_url(&cluster.url());
                *PRIVATE.lock().expect("lock") = Some((cluster, dir));
                // SAFETY: registering a plain extern "C" function with no arguments.
                unsafe { libc::atexit(stop_private_cluster) };
                (base, suffix)
            }
        };
        let template = format!("tenantry_tpl_{}", std::process::id());
        let server = Server {
            base,
            suffix,
            template,
        };
        if citus() {
            // The script migrated and distributed the database; nothing to clone.
            return server;
        }
        let mut admin =
            PgConnection::establish(&server.url("postgres")).expect("connect to postgres db");
        // Two calls: a multi-statement string runs as one transaction, which DROP and
        // CREATE DATABASE refuse.
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                server.template
            ))
            .expect("drop old template");
        admin
            .batch_execute(&format!("CREATE DATABASE {}", server.template))
            .expect("create template");
        let mut tpl =
            PgConnection::establish(&server.url(&server.template)).expect("connect to template");
        migrations::run_pending(&mut tpl).expect("migrate template");
        drop(tpl);
        server
    })
}

/// The Citus workers' `host:port`s, from `TENANTRY_TEST_CITUS_WORKERS`.
pub fn citus_workers() -> Vec<String> {
    std::env::var("TENANTRY_TEST_CITUS_WORKERS")
        .unwrap_or_default()
        .split(',')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `host` and `port` of `scheme://auth@host:port/`.
fn host_port(base: &str) -> (String, String) {
    let authority = base
        .trim_end_matches('/')
        .rsplit('@')
        .next()
        .unwrap_or_default();
    let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "5432"));
    (host.to_string(), port.to_string())
}

/// The URL of database `db` on a worker (`Some("host:port")`, same credentials as the
/// coordinator) or on the coordinator (`None`).
fn node_url(server: &Server, worker: Option<&str>, db: &str) -> String {
    match worker {
        None => server.url(db),
        Some(w) => {
            let (head, _) = server
                .base
                .trim_end_matches('/')
                .rsplit_once('@')
                .expect("auth");
            format!("{head}@{w}/{db}{}", server.suffix)
        }
    }
}

/// Splits `scheme://auth@host:port/db?params` into the part before the database name
/// and the part after it.
fn split_url(url: &str) -> (String, String) {
    let (head, params) = match url.split_once('?') {
        Some((h, p)) => (h, format!("?{p}")),
        None => (url, String::new()),
    };
    let cut = head.rfind('/').expect("database URL has a path");
    (head[..=cut].to_string(), params)
}

/// A fresh database, cloned from the migrated template, dropped on drop (in Citus mode,
/// the shared distributed database, left as it is).
pub struct TestDb {
    pub name: String,
    pub url: String,
    shared: bool,
}

impl TestDb {
    pub fn new() -> Self {
        let server = server();
        if citus() {
            let url = std::env::var("DATABASE_URL").expect("DATABASE_URL in Citus mode");
            let name = url
                .split('?')
                .next()
                .and_then(|u| u.rsplit('/').next())
                .unwrap_or_default()
                .to_string();
            return TestDb {
                name,
                url,
                shared: true,
            };
        }
        let name = format!("t_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&server.url("postgres")).expect("connect");
        admin
            .batch_execute(&format!(
                "CREATE DATABASE {name} TEMPLATE {} STRATEGY FILE_COPY",
                server.template
            ))
            .expect("clone template");
        TestDb {
            url: server.url(&name),
            name,
            shared: false,
        }
    }

    /// A database of the test's own, for tests that assert on the whole database (the
    /// seed's totals): on a single node the same as [`new`](Self::new); on Citus a new
    /// distributed database, set up with the steps of docs/scaling.md (the database and
    /// the extension on every node, the workers added, migrated, `distribute.sql`), and
    /// dropped on every node afterwards. About ten seconds, so only where it matters.
    pub fn own() -> Self {
        if !citus() {
            return Self::new();
        }
        let server = server();
        // One set-up at a time: a dozen at once on two cores made `citus_add_node` time
        // out ("failure on connection marked as essential").
        static SETUP: Mutex<()> = Mutex::new(());
        let _one = SETUP.lock().unwrap_or_else(|e| e.into_inner());
        let name = format!("t_{}", Uuid::new_v4().simple());
        let workers = citus_workers();
        for w in std::iter::once(None).chain(workers.iter().map(Some)) {
            let url = |db: &str| node_url(server, w.map(String::as_str), db);
            PgConnection::establish(&url("postgres"))
                .expect("connect to node")
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create database on node");
            PgConnection::establish(&url(&name))
                .expect("connect to the new database")
                .batch_execute("CREATE EXTENSION citus")
                .expect("create extension");
        }
        let url = server.url(&name);
        let mut conn = PgConnection::establish(&url).expect("connect");
        let (host, port) = host_port(&server.base);
        conn.batch_execute(&format!(
            "SELECT citus_set_coordinator_host('{host}', {port})"
        ))
        .expect("coordinator host");
        for w in &workers {
            let (host, port) = w.rsplit_once(':').expect("worker host:port");
            conn.batch_execute(&format!("SELECT citus_add_node('{host}', {port})"))
                .expect("add worker");
        }
        migrations::run_pending(&mut conn).expect("migrate");
        let psql = tenantry::db::embedded::server_bindir()
            .map(|d| d.join("psql"))
            .expect("psql");
        let out = std::process::Command::new(psql)
            .arg(&url)
            .args(["-v", "ON_ERROR_STOP=1", "-qAt", "-f"])
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/scripts/citus/distribute.sql"
            ))
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "distribute.sql: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        TestDb {
            url,
            name,
            shared: false,
        }
    }

    /// A fresh database with no tables at all (a restore target), dropped on drop.
    pub fn empty() -> Self {
        assert!(
            !citus(),
            "an empty database has no Citus metadata: skip this test on Citus"
        );
        let server = server();
        let name = format!("t_{}", Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&server.url("postgres")).expect("connect");
        admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE template0"))
            .expect("create empty db");
        TestDb {
            url: server.url(&name),
            name,
            shared: false,
        }
    }

    pub fn conn(&self) -> PgConnection {
        PgConnection::establish(&self.url).expect("connect to test db")
    }

    /// Runs SQL that returns nothing of interest.
    pub fn exec(&self, sql: &str) {
        self.conn().batch_execute(sql).expect("exec");
    }

    /// Runs one SQL statement returning a single bigint (`SELECT count(*) ...`).
    pub fn scalar(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct One {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            v: i64,
        }
        let rows: Vec<One> = diesel::sql_query(format!("SELECT ({sql})::bigint AS v"))
            .load(&mut self.conn())
            .expect("scalar query");
        rows[0].v
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.shared {
            return;
        }
        let name = self.name.clone();
        let server = server();
        // On Citus, an own database exists on every node.
        let mut urls = vec![server.url("postgres")];
        if citus() {
            urls.extend(
                citus_workers()
                    .iter()
                    .map(|w| node_url(server, Some(w), "postgres")),
            );
        }
        // Off the async runtime: dropping is blocking I/O.
        let _ = std::thread::spawn(move || {
            for url in urls {
                if let Ok(mut admin) = PgConnection::establish(&url) {
                    let _ = admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            }
        })
        .join();
    }
}

/// Test configuration: the given database, the test secret, and small pools.
pub fn test_config(url: &str, extra: &[(&str, &str)]) -> Config {
    let mut vars: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), url.into()),
        ("JWT_SECRET".into(), JWT_SECRET.into()),
        ("DB_POOL_SIZE".into(), "8".into()),
        ("REQUEST_TIMEOUT_MS".into(), "10000".into()),
        ("DB_ACQUIRE_TIMEOUT_MS".into(), "5000".into()),
        ("STATEMENT_TIMEOUT_MS".into(), "10000".into()),
    ];
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    Config::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("config")
}

/// An application on its own database, driven in-process.
pub struct TestApp {
    pub state: AppState,
    router: axum::Router,
    /// The connection fixtures are inserted on, opened on first use (`fixtures`); before
    /// `db`, so it is closed before the database is dropped.
    pub(crate) fixture_conn: std::sync::Arc<Mutex<Option<PgConnection>>>,
    pub db: TestDb,
}

/// A response, with the body parsed as JSON when it is JSON.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem `code`, if this is an error.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// The body without `request_id`, for comparing two error bodies.
    pub fn body_without_request_id(&self) -> Value {
        let mut b = self.body.clone();
        if let Some(o) = b.as_object_mut() {
            o.remove("request_id");
        }
        b
    }

    /// Asserts the status and, for errors, that the body is problem+json with `code`.
    #[track_caller]
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.text
        );
        if let Some(code) = code {
            assert_eq!(
                self.header("content-type"),
                Some("application/problem+json"),
                "{}",
                self.text
            );
            assert_eq!(self.code(), code, "{}", self.text);
            assert_eq!(self.body["status"], status);
            assert!(
                self.body["request_id"].is_string(),
                "problem has request_id: {}",
                self.text
            );
        }
        self
    }

    pub fn id(&self) -> Uuid {
        Uuid::parse_str(self.body["id"].as_str().expect("id in body")).expect("uuid")
    }
}

pub use crate::fixtures::{TenantFixture, UserFixture};

impl TestApp {
    pub async fn new() -> Self {
        Self::with_env(&[]).await
    }

    /// An app on a database of its own also on Citus ([`TestDb::own`]).
    pub async fn own() -> Self {
        let db = tokio::task::spawn_blocking(TestDb::own)
            .await
            .expect("create db");
        Self::on(db, &[])
    }

    /// An app with configuration overrides (`RATE_LIMIT_RPS`, ...).
    pub async fn with_env(extra: &[(&str, &str)]) -> Self {
        let db = tokio::task::spawn_blocking(TestDb::new)
            .await
            .expect("create db");
        Self::on(db, extra)
    }

    fn on(db: TestDb, extra: &[(&str, &str)]) -> Self {
        let config = test_config(&db.url, extra);
        let pool = pool::build(
            &db.url,
            &pool::PoolOptions {
                max_size: config.db_pool_size,
                acquire_timeout: config.db_acquire_timeout,
                statement_timeout: config.statement_timeout,
                slow_query: config.slow_query,
            },
        );
        let state = App::new(config, pool, JWT_SECRET);
        let router = tenantry::router(state.clone());
        TestApp {
            state,
            router,
            db,
            fixture_conn: Default::default(),
        }
    }

    /// Sends a request; `body` is sent as JSON when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&b).expect("json"))),
            None => req.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }

    /// Sends a prepared request.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("infallible router");
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Resp {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// A platform-admin token.
    pub fn platform_token(&self) -> String {
        self.state
            .jwt
            .issue_platform_admin("test-operator", 3600)
            .expect("token")
    }

    /// A tenant token for `user_id` (the role claim is not trusted by the server).
    pub fn token_for(&self, tenant_id: Uuid, user_id: Uuid) -> String {
        self.state
            .jwt
            .issue_user(tenant_id, user_id, Role::Member)
            .expect("token")
    }

    /// Audit rows of a tenant with `action`.
    pub fn audit_count(&self, tenant_id: Uuid, action: &str) -> i64 {
        self.db.scalar(&format!(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = '{tenant_id}' AND action = '{action}'"
        ))
    }
}

/// The app served over real TCP on a free loopback port, by the same code as `serve`
/// (connection limits included); stopped on drop.
pub struct TcpServer {
    pub base: String,
    pub addr: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TcpServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Serves `app`'s router over TCP until the returned handle is dropped.
pub async fn serve_tcp(app: &TestApp) -> TcpServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let router = tenantry::router(app.state.clone());
    let limits = tenantry::server::ConnLimits::from_config(&app.state.config);
    tokio::spawn(async move {
        let _ = tenantry::server::run_until_signal(listener, router, limits, async move {
            let _ = rx.await;
        })
        .await;
    });
    TcpServer {
        base: format!("http://{addr}"),
        addr,
        stop: Some(tx),
    }
}

/// One bigint from `sql` on the database at `url` (blocking).
pub fn scalar_at(url: &str, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct One {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
    let rows: Vec<One> = diesel::sql_query(format!("SELECT ({sql})::bigint AS v"))
        .load(&mut PgConnection::establish(url).expect("connect"))
        .expect("scalar query");
    rows[0].v
}
