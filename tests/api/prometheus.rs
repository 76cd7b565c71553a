//! The real Prometheus tools (Debian's `prometheus` package, installed on first use by
//! `scripts/prometheus-tool.sh`; when it cannot be installed these tests fail, they never
//! skip): `promtool check metrics` on a live `/metrics` answer, a real Prometheus
//! scraping a running server, and `promtool` checks and unit tests of the alert rules.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use axum::http::Method;
use serde_json::Value;

use crate::harness::{TestApp, open_tempdir};
use crate::ops_support::{ok, stderr, stdout};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn tool(args: &[&str]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.arg(root().join("scripts/prometheus-tool.sh"))
        .args(args);
    cmd
}

/// `promtool check metrics` with `text` on stdin.
fn check_metrics(text: &str) -> Output {
    use std::io::Write;
    let mut child = tool(&["promtool", "check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write metrics");
    child.wait_with_output().expect("promtool output")
}

#[tokio::test]
async fn promtool_finds_nothing_to_report_in_a_live_metrics_answer() {
    let app = TestApp::new().await;
    let t = app.tenant("promtool").await;
    let path = format!("/api/v1/items/{}", uuid::Uuid::now_v7());
    app.get(&path, &t.admin.token).await.expect(404, None);
    app.patch(&path, &t.admin.token, serde_json::json!({"title": "x"}))
        .await;
    app.call(Method::HEAD, "/health/live", None, None).await;
    let r = app.call(Method::GET, "/metrics", None, None).await;
    r.expect(200, None);
    let text = r.text.clone();
    let out = tokio::task::spawn_blocking(move || check_metrics(&text))
        .await
        .expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics ({}):\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    // The checker is live: a counter without `_total` is reported.
    let out = check_metrics("# HELP bad_counter x\n# TYPE bad_counter counter\nbad_counter 1\n");
    assert!(!out.status.success());
    assert!(stderr(&out).contains("_total"), "{}", stderr(&out));
}

/// A child process killed (with its output kept for failure messages) on drop.
struct Prometheus {
    child: Child,
    log: PathBuf,
    base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The result vector of an instant query (empty until a scrape has stored it).
    async fn query(&self, client: &reqwest::Client, q: &str) -> Vec<Value> {
        let Ok(r) = client
            .get(format!("{}/api/v1/query", self.base))
            .query(&[("query", q)])
            .send()
            .await
        else {
            return Vec::new();
        };
        let Ok(body) = r.json::<Value>().await else {
            return Vec::new();
        };
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

#[tokio::test]
async fn a_real_prometheus_scrapes_the_server_and_answers_queries() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let target = listener.local_addr().expect("addr");
    let router = tenantry::router(app.state.clone());
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let r = client
            .get(format!("http://{target}/health/live"))
            .send()
            .await
            .expect("live");
        assert_eq!(r.status(), 200);
    }

    let dir = open_tempdir();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - {}\n\
             scrape_configs:\n  - job_name: tenantry\n    static_configs:\n      - targets: [\"{target}\"]\n",
            root().join("deploy/prometheus/alerts.yml").display()
        ),
    )
    .expect("write config");
    let port = free_port();
    let log = dir.path().join("prometheus.log");
    let log_file = std::fs::File::create(&log).expect("log");
    let prometheus = Prometheus {
        child: tool(&[
            "prometheus",
            &format!("--config.file={}", config.display()),
            &format!("--storage.tsdb.path={}", dir.path().join("data").display()),
            &format!("--web.listen-address=127.0.0.1:{port}"),
        ])
        .stdout(log_file.try_clone().expect("log"))
        .stderr(log_file)
        .spawn()
        .expect("start prometheus"),
        log,
        base: format!("http://127.0.0.1:{port}"),
    };

    let deadline = Instant::now() + Duration::from_secs(90);
    let build = loop {
        let result = prometheus.query(&client, "tenantry_build_info").await;
        if !result.is_empty() {
            break result;
        }
        assert!(
            Instant::now() < deadline,
            "no series scraped in 90 s; prometheus log:\n{}",
            prometheus.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(build.len(), 1, "{build:?}");
    assert_eq!(build[0]["metric"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(build[0]["metric"]["job"], "tenantry");
    assert_eq!(build[0]["metric"]["instance"], target.to_string());
    assert_eq!(build[0]["value"][1], "1");

    let up = prometheus.query(&client, r#"up{job="tenantry"}"#).await;
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["value"][1], "1");
    let live = prometheus
        .query(
            &client,
            r#"tenantry_http_requests_total{method="GET",route="/health/live",status="2xx"}"#,
        )
        .await;
    assert_eq!(live.len(), 1, "{live:?}");
    let n: f64 = live[0]["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .expect("sample value");
    assert!(n >= 3.0, "{live:?}");
    // The rules loaded and evaluate against the scraped series without errors.
    let rules: Value = client
        .get(format!("{}/api/v1/rules", prometheus.base))
        .send()
        .await
        .expect("rules")
        .json()
        .await
        .expect("rules json");
    let loaded = rules["data"]["groups"][0]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(loaded.len(), 5, "{rules}");
    drop(prometheus);
    server.abort();
}

#[test]
fn the_alert_rules_pass_promtool_and_their_unit_tests() {
    let rules = root().join("deploy/prometheus/alerts.yml");
    let tests = root().join("deploy/prometheus/alerts_test.yml");
    let out = ok(&tool(&["promtool", "check", "rules"])
        .arg(&rules)
        .output()
        .expect("promtool"));
    assert!(out.contains("SUCCESS: 5 rules found"), "{out}");
    let out = ok(&tool(&["promtool", "test", "rules"])
        .arg(&tests)
        .output()
        .expect("promtool"));
    assert!(out.contains("SUCCESS"), "{out}");

    // The unit tests can fail: with the 5xx threshold raised, the expected alert is missing.
    let dir = open_tempdir();
    let text = std::fs::read_to_string(&rules).expect("rules");
    assert!(text.contains("> 0.05"));
    std::fs::write(
        dir.path().join("alerts.yml"),
        text.replace("> 0.05", "> 0.2"),
    )
    .expect("write");
    std::fs::copy(&tests, dir.path().join("alerts_test.yml")).expect("copy");
    let out = tool(&["promtool", "test", "rules"])
        .arg(dir.path().join("alerts_test.yml"))
        .output()
        .expect("promtool");
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!out.status.success(), "{shown}");
    assert!(shown.contains("TenantryHigh5xxRatio"), "{shown}");
}
