//! Projects, `include=owner,task_counts`, and cross-tenant isolation of projects and
//! tasks (docs/API.md §5).

use serde_json::json;
use uuid::Uuid;

use crate::harness::{Resp, TenantFixture, TestApp};

#[tokio::test]
async fn project_crud_and_cascading_delete() {
    let app = TestApp::new().await;
    let t = app.tenant("proj").await;
    let r = app
        .post(
            "/api/v1/projects",
            &t.admin.token,
            json!({"name": "Apollo", "description": "moon", "owner_id": t.admin.id}),
        )
        .await;
    r.expect(201, None);
    let id = r.id();
    assert_eq!(r.body["owner_id"], t.admin.id.to_string());
    app.post("/api/v1/projects", &t.admin.token, json!({"name": ""}))
        .await
        .expect(422, Some("validation_failed"));
    app.post(
        "/api/v1/projects",
        &t.admin.token,
        json!({"name": "x", "version": 1}),
    )
    .await
    .expect(422, Some("validation_failed"));
    let p = app
        .patch(
            &format!("/api/v1/projects/{id}"),
            &t.admin.token,
            json!({"name": "Artemis", "owner_id": null}),
        )
        .await;
    p.expect(200, None);
    assert_eq!(p.body["name"], "Artemis");
    assert!(p.body["owner_id"].is_null());
    assert_eq!(p.body["description"], "moon", "untouched fields stay");
    app.patch(&format!("/api/v1/projects/{id}"), &t.admin.token, json!({}))
        .await
        .expect(422, Some("validation_failed"));
    for i in 0..3 {
        app.post(
            &format!("/api/v1/projects/{id}/tasks"),
            &t.admin.token,
            json!({"title": format!("t{i}")}),
        )
        .await
        .expect(201, None);
    }
    app.delete(&format!("/api/v1/projects/{id}"), &t.admin.token)
        .await
        .expect(204, None);
    app.get(&format!("/api/v1/projects/{id}"), &t.admin.token)
        .await
        .expect(404, Some("not_found"));
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM tasks WHERE tenant_id = '{}'",
            t.id
        )),
        0,
        "tasks went with it"
    );
    app.get(&format!("/api/v1/projects/{id}/tasks"), &t.admin.token)
        .await
        .expect(404, Some("not_found"));
    for action in ["project.created", "project.updated", "project.deleted"] {
        assert_eq!(app.audit_count(t.id, action), 1, "{action}");
    }
    assert_eq!(app.audit_count(t.id, "task.created"), 3);
}

#[tokio::test]
async fn include_owner_and_task_counts() {
    let app = TestApp::new().await;
    let t = app.tenant("incl").await;
    let owner = app.user(&t, "member").await;
    let with_owner = app
        .post(
            "/api/v1/projects",
            &t.admin.token,
            json!({"name": "owned", "owner_id": owner.id}),
        )
        .await
        .id();
    let without = app
        .post(
            "/api/v1/projects",
            &t.admin.token,
            json!({"name": "orphan"}),
        )
        .await
        .id();
    for (status, n) in [("pending", 3), ("in_progress", 2), ("completed", 1)] {
        for _ in 0..n {
            app.post(
                &format!("/api/v1/projects/{with_owner}/tasks"),
                &t.admin.token,
                json!({"title": "x", "status": status}),
            )
            .await
            .expect(201, None);
        }
    }
    let r = app
        .get("/api/v1/projects?include=owner,task_counts", &t.admin.token)
        .await;
    r.expect(200, None);
    let data = r.body["data"].as_array().expect("data");
    assert_eq!(data.len(), 2);
    let find = |id: Uuid| {
        data.iter()
            .find(|p| p["id"] == id.to_string())
            .expect("project listed")
    };
    let owned = find(with_owner);
    assert_eq!(owned["owner"]["id"], owner.id.to_string());
    assert_eq!(owned["owner"]["email"], owner.email);
    assert!(owned["owner"].get("password_hash").is_none());
    assert_eq!(
        owned["task_counts"],
        json!({"total": 6, "pending": 3, "in_progress": 2, "completed": 1})
    );
    let orphan = find(without);
    assert!(orphan["owner"].is_null());
    assert_eq!(
        orphan["task_counts"],
        json!({"total": 0, "pending": 0, "in_progress": 0, "completed": 0})
    );
    let plain = app.get("/api/v1/projects", &t.admin.token).await;
    assert!(
        plain.body["data"][0].get("owner").is_none()
            && plain.body["data"][0].get("task_counts").is_none()
    );
    let only_counts = app
        .get(
            &format!("/api/v1/projects?include=task_counts&owner_id={}", owner.id),
            &t.admin.token,
        )
        .await;
    let data = only_counts.body["data"].as_array().expect("data");
    assert_eq!(data.len(), 1);
    assert!(data[0].get("owner").is_none());
    assert_eq!(data[0]["task_counts"]["total"], 6);
    app.get("/api/v1/projects?include=everything", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    // Paging through the joined list.
    let first = app
        .get("/api/v1/projects?include=owner&limit=1", &t.admin.token)
        .await;
    let cursor = first.body["next_cursor"].as_str().expect("cursor");
    let second = app
        .get(
            &format!("/api/v1/projects?include=owner&limit=1&cursor={cursor}"),
            &t.admin.token,
        )
        .await;
    assert_ne!(first.body["data"][0]["id"], second.body["data"][0]["id"]);
    assert!(second.body["next_cursor"].is_null());
}

/// Asserts two answers are the same 404, byte for byte apart from the request id.
fn same_404(theirs: &Resp, random: &Resp, what: &str) {
    theirs.expect(404, Some("not_found"));
    random.expect(404, Some("not_found"));
    assert_eq!(
        theirs.body_without_request_id(),
        random.body_without_request_id(),
        "{what}"
    );
}

/// Tenant A with a project holding a task, and tenant B, whose admin probes A's rows.
struct TwoTenants {
    app: TestApp,
    a: TenantFixture,
    b: TenantFixture,
    a_project: Uuid,
    a_task: Uuid,
}

async fn two_tenants() -> TwoTenants {
    let app = TestApp::new().await;
    let a = app.tenant("pt-a").await;
    let b = app.tenant("pt-b").await;
    let a_project = app
        .post(
            "/api/v1/projects",
            &a.admin.token,
            json!({"name": "secret"}),
        )
        .await
        .id();
    let a_task = app
        .post(
            &format!("/api/v1/projects/{a_project}/tasks"),
            &a.admin.token,
            json!({"title": "secret"}),
        )
        .await
        .id();
    TwoTenants {
        app,
        a,
        b,
        a_project,
        a_task,
    }
}

#[tokio::test]
async fn another_tenants_project_and_task_ids_are_the_same_404_as_random_ids() {
    let TwoTenants {
        app,
        a,
        b,
        a_project,
        a_task,
    } = two_tenants().await;
    let random = Uuid::now_v7();
    let tok = &b.admin.token;
    for (method, path_of, body) in [
        ("GET", "/api/v1/projects/{}", None),
        (
            "PATCH",
            "/api/v1/projects/{}",
            Some(json!({"name": "pwned"})),
        ),
        ("DELETE", "/api/v1/projects/{}", None),
        ("GET", "/api/v1/projects/{}/tasks", None),
        (
            "POST",
            "/api/v1/projects/{}/tasks",
            Some(json!({"title": "planted"})),
        ),
    ] {
        let m = axum::http::Method::from_bytes(method.as_bytes()).expect("method");
        let theirs = app
            .call(
                m.clone(),
                &path_of.replace("{}", &a_project.to_string()),
                Some(tok),
                body.clone(),
            )
            .await;
        let nobody = app
            .call(
                m,
                &path_of.replace("{}", &random.to_string()),
                Some(tok),
                body,
            )
            .await;
        same_404(&theirs, &nobody, &format!("{method} {path_of}"));
    }
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"version": 1, "title": "pwned"}))),
        ("DELETE", None),
    ] {
        let m = axum::http::Method::from_bytes(method.as_bytes()).expect("method");
        let theirs = app
            .call(
                m.clone(),
                &format!("/api/v1/tasks/{a_task}"),
                Some(tok),
                body.clone(),
            )
            .await;
        let nobody = app
            .call(m, &format!("/api/v1/tasks/{random}"), Some(tok), body)
            .await;
        same_404(&theirs, &nobody, &format!("{method} task"));
    }
    // A's rows are intact.
    let t = app
        .get(&format!("/api/v1/tasks/{a_task}"), &a.admin.token)
        .await;
    assert_eq!(
        (t.body["title"].as_str(), t.body["version"].as_i64()),
        (Some("secret"), Some(1))
    );
    app.get(&format!("/api/v1/projects/{a_project}"), &a.admin.token)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn references_to_another_tenants_user_are_invalid_reference_like_a_random_id() {
    let TwoTenants { app, a, b, .. } = two_tenants().await;
    let random = Uuid::now_v7();
    let tok = &b.admin.token;
    // References to another tenant's user are invalid_reference, same body as a random id.
    let b_project = app
        .post("/api/v1/projects", tok, json!({"name": "mine"}))
        .await
        .id();
    let foreign_owner = app
        .post(
            "/api/v1/projects",
            tok,
            json!({"name": "x", "owner_id": a.admin.id}),
        )
        .await;
    let random_owner = app
        .post(
            "/api/v1/projects",
            tok,
            json!({"name": "x", "owner_id": random}),
        )
        .await;
    foreign_owner.expect(422, Some("invalid_reference"));
    assert_eq!(foreign_owner.body["errors"][0]["field"], "owner_id");
    assert_eq!(
        foreign_owner.body_without_request_id(),
        random_owner.body_without_request_id()
    );
    assert!(
        !foreign_owner.text.contains(&a.admin.id.to_string()),
        "the value is never echoed"
    );
    let foreign_assignee = app
        .post(
            &format!("/api/v1/projects/{b_project}/tasks"),
            tok,
            json!({"title": "x", "assignee_id": a.admin.id}),
        )
        .await;
    foreign_assignee.expect(422, Some("invalid_reference"));
    assert_eq!(foreign_assignee.body["errors"][0]["field"], "assignee_id");
    let b_task = app
        .post(
            &format!("/api/v1/projects/{b_project}/tasks"),
            tok,
            json!({"title": "ok"}),
        )
        .await
        .id();
    app.patch(
        &format!("/api/v1/tasks/{b_task}"),
        tok,
        json!({"version": 1, "assignee_id": a.admin.id}),
    )
    .await
    .expect(422, Some("invalid_reference"));
    app.patch(
        &format!("/api/v1/projects/{b_project}"),
        tok,
        json!({"owner_id": a.admin.id}),
    )
    .await
    .expect(422, Some("invalid_reference"));
}

#[tokio::test]
async fn lists_never_show_another_tenants_rows_whatever_the_filter_says() {
    let TwoTenants {
        app,
        a,
        b,
        a_project,
        ..
    } = two_tenants().await;
    let tok = &b.admin.token;
    // Lists never show A's rows, whatever the filter says.
    for path in [
        "/api/v1/projects?include=owner,task_counts".to_string(),
        "/api/v1/tasks".to_string(),
        format!("/api/v1/tasks?project_id={a_project}"),
        format!("/api/v1/projects?owner_id={}", a.admin.id),
    ] {
        let r = app.get(&path, tok).await;
        r.expect(200, None);
        for row in r.body["data"].as_array().expect("data") {
            assert_eq!(row["tenant_id"], b.id.to_string(), "{path}");
        }
    }
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM tasks WHERE tenant_id = '{}'",
            a.id
        )),
        1
    );
}
