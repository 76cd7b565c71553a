//! An empty `PATCH` (a body that changes no field), per resource, as docs/API.md §12
//! states it: `422` for projects, tasks and expenses (also with `version` alone), `200`
//! with the row unchanged for users and items, `200` for tenants.

use insta::assert_json_snapshot;
use serde_json::json;

use crate::harness::{Resp, TestApp};

/// Asserts the `422` of an empty change; the body is the same on every resource.
#[track_caller]
fn assert_no_change_refused(r: &Resp) {
    r.expect(422, Some("validation_failed"));
    // One snapshot asserted for several routes: insta refuses a repeated inline
    // snapshot unless told it is meant.
    insta::allow_duplicates! {
        assert_json_snapshot!(r.body, {".request_id" => "[request_id]"}, @r#"
        {
          "code": "validation_failed",
          "detail": "the request is not valid",
          "errors": [
            {
              "field": "body",
              "message": "must change at least one field"
            }
          ],
          "request_id": "[request_id]",
          "status": 422,
          "title": "Unprocessable Entity",
          "type": "about:blank"
        }
        "#);
    }
}

#[tokio::test]
async fn an_empty_patch_of_a_project_task_or_expense_is_422_and_changes_nothing() {
    let app = TestApp::new().await;
    let t = app.tenant("empty-patch").await;
    let tok = &t.admin.token;
    let project = app
        .post("/api/v1/projects", tok, json!({"name": "P"}))
        .await;
    project.expect(201, None);
    let task = app
        .post(
            &format!("/api/v1/projects/{}/tasks", project.id()),
            tok,
            json!({"title": "T"}),
        )
        .await;
    task.expect(201, None);
    let expense = app
        .post(
            "/api/v1/expenses",
            tok,
            json!({"category": "meals", "amount_cents": 100, "description": "lunch", "incurred_on": "2026-11-02"}),
        )
        .await;
    expense.expect(201, None);
    let audit_before = app.db.scalar("SELECT count(*) FROM audit_logs");

    let project_path = format!("/api/v1/projects/{}", project.id());
    assert_no_change_refused(&app.patch(&project_path, tok, json!({})).await);
    for (path, row) in [
        (format!("/api/v1/tasks/{}", task.id()), &task),
        (format!("/api/v1/expenses/{}", expense.id()), &expense),
    ] {
        assert_no_change_refused(&app.patch(&path, tok, json!({})).await);
        assert_no_change_refused(&app.patch(&path, tok, json!({"version": 1})).await);
        let now = app.get(&path, tok).await;
        assert_eq!(now.body, row.body, "{path} is unchanged");
    }
    assert_eq!(app.get(&project_path, tok).await.body, project.body);
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM audit_logs"),
        audit_before,
        "nothing audited"
    );
}

#[tokio::test]
async fn an_empty_patch_of_a_user_or_item_answers_the_row_unchanged() {
    let app = TestApp::new().await;
    let t = app.tenant("empty-patch-ok").await;
    let tok = &t.admin.token;
    let member = app.user(&t, "member").await;
    let item = app.post("/api/v1/items", tok, json!({"title": "I"})).await;
    item.expect(201, None);
    let user_path = format!("/api/v1/users/{}", member.id);
    let user = app.get(&user_path, tok).await;
    let audit_before = app.db.scalar("SELECT count(*) FROM audit_logs");

    let r = app.patch(&user_path, tok, json!({})).await;
    r.expect(200, None);
    assert_eq!(r.body, user.body);
    let item_path = format!("/api/v1/items/{}", item.id());
    let r = app.patch(&item_path, tok, json!({})).await;
    r.expect(200, None);
    assert_eq!(r.body, item.body);
    assert_eq!(
        app.db.scalar("SELECT count(*) FROM audit_logs"),
        audit_before,
        "nothing audited"
    );
}

#[tokio::test]
async fn an_empty_patch_of_a_tenant_answers_the_tenant_with_only_updated_at_moved() {
    let app = TestApp::new().await;
    let t = app.tenant("empty-patch-tenant").await;
    let path = format!("/api/v1/tenants/{}", t.id);
    let platform = app.platform_token();
    let before = app.get(&path, &platform).await;
    before.expect(200, None);
    let r = app.patch(&path, &platform, json!({})).await;
    r.expect(200, None);
    let (mut a, mut b) = (before.body.clone(), r.body.clone());
    for v in [&mut a, &mut b] {
        v.as_object_mut().expect("object").remove("updated_at");
    }
    assert_eq!(a, b);
}
