//! The contract that ships with the repository: `docs/openapi.json` is what the server
//! serves and what `tenantry openapi` prints, the document is exact where clients need it
//! (closed sets are enums, every problem code is listed, lists share their parameters),
//! and no document or comment sends a reader to a file outside the repository.

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::http::Method;
use serde_json::Value;

use crate::harness::TestApp;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn committed() -> Value {
    let text =
        std::fs::read_to_string(root().join("docs/openapi.json")).expect("docs/openapi.json");
    serde_json::from_str(&text).expect("docs/openapi.json is JSON")
}

#[tokio::test]
async fn committed_document_is_the_served_one() {
    let app = TestApp::new().await;
    let served = app.call(Method::GET, "/openapi.json", None, None).await;
    served.expect(200, None);
    assert!(
        served.body == committed(),
        "docs/openapi.json differs from GET /openapi.json: run `cargo run -- openapi > docs/openapi.json`"
    );
}

#[test]
fn cli_prints_the_committed_document() {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .arg("openapi")
        .output()
        .expect("run tenantry openapi");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert!(
        printed == committed(),
        "tenantry openapi differs from docs/openapi.json"
    );
}

fn schema<'a>(doc: &'a Value, name: &str) -> &'a Value {
    &doc["components"]["schemas"][name]
}

#[test]
fn closed_sets_and_problem_codes_are_enums() {
    let doc = committed();
    let codes: Vec<&str> = schema(&doc, "ProblemCode")["enum"]
        .as_array()
        .expect("ProblemCode enum")
        .iter()
        .map(|v| v.as_str().expect("code"))
        .collect();
    assert_eq!(codes, tenantry::error::PROBLEM_CODES);
    assert_eq!(
        schema(&doc, "Problem")["properties"]["code"]["$ref"],
        "#/components/schemas/ProblemCode"
    );
    for (name, values) in [
        ("TaskStatus", &["pending", "in_progress", "completed"][..]),
        (
            "ExpenseStatus",
            &["draft", "submitted", "approved", "rejected"],
        ),
        (
            "Category",
            &[
                "travel", "meals", "lodging", "supplies", "software", "other",
            ],
        ),
        ("Role", &["viewer", "member", "admin"]),
        ("TenantStatus", &["active", "suspended", "archived"]),
        ("Severity", &["info", "warning", "error", "critical"]),
    ] {
        let mut got: Vec<&str> = schema(&doc, name)["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has an enum"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let mut want = values.to_vec();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{name}");
    }
    // Rows point at the same enums as requests.
    for (row, field, target) in [
        ("Task", "status", "TaskStatus"),
        ("Expense", "status", "ExpenseStatus"),
        ("Expense", "category", "Category"),
        ("Budget", "category", "Category"),
        ("User", "role", "Role"),
        ("Tenant", "status", "TenantStatus"),
        ("AuditLog", "severity", "Severity"),
    ] {
        assert_eq!(
            schema(&doc, row)["properties"][field]["$ref"],
            format!("#/components/schemas/{target}"),
            "{row}.{field}"
        );
    }
}

#[test]
fn request_fields_carry_their_bounds() {
    let doc = committed();
    let title = &schema(&doc, "CreateTaskRequest")["properties"]["title"];
    assert_eq!(
        (title["minLength"].as_i64(), title["maxLength"].as_i64()),
        (Some(1), Some(255))
    );
    let priority = &schema(&doc, "CreateTaskRequest")["properties"]["priority"];
    assert_eq!(
        (priority["minimum"].as_i64(), priority["maximum"].as_i64()),
        (Some(0), Some(10))
    );
    assert_eq!(
        priority["type"], "integer",
        "null is refused, so not nullable"
    );
    let expense = schema(&doc, "CreateExpenseRequest");
    assert_eq!(expense["properties"]["currency"]["pattern"], "^[A-Z]{3}$");
    let required: Vec<&str> = expense["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!required.contains(&"currency"), "currency defaults to USD");
    assert_eq!(
        schema(&doc, "CreateTenantRequest")["properties"]["code"]["pattern"],
        "^[a-z0-9][a-z0-9-]{0,49}$"
    );
    assert!(
        schema(&doc, "CreateBudgetRequest")["properties"]["period"]["pattern"]
            .as_str()
            .is_some()
    );
    // Every request body refuses unknown fields, as the server does.
    for (name, s) in doc["components"]["schemas"].as_object().expect("schemas") {
        if name.ends_with("Request") || name.ends_with("Body") {
            assert_eq!(s["additionalProperties"], false, "{name}");
        }
    }
}

#[test]
fn list_parameters_are_defined_once_and_used_by_every_list() {
    let doc = committed();
    let limit = &doc["components"]["parameters"]["limit"]["schema"];
    assert_eq!(
        (limit["minimum"].as_i64(), limit["maximum"].as_i64()),
        (Some(1), Some(100))
    );
    let mut lists = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let Some(get) = item.get("get") else { continue };
        let page = get
            .pointer("/responses/200/content/application~1json/schema/$ref")
            .and_then(Value::as_str)
            .is_some_and(|r| r.contains("/Page_"));
        if !page {
            continue;
        }
        lists += 1;
        let refs: Vec<&str> = get["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .filter_map(|p| p["$ref"].as_str())
            .collect();
        assert!(refs.contains(&"#/components/parameters/limit"), "{path}");
        assert!(refs.contains(&"#/components/parameters/cursor"), "{path}");
        assert!(
            get["description"]
                .as_str()
                .unwrap_or("")
                .contains("Problem codes:"),
            "{path} lists its problem codes"
        );
    }
    assert!(lists >= 10, "found {lists} lists");
}

/// Files a reader of the repository may follow: everything tracked except the CI and
/// install scripts, which may call the machine's shared install tools.
fn tracked_files() -> Vec<PathBuf> {
    let out = Command::new("git")
        .args(["ls-files"])
        .current_dir(root())
        .output()
        .expect("git ls-files");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with(".ci/") && !l.starts_with("scripts/"))
        .map(|l| root().join(l))
        .collect()
}

#[test]
fn nothing_points_outside_the_repository() {
    let this = Path::new(file!()).file_name().expect("name").to_owned();
    let mut offenders = Vec::new();
    let files = tracked_files();
    assert!(
        files.len() > 50,
        "git ls-files found the repository's files"
    );
    for path in files {
        if path.file_name() == Some(&this) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            let cites_outside = line.contains("../shared")
                || line.contains("DESIGN.md")
                || (line.contains("API.md")
                    && !line.contains("docs/API.md")
                    && !path.ends_with("docs/API.md"));
            if cites_outside {
                offenders.push(format!("{}:{}: {line}", path.display(), n + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "references outside the repository:\n{}",
        offenders.join("\n")
    );
}

#[tokio::test]
async fn docs_page_has_its_own_policy_and_can_be_turned_off() {
    let app = TestApp::new().await;
    let redirect = app.call(Method::GET, "/docs", None, None).await;
    assert!(redirect.status.is_redirection(), "{}", redirect.status);
    let page = app.call(Method::GET, "/docs/", None, None).await;
    page.expect(200, None);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let csp = page
        .header("content-security-policy")
        .expect("csp")
        .to_string();
    assert_eq!(csp, tenantry::http::docs_page::DOCS_CSP);
    assert!(!csp.contains("http"), "no third-party host: {csp}");
    assert!(
        !csp.contains("script-src 'self' 'unsafe"),
        "no inline scripts: {csp}"
    );
    for asset in [
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let r = app.call(Method::GET, asset, None, None).await;
        r.expect(200, None);
        assert_eq!(
            r.header("content-security-policy"),
            Some(csp.as_str()),
            "{asset}"
        );
    }
    let init = app
        .call(Method::GET, "/docs/swagger-initializer.js", None, None)
        .await;
    assert!(
        init.text.contains("/openapi.json"),
        "the page reads this server's document"
    );
    // Every other answer keeps the default policy.
    let other = app.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(
        other.header("content-security-policy"),
        Some("default-src 'none'; frame-ancestors 'none'")
    );

    let off = TestApp::with_env(&[("DOCS_ENABLED", "false")]).await;
    for path in ["/docs", "/docs/", "/docs/swagger-ui-bundle.js"] {
        off.call(Method::GET, path, None, None)
            .await
            .expect(404, Some("not_found"));
    }
}
