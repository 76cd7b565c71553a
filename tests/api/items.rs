//! Items and full-text search (docs/API.md §7).

use axum::http::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Resp, TenantFixture, TestApp, UserFixture};

async fn create(app: &TestApp, token: &str, title: &str, description: Option<&str>) -> Resp {
    let r = app
        .post(
            "/api/v1/items",
            token,
            json!({"title": title, "description": description}),
        )
        .await;
    r.expect(201, None);
    r
}

fn titles(r: &Resp) -> Vec<String> {
    r.body["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|i| i["title"].as_str().expect("title").to_string())
        .collect()
}

async fn search(app: &TestApp, token: &str, q: &str) -> Vec<String> {
    let r = app
        .get(
            &format!(
                "/api/v1/items?limit=100&q={}",
                form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
            ),
            token,
        )
        .await;
    r.expect(200, None);
    titles(&r)
}

/// A tenant with an item owned by a member, another member and a viewer.
struct ItemRoles {
    app: TestApp,
    t: TenantFixture,
    owner: UserFixture,
    other: UserFixture,
    viewer: UserFixture,
    id: Uuid,
    path: String,
}

async fn item_roles() -> ItemRoles {
    let app = TestApp::new().await;
    let t = app.tenant("items-crud").await;
    let owner = app.user(&t, "member").await;
    let other = app.user(&t, "member").await;
    let viewer = app.user(&t, "viewer").await;
    let r = create(&app, &owner.token, "First item", Some("some words")).await;
    let id = r.id();
    assert_eq!(r.body["owner_id"], owner.id.to_string());
    assert_eq!(r.body["description"], "some words");
    assert!(r.body.get("tenant_id").is_none() && r.body.get("search").is_none());
    ItemRoles {
        path: format!("/api/v1/items/{id}"),
        app,
        t,
        owner,
        other,
        viewer,
        id,
    }
}

#[tokio::test]
async fn viewers_and_other_members_read_an_item_but_cannot_change_it() {
    let ItemRoles {
        app,
        other,
        viewer,
        path,
        ..
    } = item_roles().await;
    // Viewers read, but cannot write.
    app.get(&path, &viewer.token).await.expect(200, None);
    app.post("/api/v1/items", &viewer.token, json!({"title": "x"}))
        .await
        .expect(403, Some("forbidden"));
    app.patch(&path, &viewer.token, json!({"title": "x"}))
        .await
        .expect(403, Some("forbidden"));
    app.delete(&path, &viewer.token)
        .await
        .expect(403, Some("forbidden"));
    // Another member sees the item but may not change it.
    app.get(&path, &other.token).await.expect(200, None);
    app.patch(&path, &other.token, json!({"title": "mine now"}))
        .await
        .expect(403, Some("forbidden"));
    app.delete(&path, &other.token)
        .await
        .expect(403, Some("forbidden"));
}

#[tokio::test]
async fn the_owner_and_an_admin_change_an_item_and_the_owner_stays() {
    let ItemRoles {
        app,
        t,
        owner,
        other,
        path,
        ..
    } = item_roles().await;
    // The owner and an admin may.
    let r = app
        .patch(&path, &owner.token, json!({"title": "Renamed"}))
        .await;
    r.expect(200, None);
    assert_eq!(r.body["title"], "Renamed");
    assert_eq!(r.body["description"], "some words", "untouched");
    assert_ne!(r.body["updated_at"], r.body["created_at"]);
    let r = app
        .patch(&path, &t.admin.token, json!({"description": null}))
        .await;
    r.expect(200, None);
    assert!(r.body["description"].is_null(), "null clears");
    assert_eq!(r.body["owner_id"], owner.id.to_string(), "owner kept");

    // The owner is the caller: a body cannot name one, nor change it.
    let r = app
        .post(
            "/api/v1/items",
            &owner.token,
            json!({"title": "x", "owner_id": other.id}),
        )
        .await;
    r.expect(422, Some("validation_failed"));
    assert_eq!(r.body["errors"][0]["field"], "owner_id");
    app.patch(&path, &t.admin.token, json!({"owner_id": other.id}))
        .await
        .expect(422, Some("validation_failed"));
    assert_eq!(app.audit_count(t.id, "item.updated"), 2);
}

#[tokio::test]
async fn item_fields_keep_their_bounds() {
    let ItemRoles {
        app, owner, path, ..
    } = item_roles().await;
    // Field rules.
    for (body, field) in [
        (json!({"title": "  "}), "title"),
        (json!({"title": "x".repeat(256)}), "title"),
        (
            json!({"title": "ok", "description": "d".repeat(10_001)}),
            "description",
        ),
        (json!({"description": "no title"}), "title"),
        (json!({"title": null}), "title"),
    ] {
        let r = app.post("/api/v1/items", &owner.token, body).await;
        r.expect(422, Some("validation_failed"));
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.text);
    }
    app.patch(&path, &owner.token, json!({"title": null}))
        .await
        .expect(422, Some("validation_failed"));
    create(
        &app,
        &owner.token,
        &"é".repeat(255),
        Some(&"d".repeat(10_000)),
    )
    .await;
}

#[tokio::test]
async fn the_owner_deletes_an_item_once_and_the_deletion_is_audited() {
    let ItemRoles {
        app,
        t,
        owner,
        id,
        path,
        ..
    } = item_roles().await;
    app.delete(&path, &owner.token).await.expect(204, None);
    app.get(&path, &owner.token)
        .await
        .expect(404, Some("not_found"));
    app.delete(&path, &owner.token)
        .await
        .expect(404, Some("not_found"));

    assert_eq!(app.audit_count(t.id, "item.created"), 1);
    assert_eq!(app.audit_count(t.id, "item.deleted"), 1);
    let by = app.db.scalar(&format!(
        "SELECT count(*) FROM audit_logs WHERE action = 'item.deleted' AND user_id = '{}' \
         AND resource_id = '{id}' AND resource_type = 'item'",
        owner.id
    ));
    assert_eq!(by, 1);
}

#[tokio::test]
async fn another_tenants_item_is_the_same_404_as_a_random_id() {
    let app = TestApp::new().await;
    let a = app.tenant("items-iso-a").await;
    let b = app.tenant("items-iso-b").await;
    let id = create(&app, &a.admin.token, "Secret plan", Some("of tenant a"))
        .await
        .id();
    let random = Uuid::now_v7();
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"title": "stolen"}))),
        (Method::DELETE, None),
    ] {
        let theirs = app
            .call(
                method.clone(),
                &format!("/api/v1/items/{id}"),
                Some(&b.admin.token),
                body.clone(),
            )
            .await;
        let nobody = app
            .call(
                method.clone(),
                &format!("/api/v1/items/{random}"),
                Some(&b.admin.token),
                body,
            )
            .await;
        theirs.expect(404, Some("not_found"));
        nobody.expect(404, Some("not_found"));
        assert_eq!(
            theirs.body_without_request_id(),
            nobody.body_without_request_id(),
            "{method}"
        );
        assert!(!theirs.text.contains(&id.to_string()));
    }
    let still = app
        .get(&format!("/api/v1/items/{id}"), &a.admin.token)
        .await;
    still.expect(200, None);
    assert_eq!(still.body["title"], "Secret plan");
    // Lists never show the other tenant's rows.
    let list = app.get("/api/v1/items", &b.admin.token).await;
    list.expect(200, None);
    assert!(titles(&list).is_empty());
    assert_eq!(app.audit_count(b.id, "item.updated"), 0);
    assert_eq!(app.audit_count(b.id, "item.deleted"), 0);
}

#[tokio::test]
async fn owner_filter_and_newest_first_pagination() {
    let app = TestApp::new().await;
    let a = app.tenant("items-own-a").await;
    let b = app.tenant("items-own-b").await;
    let m = app.user(&a, "member").await;
    for i in 0..5 {
        create(&app, &m.token, &format!("m{i}"), None).await;
    }
    for i in 0..2 {
        create(&app, &a.admin.token, &format!("a{i}"), None).await;
    }
    create(&app, &b.admin.token, "b0", None).await;

    let mine = app
        .get(&format!("/api/v1/items?owner_id={}", m.id), &a.admin.token)
        .await;
    mine.expect(200, None);
    assert_eq!(titles(&mine), ["m4", "m3", "m2", "m1", "m0"]);
    // Another tenant's user owns nothing here, with or without a search.
    for q in ["", "&q=b0"] {
        let r = app
            .get(
                &format!("/api/v1/items?owner_id={}{q}", b.admin.id),
                &a.admin.token,
            )
            .await;
        r.expect(200, None);
        assert!(titles(&r).is_empty(), "{q}");
    }
    app.get("/api/v1/items?owner_id=nope", &a.admin.token)
        .await
        .expect(400, Some("invalid_query"));

    // Walk newest first, two at a time.
    let mut seen = Vec::new();
    let mut url = "/api/v1/items?limit=2".to_string();
    loop {
        let r = app.get(&url, &a.admin.token).await;
        r.expect(200, None);
        seen.extend(titles(&r));
        match r.body["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/items?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["a1", "a0", "m4", "m3", "m2", "m1", "m0"]);
    app.get("/api/v1/items?cursor=garbage", &a.admin.token)
        .await
        .expect(400, Some("invalid_cursor"));
    app.get("/api/v1/items?limit=0", &a.admin.token)
        .await
        .expect(422, Some("validation_failed"));
}

#[tokio::test]
async fn the_items_feature_gates_every_route() {
    let app = TestApp::new().await;
    let t = app.tenant("items-off").await;
    let id = create(&app, &t.admin.token, "before", None).await.id();
    app.patch(
        &format!("/api/v1/tenants/{}", t.id),
        &app.platform_token(),
        json!({"features_enabled": {"items": false}}),
    )
    .await
    .expect(200, None);
    let viewer = app.user(&t, "viewer").await;
    let path = format!("/api/v1/items/{id}");
    for token in [&t.admin.token, &viewer.token] {
        for (method, url, body) in [
            (Method::GET, "/api/v1/items".to_string(), None),
            (Method::GET, "/api/v1/items?q=before".to_string(), None),
            (
                Method::POST,
                "/api/v1/items".to_string(),
                Some(json!({"title": "x"})),
            ),
            (Method::GET, path.clone(), None),
            (Method::PATCH, path.clone(), Some(json!({"title": "x"}))),
            (Method::DELETE, path.clone(), None),
        ] {
            app.call(method, &url, Some(token), body)
                .await
                .expect(403, Some("feature_disabled"));
        }
    }
    assert_eq!(
        app.db
            .scalar("SELECT count(*) FROM items WHERE title = 'before'"),
        1
    );
    assert_eq!(app.audit_count(t.id, "item.deleted"), 0);
}

#[tokio::test]
async fn search_stems_ranks_and_speaks_web_search_syntax() {
    let app = TestApp::new().await;
    let a = app.tenant("search-a").await;
    let b = app.tenant("search-b").await;
    let tok = &a.admin.token;
    create(&app, tok, "Running shoes", Some("light and fast")).await;
    create(
        &app,
        tok,
        "Garden hose",
        Some("for running water in summer"),
    )
    .await;
    create(&app, tok, "Kitchen sink", Some("stainless steel")).await;
    create(
        &app,
        tok,
        "Quick brown fox",
        Some("jumps over the lazy dog"),
    )
    .await;
    create(&app, tok, "Brown bread", Some("quick to bake, fox-free")).await;
    create(&app, &b.admin.token, "Zanzibarian spices", None).await;

    // Stemming: "run" finds "running"; the title match outranks the description match,
    // although the description match is newer.
    assert_eq!(
        search(&app, tok, "run").await,
        ["Running shoes", "Garden hose"]
    );
    assert_eq!(search(&app, tok, "RUNS").await.len(), 2);
    // A quoted phrase needs the words adjacent and in order.
    assert_eq!(
        search(&app, tok, "\"quick brown\"").await,
        ["Quick brown fox"]
    );
    let either: Vec<String> = search(&app, tok, "quick brown").await;
    assert_eq!(either.len(), 2);
    // -word excludes.
    assert_eq!(search(&app, tok, "brown -lazy").await, ["Brown bread"]);
    assert_eq!(
        search(&app, tok, "sink or hose").await,
        ["Kitchen sink", "Garden hose"],
        "equal ranks: newest first"
    );
    // No searchable words: an empty list, never an error.
    for q in [
        "the",
        "the and of",
        "",
        "   ",
        "-",
        "\"\"",
        "or",
        "!&|():*",
        "'",
    ] {
        assert!(search(&app, tok, q).await.is_empty(), "{q:?}");
    }
    assert!(search(&app, tok, "nothingmatchesthis").await.is_empty());
    // Tenant A's words are never found by tenant B, nor B's by A.
    assert!(search(&app, &b.admin.token, "running").await.is_empty());
    assert!(search(&app, tok, "zanzibarian").await.is_empty());
    assert_eq!(
        search(&app, &b.admin.token, "spice").await,
        ["Zanzibarian spices"]
    );
    // Searches update with the row.
    let id = create(&app, tok, "Old name", None).await.id();
    app.patch(
        &format!("/api/v1/items/{id}"),
        tok,
        json!({"description": "now about telescopes"}),
    )
    .await
    .expect(200, None);
    assert_eq!(search(&app, tok, "telescope").await, ["Old name"]);
    // U+0000 cannot be searched for.
    app.get("/api/v1/items?q=a%00b", tok)
        .await
        .expect(400, Some("invalid_query"));
}

#[tokio::test]
async fn search_pages_walk_every_match_once_in_rank_order() {
    let app = TestApp::new().await;
    let t = app.tenant("search-pages").await;
    let tok = &t.admin.token;
    let mut expected = Vec::new();
    // Three rank tiers with ties inside each: ties come newest first.
    for i in 0..4 {
        create(&app, tok, &format!("other {i}"), Some("a widget inside")).await;
    }
    for i in 0..3 {
        create(&app, tok, &format!("widget {i}"), None).await;
    }
    for i in 0..3 {
        create(&app, tok, &format!("widget widget {i}"), None).await;
    }
    create(&app, tok, "unrelated", None).await;
    for i in (0..3).rev() {
        expected.push(format!("widget widget {i}"));
    }
    for i in (0..3).rev() {
        expected.push(format!("widget {i}"));
    }
    for i in (0..4).rev() {
        expected.push(format!("other {i}"));
    }

    let mut seen: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let url = match &cursor {
            Some(c) => format!("/api/v1/items?q=widgets&limit=3&cursor={c}"),
            None => "/api/v1/items?q=widgets&limit=3".to_string(),
        };
        let r = app.get(&url, tok).await;
        r.expect(200, None);
        seen.extend(titles(&r));
        pages += 1;
        cursor = r.body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
        // A cursor belongs to its query.
        let other = app
            .get(
                &format!(
                    "/api/v1/items?q=other&cursor={}",
                    cursor.as_deref().unwrap_or("")
                ),
                tok,
            )
            .await;
        other.expect(400, Some("invalid_cursor"));
        let plain = app
            .get(
                &format!("/api/v1/items?cursor={}", cursor.as_deref().unwrap_or("")),
                tok,
            )
            .await;
        plain.expect(400, Some("invalid_cursor"));
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, expected);
    let first: Value = app.get("/api/v1/items?q=widgets&limit=100", tok).await.body;
    assert_eq!(first["data"].as_array().map(Vec::len), Some(10));
    assert!(first["next_cursor"].is_null());
}

#[tokio::test]
async fn concurrent_changes_never_fail_and_one_delete_wins() {
    let app = TestApp::new().await;
    let t = app.tenant("items-race").await;
    let owner = app.user(&t, "member").await;
    let id = create(&app, &owner.token, "contended", None).await.id();
    let path = format!("/api/v1/items/{id}");
    let patches = futures_util::future::join_all((0..8).map(|i| {
        let token = if i % 2 == 0 {
            &owner.token
        } else {
            &t.admin.token
        };
        app.patch(&path, token, json!({"title": format!("t{i}")}))
    }))
    .await;
    for r in &patches {
        r.expect(200, None);
    }
    let last = app.get(&path, &owner.token).await;
    assert!(
        last.body["title"]
            .as_str()
            .is_some_and(|s| s.starts_with('t'))
    );
    assert_eq!(
        app.audit_count(t.id, "item.updated"),
        8,
        "one row per change"
    );

    let deletes = futures_util::future::join_all((0..6).map(|i| {
        let token = if i % 2 == 0 {
            &owner.token
        } else {
            &t.admin.token
        };
        app.delete(&path, token)
    }))
    .await;
    let won = deletes.iter().filter(|r| r.status == 204).count();
    assert_eq!(won, 1, "exactly one delete wins");
    for r in deletes.iter().filter(|r| r.status != 204) {
        r.expect(404, Some("not_found"));
    }
    assert_eq!(app.audit_count(t.id, "item.deleted"), 1);
}
