//! Tenants (platform admin), feature flags and tenant deletion (docs/API.md §3).

use serde_json::json;

use crate::harness::{TestApp, tenant_code};

/// Creates a tenant without an admin through the platform API; returns its id.
async fn create(app: &TestApp, p: &str, name: &str, code: &str) -> uuid::Uuid {
    let r = app
        .post("/api/v1/tenants", p, json!({"name": name, "code": code}))
        .await;
    r.expect(201, None);
    r.id()
}

#[tokio::test]
async fn a_tenant_is_created_with_the_defaults_and_a_taken_code_is_409() {
    let app = TestApp::new().await;
    let p = app.platform_token();
    let plain = tenant_code("plain");
    let r = app
        .post(
            "/api/v1/tenants",
            &p,
            json!({"name": "Plain", "code": plain}),
        )
        .await;
    r.expect(201, None);
    assert_eq!(r.body["status"], "active");
    assert_eq!(r.body["max_users"], 100);
    assert_eq!(r.body["max_storage_gb"], 10);
    assert_eq!(
        r.body["features_enabled"],
        json!({"expenses": true, "items": true})
    );
    assert!(r.body.get("admin_user").is_none());
    let got = app.get(&format!("/api/v1/tenants/{}", r.id()), &p).await;
    got.expect(200, None);
    assert_eq!(got.body["code"], plain.as_str());

    app.post(
        "/api/v1/tenants",
        &p,
        json!({"name": "Again", "code": plain}),
    )
    .await
    .expect(409, Some("already_exists"));
}

#[tokio::test]
async fn invalid_tenant_bodies_are_422_and_create_nothing() {
    let app = TestApp::new().await;
    let p = app.platform_token();
    let plain = tenant_code("plain");
    create(&app, &p, "Plain", &plain).await;
    for bad in [
        json!({"name": "", "code": "ok"}),
        json!({"name": "x", "code": "Bad_Code"}),
        json!({"name": "x", "code": "-lead"}),
        json!({"name": "x", "code": "ok", "max_users": 0}),
        json!({"name": "x", "code": "ok", "features_enabled": {"teleport": true}}),
        json!({"name": "x", "code": "ok", "features_enabled": {"items": "yes"}}),
        json!({"name": "x", "code": "ok", "admin": {"email": "bad", "username": "a", "password": "long enough pw"}}),
        json!({"name": "x", "code": "ok", "id": "01a20c06-7de6-724a-8a73-79d00707ce6f"}),
    ] {
        app.post("/api/v1/tenants", &p, bad.clone())
            .await
            .expect(422, Some("validation_failed"));
    }
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM tenants WHERE code IN ('{plain}', 'ok', 'Bad_Code', '-lead')"
        )),
        1,
        "nothing half-created"
    );
}

#[tokio::test]
async fn a_tenant_patch_renames_merges_flags_and_refuses_bad_values() {
    let app = TestApp::new().await;
    let p = app.platform_token();
    let id = create(&app, &p, "Plain", &tenant_code("plain")).await;
    let patched = app
        .patch(
            &format!("/api/v1/tenants/{id}"),
            &p,
            json!({"name": "Renamed", "features_enabled": {"items": false}}),
        )
        .await;
    patched.expect(200, None);
    assert_eq!(patched.body["name"], "Renamed");
    assert_eq!(
        patched.body["features_enabled"],
        json!({"expenses": true, "items": false}),
        "flags merge"
    );
    app.patch(
        &format!("/api/v1/tenants/{id}"),
        &p,
        json!({"status": "frozen"}),
    )
    .await
    .expect(422, Some("validation_failed"));
    app.patch(&format!("/api/v1/tenants/{id}"), &p, json!({"name": null}))
        .await
        .expect(422, Some("validation_failed"));
}

#[tokio::test]
async fn tenants_list_by_status_and_newest_first_in_pages() {
    crate::skip_on_citus!("listing exactly this test's tenants needs a database of its own");
    let app = TestApp::new().await;
    let p = app.platform_token();
    let id = create(&app, &p, "Plain", "plain").await;
    create(&app, &p, "Second", "second").await;
    app.patch(
        &format!("/api/v1/tenants/{id}"),
        &p,
        json!({"status": "suspended"}),
    )
    .await
    .expect(200, None);
    let list = app.get("/api/v1/tenants?status=suspended", &p).await;
    list.expect(200, None);
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(list.body["data"][0]["id"], id.to_string());
    let all = app.get("/api/v1/tenants?limit=1", &p).await;
    assert_eq!(all.body["data"][0]["code"], "second", "newest first");
    let cursor = all.body["next_cursor"].as_str().expect("cursor");
    let next = app
        .get(&format!("/api/v1/tenants?limit=1&cursor={cursor}"), &p)
        .await;
    assert_eq!(next.body["data"][0]["code"], "plain");
    assert!(next.body["next_cursor"].is_null());
}

#[tokio::test]
async fn a_deleted_tenant_is_404_and_platform_changes_are_not_audited() {
    let app = TestApp::new().await;
    let p = app.platform_token();
    let id = create(&app, &p, "Plain", &tenant_code("plain")).await;
    app.patch(
        &format!("/api/v1/tenants/{id}"),
        &p,
        json!({"name": "Renamed"}),
    )
    .await
    .expect(200, None);
    app.delete(&format!("/api/v1/tenants/{id}"), &p)
        .await
        .expect(204, None);
    app.get(&format!("/api/v1/tenants/{id}"), &p)
        .await
        .expect(404, Some("not_found"));
    app.delete(&format!("/api/v1/tenants/{id}"), &p)
        .await
        .expect(404, Some("not_found"));
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM audit_logs WHERE tenant_id = '{id}'"
        )),
        0,
        "platform changes are not in tenant audit logs"
    );
}

#[tokio::test]
async fn tenant_with_an_invalid_admin_is_not_created_at_all() {
    let app = TestApp::new().await;
    let p = app.platform_token();
    // The admin's password is too short: validation happens before anything is written.
    let atomic = tenant_code("atomic");
    let r = app
        .post("/api/v1/tenants", &p, json!({"name": "A", "code": atomic, "admin": {"email": "a@b.co", "username": "a", "password": "short"}}))
        .await;
    r.expect(422, Some("validation_failed"));
    assert_eq!(r.body["errors"][0]["field"], "admin.password");
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM tenants WHERE code = '{atomic}'"
        )),
        0
    );
}

#[tokio::test]
async fn own_tenant_is_readable_by_every_role() {
    let app = TestApp::new().await;
    let t = app.tenant("mine").await;
    let viewer = app.user(&t, "viewer").await;
    let r = app.get("/api/v1/tenant", &viewer.token).await;
    r.expect(200, None);
    assert_eq!(r.body["id"], t.id.to_string());
}

#[tokio::test]
async fn deleting_a_tenant_removes_all_its_rows_and_nothing_else() {
    let app = TestApp::new().await;
    let a = app.tenant("del-a").await;
    let b = app.tenant("del-b").await;
    // Through the API, so each tenant also has the users' audit rows.
    for t in [&a, &b] {
        app.user_via_api(t, "member").await;
        app.user_via_api(t, "viewer").await;
    }
    let count_b = |app: &TestApp| {
        (
            app.db.scalar(&format!(
                "SELECT count(*) FROM users WHERE tenant_id = '{}'",
                b.id
            )),
            app.db.scalar(&format!(
                "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}'",
                b.id
            )),
        )
    };
    let before_b = count_b(&app);
    assert!(before_b.0 == 3 && before_b.1 >= 2);
    app.delete(&format!("/api/v1/tenants/{}", a.id), &app.platform_token())
        .await
        .expect(204, None);
    for table in tenantry::repos::tenants::TENANT_TABLES {
        assert_eq!(
            app.db.scalar(&format!(
                "SELECT count(*) FROM {table} WHERE tenant_id = '{}'",
                a.id
            )),
            0,
            "{table} still has rows of the deleted tenant"
        );
    }
    assert_eq!(count_b(&app), before_b, "the other tenant is untouched");
    // The deleted tenant's tokens stop working.
    app.get("/api/v1/users/me", &a.admin.token)
        .await
        .expect(401, Some("unauthorized"));
}
