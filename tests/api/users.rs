//! Users: roles, deactivation, quota, last admin, duplicate emails (docs/API.md §4).

use serde_json::json;

use crate::harness::{PASSWORD, TestApp};

#[tokio::test]
async fn create_list_get_and_validate_users() {
    let app = TestApp::new().await;
    let t = app.tenant("users").await;
    let r = app
        .post(
            "/api/v1/users",
            &t.admin.token,
            json!({"email": "m@users.example", "username": "m", "password": PASSWORD}),
        )
        .await;
    r.expect(201, None);
    assert_eq!(r.body["role"], "member", "default role");
    assert_eq!(r.body["tenant_id"], t.id.to_string());
    assert!(r.body.get("password").is_none() && r.body.get("password_hash").is_none());
    assert_eq!(app.audit_count(t.id, "user.created"), 1);

    let list = app.get("/api/v1/users", &t.admin.token).await;
    list.expect(200, None);
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        list.body["data"][0]["email"], "m@users.example",
        "newest first"
    );
    let admins = app.get("/api/v1/users?role=admin", &t.admin.token).await;
    assert_eq!(admins.body["data"].as_array().map(Vec::len), Some(1));
    app.get("/api/v1/users?role=owner", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    app.get("/api/v1/users?is_active=maybe", &t.admin.token)
        .await
        .expect(400, Some("invalid_query"));

    // Validation names every bad field and creates nothing.
    let bad = app
        .post(
            "/api/v1/users",
            &t.admin.token,
            json!({"email": "nope", "username": "", "password": "short", "role": "owner"}),
        )
        .await;
    bad.expect(422, Some("validation_failed"));
    let bad = app
        .post(
            "/api/v1/users",
            &t.admin.token,
            json!({"email": "nope", "username": "", "password": "short"}),
        )
        .await;
    bad.expect(422, Some("validation_failed"));
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["email", "username", "password"]);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM users WHERE tenant_id = '{}'",
            t.id
        )),
        2
    );
}

#[tokio::test]
async fn members_and_viewers_cannot_manage_users() {
    let app = TestApp::new().await;
    let t = app.tenant("roles").await;
    let member = app.user(&t, "member").await;
    let viewer = app.user(&t, "viewer").await;
    for token in [&member.token, &viewer.token] {
        app.post(
            "/api/v1/users",
            token,
            json!({"email": "x@roles.example", "username": "x", "password": PASSWORD}),
        )
        .await
        .expect(403, Some("forbidden"));
        app.patch(
            &format!("/api/v1/users/{}", t.admin.id),
            token,
            json!({"username": "pwned"}),
        )
        .await
        .expect(403, Some("forbidden"));
        app.get("/api/v1/users", token).await.expect(200, None);
    }
    // A non-admin may change its own username and password, but not its role.
    app.patch(
        &format!("/api/v1/users/{}", member.id),
        &member.token,
        json!({"username": "renamed"}),
    )
    .await
    .expect(200, None);
    let r = app
        .patch(
            &format!("/api/v1/users/{}", member.id),
            &member.token,
            json!({"role": "admin"}),
        )
        .await;
    r.expect(422, Some("validation_failed"));
    assert_eq!(r.body["errors"][0]["field"], "role");
    app.patch(
        &format!("/api/v1/users/{}", member.id),
        &member.token,
        json!({"is_active": false}),
    )
    .await
    .expect(422, Some("validation_failed"));
    let me = app.get("/api/v1/users/me", &member.token).await;
    assert_eq!(me.body["role"], "member");
    assert_eq!(me.body["username"], "renamed");
}

#[tokio::test]
async fn deactivation_and_demotion_take_effect_at_once() {
    let app = TestApp::new().await;
    let t = app.tenant("effect").await;
    let second_admin = app.user(&t, "admin").await;
    let member = app.user(&t, "member").await;
    // Warm the principal cache for both tokens.
    app.get("/api/v1/users/me", &member.token)
        .await
        .expect(200, None);
    app.get("/api/v1/users", &second_admin.token)
        .await
        .expect(200, None);

    app.patch(
        &format!("/api/v1/users/{}", member.id),
        &t.admin.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200, None);
    app.get("/api/v1/users/me", &member.token)
        .await
        .expect(401, Some("unauthorized"));

    app.post(
        "/api/v1/users",
        &second_admin.token,
        json!({"email": "a@effect.example", "username": "a", "password": PASSWORD}),
    )
    .await
    .expect(201, None);
    app.patch(
        &format!("/api/v1/users/{}", second_admin.id),
        &t.admin.token,
        json!({"role": "member"}),
    )
    .await
    .expect(200, None);
    app.post(
        "/api/v1/users",
        &second_admin.token,
        json!({"email": "b@effect.example", "username": "b", "password": PASSWORD}),
    )
    .await
    .expect(403, Some("forbidden"));
    assert_eq!(app.audit_count(t.id, "user.updated"), 2);
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    let app = TestApp::new().await;
    let t = app.tenant("last").await;
    let path = format!("/api/v1/users/{}", t.admin.id);
    app.patch(&path, &t.admin.token, json!({"role": "member"}))
        .await
        .expect(422, Some("last_admin"));
    app.patch(&path, &t.admin.token, json!({"is_active": false}))
        .await
        .expect(422, Some("last_admin"));
    assert_eq!(
        app.audit_count(t.id, "user.updated"),
        0,
        "failed changes write no audit row"
    );
    // With a second admin, one may go.
    let other = app.user(&t, "admin").await;
    app.patch(&path, &t.admin.token, json!({"role": "viewer"}))
        .await
        .expect(200, None);
    app.patch(
        &format!("/api/v1/users/{}", other.id),
        &other.token,
        json!({"is_active": false}),
    )
    .await
    .expect(422, Some("last_admin"));
}

#[tokio::test]
async fn two_admins_demoting_each_other_at_once_leave_one_admin() {
    let app = TestApp::new().await;
    for round in 0..5 {
        let t = app.tenant(&format!("race-{round}")).await;
        let b = app.user(&t, "admin").await;
        let (path_b, path_a) = (
            format!("/api/v1/users/{}", b.id),
            format!("/api/v1/users/{}", t.admin.id),
        );
        let a_demotes_b = app.patch(&path_b, &t.admin.token, json!({"role": "member"}));
        let b_demotes_a = app.patch(&path_a, &b.token, json!({"role": "member"}));
        let (r1, r2) = tokio::join!(a_demotes_b, b_demotes_a);
        let mut statuses = [r1.status.as_u16(), r2.status.as_u16()];
        statuses.sort();
        // One wins; the other either finds no admin left (422) or has itself just lost the
        // admin role (403): never both succeed.
        assert!(
            statuses == [200, 403] || statuses == [200, 422],
            "{statuses:?}"
        );
        assert_eq!(
            app.db.scalar(&format!(
                "SELECT count(*) FROM users WHERE tenant_id = '{}' AND role = 'admin' AND is_active",
                t.id
            )),
            1
        );
    }
}

#[tokio::test]
async fn user_quota_counts_active_users() {
    let app = TestApp::new().await;
    let t = app.tenant_with("quota", json!({"max_users": 2})).await;
    let m = app.user(&t, "member").await;
    let r = app
        .post(
            "/api/v1/users",
            &t.admin.token,
            json!({"email": "third@quota.example", "username": "t", "password": PASSWORD}),
        )
        .await;
    r.expect(422, Some("quota_exceeded"));
    // Deactivating one frees a seat; reactivating it when full is refused.
    app.patch(
        &format!("/api/v1/users/{}", m.id),
        &t.admin.token,
        json!({"is_active": false}),
    )
    .await
    .expect(200, None);
    app.post(
        "/api/v1/users",
        &t.admin.token,
        json!({"email": "third@quota.example", "username": "t", "password": PASSWORD}),
    )
    .await
    .expect(201, None);
    app.patch(
        &format!("/api/v1/users/{}", m.id),
        &t.admin.token,
        json!({"is_active": true}),
    )
    .await
    .expect(422, Some("quota_exceeded"));
}

#[tokio::test]
async fn concurrent_creates_never_exceed_the_quota() {
    let app = TestApp::new().await;
    let t = app.tenant_with("quota-race", json!({"max_users": 4})).await;
    let mut calls = Vec::new();
    for i in 0..8 {
        calls.push(app.post(
            "/api/v1/users",
            &t.admin.token,
            json!({"email": format!("u{i}@quota-race.example"), "username": "u", "password": PASSWORD}),
        ));
    }
    let results = futures_util::future::join_all(calls).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    let refused = results
        .iter()
        .filter(|r| r.code() == "quota_exceeded")
        .count();
    assert_eq!((created, refused), (3, 5));
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM users WHERE tenant_id = '{}'",
            t.id
        )),
        4
    );
}

#[tokio::test]
async fn email_is_unique_per_tenant_in_any_letter_case() {
    let app = TestApp::new().await;
    let a = app.tenant("dup-a").await;
    let b = app.tenant("dup-b").await;
    let body = |email: &str| json!({"email": email, "username": "d", "password": PASSWORD});
    app.post("/api/v1/users", &a.admin.token, body("Dup@Example.com"))
        .await
        .expect(201, None);
    let r = app
        .post("/api/v1/users", &a.admin.token, body("dup@example.COM"))
        .await;
    r.expect(409, Some("already_exists"));
    assert_eq!(r.body["errors"][0]["field"], "email");
    assert!(
        !r.text.contains("users_tenant_email_key"),
        "no constraint names leak"
    );
    app.post("/api/v1/users", &b.admin.token, body("dup@example.com"))
        .await
        .expect(201, None);
}
