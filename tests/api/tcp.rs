//! Over real TCP, against the real binary: graceful shutdown during a burst, and a
//! database that goes away and comes back.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tenantry::auth::jwt::JwtKeys;

use crate::harness::{JWT_SECRET, PASSWORD, TestDb, open_tempdir, start_private_cluster};

/// A `tenantry serve` child process on a free port; killed on drop if still running.
pub struct Server {
    pub child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

pub async fn spawn_server(database_url: &str, extra: &[(&str, &str)]) -> Server {
    spawn_server_with(database_url, extra, Stdio::null()).await
}

/// As `spawn_server`, with the server's log (stderr) going to `stderr`.
pub async fn spawn_server_with(
    database_url: &str,
    extra: &[(&str, &str)],
    stderr: Stdio,
) -> Server {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.arg("serve");
    // An empty URL: no DATABASE_URL, the private cluster (give TENANTRY_DATA_DIR).
    if database_url.is_empty() {
        cmd.env_remove("DATABASE_URL");
    } else {
        cmd.env("DATABASE_URL", database_url);
    }
    cmd.env("JWT_SECRET", JWT_SECRET)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let server = Server {
        child: cmd.spawn().expect("spawn tenantry"),
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    // initdb of a private cluster on a busy machine can take a while.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = client
            .get(format!("{}/health/ready", server.base))
            .send()
            .await
        {
            if r.status() == 200 {
                return server;
            }
        }
        assert!(Instant::now() < deadline, "server did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn platform_token() -> String {
    JwtKeys::new(JWT_SECRET.as_bytes())
        .issue_platform_admin("tcp-test", 600)
        .expect("token")
}

pub async fn create_tenant(client: &reqwest::Client, base: &str, code: &str) -> (String, Value) {
    let r = client
        .post(format!("{base}/api/v1/tenants"))
        .bearer_auth(platform_token())
        .json(&json!({"name": code, "code": code, "admin": {"email": format!("a@{code}.example"), "username": "a", "password": PASSWORD}}))
        .send()
        .await
        .expect("create tenant");
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    let login = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"tenant_code": code, "email": format!("a@{code}.example"), "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let token = login.json::<Value>().await.expect("json")["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    (token, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_lets_in_flight_requests_finish_and_exits_zero() {
    let db = tokio::task::spawn_blocking(TestDb::new).await.expect("db");
    let mut server = spawn_server(&db.url, &[]).await;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(32)
        .build()
        .expect("client");
    let code = crate::harness::tenant_code("drain");
    let (token, tenant) = create_tenant(&client, &server.base, &code).await;
    let users = format!(
        "SELECT count(*) FROM users WHERE tenant_id = '{}'",
        tenant["id"].as_str().expect("tenant id")
    );
    // Open the connections first, so the burst below is written on established
    // connections rather than racing the listener's close.
    let warm: Vec<_> = (0..24)
        .map(|_| client.get(format!("{}/health/live", server.base)).send())
        .collect();
    for r in futures_util::future::join_all(warm).await {
        assert_eq!(r.expect("warm-up").status(), 200);
    }

    // Each create hashes a password with Argon2, so the burst takes a while to serve.
    let mut burst = Vec::new();
    for i in 0..24 {
        let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
        burst.push(tokio::spawn(async move {
            client
                .post(format!("{base}/api/v1/users"))
                .bearer_auth(token)
                .json(&json!({"email": format!("u{i}@drain.example"), "username": "u", "password": PASSWORD}))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    // Signal once the server is demonstrably inside the burst: one create committed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.scalar(&users) < 2 {
        assert!(Instant::now() < deadline, "burst never started");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // SAFETY: sending SIGTERM to our own child process.
    unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    let mut statuses = Vec::new();
    for b in burst {
        statuses.push(
            b.await
                .expect("task")
                .expect("request completed despite the shutdown"),
        );
    }
    assert!(statuses.iter().all(|s| *s == 201), "{statuses:?}");
    let status = tokio::task::spawn_blocking(move || {
        let s = server.child.wait().expect("wait");
        (server, s)
    })
    .await
    .expect("join")
    .1;
    assert_eq!(status.code(), Some(0), "graceful exit");
    assert_eq!(db.scalar(&users), 25, "every accepted create was committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_is_503_then_recovers_without_restart() {
    let dir = open_tempdir();
    let path = dir.path().to_path_buf();
    let mut cluster = tokio::task::spawn_blocking(move || start_private_cluster(path, None))
        .await
        .expect("cluster");
    let port = cluster.port();
    let server = spawn_server(
        &cluster.url(),
        &[
            ("DB_ACQUIRE_TIMEOUT_MS", "2000"),
            ("REQUEST_TIMEOUT_MS", "4000"),
        ],
    )
    .await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(6))
        .build()
        .expect("client");
    let (token, _) = create_tenant(&client, &server.base, "outage").await;
    let me = format!("{}/api/v1/users/me", server.base);
    assert_eq!(
        client
            .get(&me)
            .bearer_auth(&token)
            .send()
            .await
            .expect("me")
            .status(),
        200
    );

    let mut cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .expect("stop");

    // Answers come back (the client gives up after 6 s, so a hang fails the test).
    let ready = client
        .get(format!("{}/health/ready", server.base))
        .send()
        .await
        .expect("no hang");
    assert_eq!(ready.status(), 503);
    assert_eq!(ready.headers()["content-type"], "application/problem+json");
    assert!(ready.headers().contains_key("retry-after"));
    let api = client
        .get(&me)
        .bearer_auth(&token)
        .send()
        .await
        .expect("no hang");
    assert_eq!(api.status(), 503);
    assert_eq!(
        api.json::<Value>().await.expect("json")["code"],
        "database_unavailable"
    );

    // PostgreSQL comes back on the same port; the server recovers by itself.
    let path = dir.path().to_path_buf();
    cluster = tokio::task::spawn_blocking(move || {
        drop(cluster);
        start_private_cluster(path, Some(port))
    })
    .await
    .expect("restart");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut recovered = (false, false);
    while Instant::now() < deadline && recovered != (true, true) {
        let r = client
            .get(format!("{}/health/ready", server.base))
            .send()
            .await
            .map(|r| r.status().as_u16());
        let a = client
            .get(&me)
            .bearer_auth(&token)
            .send()
            .await
            .map(|r| r.status().as_u16());
        recovered = (r.ok() == Some(200), a.ok() == Some(200));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        recovered,
        (true, true),
        "ready and API recover without a restart"
    );
    drop(server);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stop");
}

/// Without DATABASE_URL the server's tenant pool logs in to its private cluster as
/// `tenantry_api` (a member of `tenantry_app` only), and tenants stay apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_private_cluster_serves_tenants_through_the_restricted_login() {
    let data = open_tempdir();
    let dir = data.path().to_str().expect("dir").to_string();
    let server = spawn_server("", &[("TENANTRY_DATA_DIR", dir.as_str())]).await;
    let client = reqwest::Client::new();
    let (a, _) = create_tenant(&client, &server.base, "private-a").await;
    let (b, _) = create_tenant(&client, &server.base, "private-b").await;
    let r = client
        .post(format!("{}/api/v1/projects", server.base))
        .bearer_auth(&a)
        .json(&json!({"name": "a's"}))
        .send()
        .await
        .expect("create project");
    assert_eq!(r.status(), 201);
    let count = |token: String| {
        let (client, base) = (client.clone(), server.base.clone());
        async move {
            let r = client
                .get(format!("{base}/api/v1/projects"))
                .bearer_auth(token)
                .send()
                .await
                .expect("list");
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")["data"]
                .as_array()
                .expect("data")
                .len()
        }
    };
    assert_eq!(count(a).await, 1);
    assert_eq!(count(b).await, 0);
    // Who the server's sessions are, seen from the cluster's superuser.
    let password = std::fs::read_to_string(data.path().join("pg_password")).expect("password");
    let pid = std::fs::read_to_string(data.path().join("postgres/postmaster.pid")).expect("pid");
    let port = pid.lines().nth(3).expect("port line").trim().to_string();
    let url = format!(
        "postgres://postgres:{}@127.0.0.1:{port}/tenantry",
        password.trim()
    );
    let logins = tokio::task::spawn_blocking(move || {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Login {
            #[diesel(sql_type = diesel::sql_types::Text)]
            usename: String,
        }
        let mut conn = PgConnection::establish(&url).expect("superuser");
        diesel::sql_query(
            "SELECT DISTINCT usename::text AS usename FROM pg_stat_activity
              WHERE datname = 'tenantry' AND pid <> pg_backend_pid() AND usename IS NOT NULL",
        )
        .load::<Login>(&mut conn)
        .expect("sessions")
        .into_iter()
        .map(|l| l.usename)
        .collect::<Vec<_>>()
    })
    .await
    .expect("sessions");
    assert!(logins.contains(&"tenantry_api".to_string()), "{logins:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_restart_under_an_idle_server_costs_no_request() {
    let dir = open_tempdir();
    let path = dir.path().to_path_buf();
    let cluster = tokio::task::spawn_blocking(move || start_private_cluster(path, None))
        .await
        .expect("cluster");
    let port = cluster.port();
    let server = spawn_server(&cluster.url(), &[("DB_POOL_SIZE", "8")]).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(32)
        .build()
        .expect("client");
    let (token, _) = create_tenant(&client, &server.base, "restart").await;
    let me = format!("{}/api/v1/users/me", server.base);
    let projects = format!("{}/api/v1/projects", server.base);
    let get = |url: String| {
        let (client, token) = (client.clone(), token.clone());
        async move {
            client
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    };
    // Warm every pooled connection with concurrent reads.
    let warm: Vec<_> = (0..24).map(|_| get(projects.clone())).collect();
    for r in futures_util::future::join_all(warm).await {
        assert_eq!(r.expect("warm"), 200);
    }

    // Stop and start PostgreSQL while the server idles.
    let path = dir.path().to_path_buf();
    let cluster = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        cluster.stop();
        drop(cluster);
        start_private_cluster(path, Some(port))
    })
    .await
    .expect("restart");

    // Reads one after another (more than the pool holds), then concurrent reads, then
    // a write: none may fail.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(get(me.clone()).await.expect("answered"));
    }
    let burst: Vec<_> = (0..16).map(|_| get(projects.clone())).collect();
    for r in futures_util::future::join_all(burst).await {
        statuses.push(r.expect("answered"));
    }
    let write = client
        .post(&projects)
        .bearer_auth(&token)
        .json(&json!({"name": "after the restart"}))
        .send()
        .await
        .expect("answered")
        .status()
        .as_u16();
    assert!(
        statuses.iter().all(|s| *s == 200),
        "requests failed after the restart: {statuses:?}"
    );
    assert_eq!(write, 201);
    drop(server);
    tokio::task::spawn_blocking(move || drop(cluster))
        .await
        .expect("stop");
}
