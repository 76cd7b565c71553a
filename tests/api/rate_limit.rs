//! Per-tenant rate limiting (docs/API.md §10): one tenant at its limit gets `429` with
//! `Retry-After`, while another tenant's requests at the same moment go through.

use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::harness::{Resp, TestApp};

#[tokio::test]
async fn a_tenant_over_its_budget_is_limited_and_others_are_not() {
    let app = TestApp::with_env(&[("RATE_LIMIT_RPS", "1"), ("RATE_LIMIT_BURST", "2")]).await;
    // Tenants are made with platform tokens, which spend no tenant's budget.
    let a = app.tenant("rl-a").await;
    let b = app.tenant("rl-b").await;

    let started = Instant::now();
    let a_calls = join_all((0..5).map(|_| app.get("/api/v1/users/me", &a.admin.token)));
    let b_calls = join_all((0..2).map(|_| app.get("/api/v1/users/me", &b.admin.token)));
    let (a_res, b_res): (Vec<Resp>, Vec<Resp>) = tokio::join!(a_calls, b_calls);
    let elapsed = started.elapsed();

    for r in &b_res {
        r.expect(200, None);
    }
    let ok = a_res.iter().filter(|r| r.status == 200).count();
    let limited: Vec<&Resp> = a_res.iter().filter(|r| r.status == 429).collect();
    assert_eq!(ok + limited.len(), 5, "only 200 or 429");
    // A burst of 2, plus one more per second that passed while the requests ran.
    assert!(ok >= 2, "the burst is allowed");
    assert!(
        ok as u64 <= 2 + elapsed.as_secs(),
        "{ok} passed in {elapsed:?}"
    );
    assert!(!limited.is_empty());
    let retry_after: u64 = limited[0]
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("whole seconds");
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    for r in &limited {
        r.expect(429, Some("rate_limited"));
    }

    // A limit, not a ban: A gets through again once the wait is over.
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    app.get("/api/v1/users/me", &a.admin.token)
        .await
        .expect(200, None);
}
