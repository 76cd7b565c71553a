//! Cross-tenant access: another tenant's id answers exactly like a random id.

use serde_json::json;
use uuid::Uuid;

use crate::harness::TestApp;

#[tokio::test]
async fn another_tenants_user_is_the_same_404_as_a_random_id() {
    let app = TestApp::new().await;
    let a = app.tenant("iso-a").await;
    let b = app.tenant("iso-b").await;
    let victim = app.user(&a, "member").await;
    let random = Uuid::now_v7();
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"username": "stolen"}))),
    ] {
        let m = axum::http::Method::from_bytes(method.as_bytes()).expect("method");
        let (their_path, random_path) = (
            format!("/api/v1/users/{}", victim.id),
            format!("/api/v1/users/{random}"),
        );
        let theirs = app
            .call(m.clone(), &their_path, Some(&b.admin.token), body.clone())
            .await;
        let nobody = app
            .call(m, &random_path, Some(&b.admin.token), body.clone())
            .await;
        theirs.expect(404, Some("not_found"));
        nobody.expect(404, Some("not_found"));
        assert_eq!(
            theirs.body_without_request_id(),
            nobody.body_without_request_id(),
            "{method}"
        );
        assert!(
            !theirs.text.contains(&victim.id.to_string()),
            "no id echoed"
        );
    }
    let untouched = app
        .get(&format!("/api/v1/users/{}", victim.id), &a.admin.token)
        .await;
    assert_ne!(untouched.body["username"], "stolen");
    // Lists never show the other tenant's rows.
    let list = app.get("/api/v1/users?limit=100", &b.admin.token).await;
    for u in list.body["data"].as_array().expect("data") {
        assert_eq!(u["tenant_id"], b.id.to_string());
    }
    let logs = app
        .get("/api/v1/audit-logs?limit=100", &b.admin.token)
        .await;
    logs.expect(200, None);
    let a_user_ids = [a.admin.id.to_string(), victim.id.to_string()];
    for row in logs.body["data"].as_array().expect("data") {
        assert!(!a_user_ids.contains(&row["user_id"].as_str().unwrap_or("").to_string()));
    }
}

#[tokio::test]
async fn a_body_cannot_choose_the_tenant() {
    let app = TestApp::new().await;
    let a = app.tenant("body-a").await;
    let b = app.tenant("body-b").await;
    let r = app
        .post(
            "/api/v1/users",
            &b.admin.token,
            json!({"email": "x@y.co", "username": "x", "password": "long enough pw", "tenant_id": a.id}),
        )
        .await;
    r.expect(422, Some("validation_failed"));
    assert_eq!(r.body["errors"][0]["field"], "tenant_id");
    // Query strings and headers are ignored too.
    let r = app
        .send(
            axum::http::Request::builder()
                .uri(format!("/api/v1/users?tenant_id={}", a.id))
                .header("authorization", format!("Bearer {}", b.admin.token))
                .header("x-tenant-id", a.id.to_string())
                .body(axum::body::Body::empty())
                .expect("req"),
        )
        .await;
    r.expect(200, None);
    for u in r.body["data"].as_array().expect("data") {
        assert_eq!(u["tenant_id"], b.id.to_string());
    }
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM users WHERE tenant_id = '{}'",
            a.id
        )),
        1
    );
}

/// Isolation by types: the table DSL of tenant tables appears only in `src/repos/`.
#[test]
fn tenant_table_dsl_is_only_used_in_repositories() {
    let tenant_tables = tenantry::repos::tenants::TENANT_TABLES;
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src"
    ))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if !path.ends_with("repos") {
                    stack.push(path);
                }
                continue;
            }
            if path.ends_with("schema.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            // Models name their table for the derives, but hold no queries.
            let in_models = path.parent().is_some_and(|p| p.ends_with("models"));
            for table in tenant_tables {
                if text.contains(&format!("{table}::table"))
                    || (!in_models && text.contains(&format!("schema::{table}")))
                {
                    offenders.push(format!("{} uses {table}", path.display()));
                }
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}
