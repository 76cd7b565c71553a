//! `tenantry tenant isolate` on a real Citus cluster (Citus mode of `scripts/test-citus.sh`):
//! one tenant gets a shard of its own, then a move to another worker, while the API
//! keeps serving it and another tenant; neither tenant's rows change. On a single node
//! the command refuses with a clear message.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::harness::{TenantFixture, TestApp, TestDb, citus, citus_workers};
use crate::ops_support::{ok, populate_every_domain, stderr, tenant_fingerprint, tenantry};

/// Requests for `tenant` until `stop`: a read of every list and a write; returns every
/// status seen.
async fn traffic(
    app: Arc<TestApp>,
    tenant: crate::harness::TenantFixture,
    stop: Arc<AtomicBool>,
) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        for path in [
            "/api/v1/projects?include=owner,task_counts",
            "/api/v1/tasks",
            "/api/v1/users",
        ] {
            let r = app.get(path, &tenant.admin.token).await;
            seen.push((path.to_string(), r.status.as_u16()));
        }
        let r = app
            .post(
                "/api/v1/items",
                &tenant.admin.token,
                json!({"title": format!("during {i}")}),
            )
            .await;
        seen.push(("POST /api/v1/items".to_string(), r.status.as_u16()));
        i += 1;
    }
    seen
}

/// Asserts that `big`'s hash is alone in its shard, `other` elsewhere, and every
/// colocated table split with it; returns the shard.
fn assert_alone_in_its_shard(db: &TestDb, big: &TenantFixture, other: &TenantFixture) -> i64 {
    let shard = db.scalar(&format!(
        "SELECT get_shard_id_for_distribution_column('users', '{}')",
        big.id
    ));
    assert_eq!(
        db.scalar(&format!(
            "SELECT count(*) FROM pg_dist_shard WHERE shardid = {shard} AND shardminvalue = shardmaxvalue"
        )),
        1,
        "the tenant's hash alone in its shard"
    );
    assert_ne!(
        shard,
        db.scalar(&format!(
            "SELECT get_shard_id_for_distribution_column('users', '{}')",
            other.id
        )),
        "the other tenant is not in it"
    );
    // Every colocated table was split with it (CASCADE): one shard each, same range.
    assert!(
        db.scalar(&format!(
            "SELECT count(DISTINCT logicalrelid) FROM pg_dist_shard s
              WHERE shardminvalue = (SELECT shardminvalue FROM pg_dist_shard WHERE shardid = {shard})
                AND shardmaxvalue = shardminvalue"
        )) >= 9,
        "users, projects, tasks, budgets, expenses, items, audit_logs (+ partitions), tenant_metrics"
    );
    shard
}

/// Isolation holds across the move: `other`'s token reads none of `big`'s rows.
async fn assert_other_reads_none_of(app: &TestApp, big: &TenantFixture, other: &TenantFixture) {
    // moved tenant's rows.
    let theirs = app.get("/api/v1/items?limit=100", &other.admin.token).await;
    theirs.expect(200, None);
    let big_items = app.db.scalar(&format!(
        "SELECT count(*) FROM items WHERE tenant_id = '{}' AND id::text IN ({})",
        big.id,
        theirs.body["data"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| format!("'{}'", i["id"].as_str().unwrap_or_default()))
            .chain(std::iter::once("''".to_string()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    assert_eq!(big_items, 0, "{}", theirs.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_isolated_and_moved_tenant_keeps_working_and_others_never_notice() {
    crate::skip_on_citus_not!("tenant isolate needs a Citus cluster");
    // Splitting shards changes where every tenant of the shard lives: a database of its
    // own, so the other tests' tenants are not split under them.
    let app = Arc::new(TestApp::own().await);
    let big = app.tenant("big").await;
    let other = app.tenant("small").await;
    populate_every_domain(&app, &big).await;
    populate_every_domain(&app, &other).await;
    let items = |t: &crate::harness::TenantFixture| {
        app.db.scalar(&format!(
            "SELECT count(*) FROM items WHERE tenant_id = '{}'",
            t.id
        ))
    };

    // Isolate, under traffic for both tenants.
    let stop = Arc::new(AtomicBool::new(false));
    let load = [
        tokio::spawn(traffic(app.clone(), big.clone(), stop.clone())),
        tokio::spawn(traffic(app.clone(), other.clone(), stop.clone())),
    ];
    let url = app.db.url.clone();
    let code = big.code.clone();
    let out = tokio::task::spawn_blocking(move || tenantry(&url, &["tenant", "isolate", &code]))
        .await
        .expect("join");
    let printed = ok(&out);
    eprintln!("{printed}");
    assert!(
        printed.contains(&format!("isolated tenant {}", big.code)),
        "{printed}"
    );
    let shard = assert_alone_in_its_shard(&app.db, &big, &other);

    // Move it to the other worker, still under traffic.
    let node = |shard: i64| {
        app.db.scalar(&format!(
            "SELECT n.nodeport::bigint FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
              WHERE p.shardid = {shard}"
        ))
    };
    let from = node(shard);
    let to = citus_workers()
        .into_iter()
        .find(|w| !w.ends_with(&format!(":{from}")))
        .expect("another worker");
    let url = app.db.url.clone();
    let (code, target) = (big.code.clone(), to.clone());
    let out = tokio::task::spawn_blocking(move || {
        tenantry(&url, &["tenant", "isolate", &code, "--to-node", &target])
    })
    .await
    .expect("join");
    let printed = ok(&out);
    eprintln!("{printed}");
    assert!(printed.contains("has shard"), "isolated already: {printed}");
    assert!(printed.contains(&format!("to {to}")), "{printed}");
    assert!(to.ends_with(&format!(":{}", node(shard))), "now on {to}");

    stop.store(true, Ordering::Relaxed);
    for l in load {
        let seen = l.await.expect("traffic");
        assert!(!seen.is_empty());
        let failed: Vec<_> = seen
            .iter()
            .filter(|(_, s)| !(200..300).contains(s))
            .collect();
        assert!(
            failed.is_empty(),
            "requests failed during isolate/move: {failed:?}"
        );
    }

    // Nothing changed but what the traffic wrote, and both tenants work as before.
    for t in [&big, &other] {
        let before_items = items(t);
        let fingerprint = tenant_fingerprint(&app.db, t.id);
        app.post("/api/v1/items", &t.admin.token, json!({"title": "after"}))
            .await
            .expect(201, None);
        assert_eq!(items(t), before_items + 1);
        let projects = app
            .get("/api/v1/projects?include=owner,task_counts", &t.admin.token)
            .await;
        projects.expect(200, None);
        assert_eq!(projects.body["data"][0]["task_counts"]["total"], 3);
        assert_eq!(
            tenant_fingerprint(&app.db, t.id)["tasks"],
            fingerprint["tasks"],
            "tasks unchanged"
        );
    }
    assert_other_reads_none_of(&app, &big, &other).await;
}

#[test]
fn isolate_refuses_without_citus_and_for_a_bad_node() {
    if citus() {
        eprintln!("skipped on Citus: checks the single-node refusal");
        return;
    }
    let db = crate::harness::TestDb::new();
    let out = tenantry(&db.url, &["tenant", "isolate", "acme"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("needs a Citus coordinator"),
        "{}",
        stderr(&out)
    );
    let out = tenantry(
        &db.url,
        &["tenant", "isolate", "acme", "--to-node", "nowhere"],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("HOST:PORT"), "{}", stderr(&out));
}
