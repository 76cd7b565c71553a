//! Expenses, budgets, the approval workflow, the approval race and reports (docs/API.md §6).

use serde_json::{Value, json};
use uuid::Uuid;

use crate::harness::{Resp, TenantFixture, TestApp, UserFixture};

/// This month and a past day in it (expenses may not be in the future).
fn this_month() -> (String, String) {
    let today = chrono::Utc::now().date_naive();
    (
        today.format("%Y-%m").to_string(),
        today.format("%Y-%m-01").to_string(),
    )
}

async fn budget(
    app: &TestApp,
    t: &TenantFixture,
    category: &str,
    period: &str,
    amount: i64,
) -> Resp {
    app.post(
        "/api/v1/budgets",
        &t.admin.token,
        json!({"category": category, "period": period, "amount_cents": amount}),
    )
    .await
}

async fn expense(app: &TestApp, who: &UserFixture, category: &str, amount: i64, day: &str) -> Resp {
    app.post(
        "/api/v1/expenses",
        &who.token,
        json!({"category": category, "amount_cents": amount, "description": "taxi", "incurred_on": day}),
    )
    .await
}

async fn act(app: &TestApp, token: &str, id: Uuid, action: &str, body: Value) -> Resp {
    app.post(&format!("/api/v1/expenses/{id}/{action}"), token, body)
        .await
}

/// A submitted expense of `who`, at version 2.
async fn submitted(
    app: &TestApp,
    who: &UserFixture,
    category: &str,
    amount: i64,
    day: &str,
) -> Uuid {
    let id = expense(app, who, category, amount, day).await.id();
    act(app, &who.token, id, "submit", json!({"version": 1}))
        .await
        .expect(200, None);
    id
}

#[tokio::test]
async fn the_whole_flow() {
    let app = TestApp::new().await;
    let t = app.tenant("flow").await;
    let m = app.user(&t, "member").await;
    let (period, day) = this_month();
    let b = budget(&app, &t, "travel", &period, 50_000).await;
    b.expect(201, None);
    assert_eq!(b.body["period"], period);
    assert_eq!(
        (
            b.body["spent_cents"].as_i64(),
            b.body["remaining_cents"].as_i64()
        ),
        (Some(0), Some(50_000))
    );

    let e = expense(&app, &m, "travel", 12_000, &day).await;
    e.expect(201, None);
    assert_eq!(e.body["status"], "draft");
    assert_eq!(e.body["currency"], "USD");
    assert_eq!(e.body["submitter_id"], m.id.to_string());
    let id = e.id();
    let s = act(&app, &m.token, id, "submit", json!({"version": 1})).await;
    s.expect(200, None);
    assert_eq!(
        (s.body["status"].as_str(), s.body["version"].as_i64()),
        (Some("submitted"), Some(2))
    );
    let r = act(
        &app,
        &t.admin.token,
        id,
        "reject",
        json!({"version": 2, "reason": "receipt missing"}),
    )
    .await;
    r.expect(200, None);
    assert_eq!(r.body["status"], "rejected");
    assert_eq!(r.body["rejection_reason"], "receipt missing");
    assert_eq!(r.body["approver_id"], t.admin.id.to_string());
    // A rejected expense can be edited and submitted again.
    let edited = app
        .patch(
            &format!("/api/v1/expenses/{id}"),
            &m.token,
            json!({"version": 3, "amount_cents": 11_000}),
        )
        .await;
    edited.expect(200, None);
    act(&app, &m.token, id, "submit", json!({"version": 4}))
        .await
        .expect(200, None);
    let a = act(&app, &t.admin.token, id, "approve", json!({"version": 5})).await;
    a.expect(200, None);
    assert_eq!(a.body["status"], "approved");
    assert_eq!(a.body["approver_id"], t.admin.id.to_string());
    assert!(a.body["decided_at"].is_string());
    assert!(a.body["rejection_reason"].is_null());
    let b = app
        .get(&format!("/api/v1/budgets/{}", b.id()), &t.admin.token)
        .await;
    assert_eq!(
        (
            b.body["spent_cents"].as_i64(),
            b.body["remaining_cents"].as_i64()
        ),
        (Some(11_000), Some(39_000))
    );
    assert_eq!(
        b.body["version"], 2,
        "the debit raised the budget's version"
    );
    for (action, n) in [
        ("budget.created", 1),
        ("expense.created", 1),
        ("expense.submitted", 2),
        ("expense.rejected", 1),
        ("expense.updated", 1),
        ("expense.approved", 1),
    ] {
        assert_eq!(app.audit_count(t.id, action), n, "{action}");
    }
    // Deleting: drafts only.
    let draft = expense(&app, &m, "meals", 500, &day).await.id();
    app.delete(&format!("/api/v1/expenses/{id}"), &m.token)
        .await
        .expect(422, Some("invalid_transition"));
    app.delete(&format!("/api/v1/expenses/{draft}"), &m.token)
        .await
        .expect(204, None);
    assert_eq!(app.audit_count(t.id, "expense.deleted"), 1);
}

#[tokio::test]
async fn forbidden_transitions_are_invalid_transition() {
    let app = TestApp::new().await;
    let t = app.tenant("trans").await;
    let m = app.user(&t, "member").await;
    let (period, day) = this_month();
    budget(&app, &t, "meals", &period, 1_000_000)
        .await
        .expect(201, None);
    let admin = t.admin.token.clone();
    let draft = expense(&app, &m, "meals", 100, &day).await.id();
    act(&app, &admin, draft, "approve", json!({"version": 1}))
        .await
        .expect(422, Some("invalid_transition"));
    act(
        &app,
        &admin,
        draft,
        "reject",
        json!({"version": 1, "reason": "x"}),
    )
    .await
    .expect(422, Some("invalid_transition"));

    let sub = submitted(&app, &m, "meals", 100, &day).await;
    act(&app, &m.token, sub, "submit", json!({"version": 2}))
        .await
        .expect(422, Some("invalid_transition"));
    app.patch(
        &format!("/api/v1/expenses/{sub}"),
        &m.token,
        json!({"version": 2, "amount_cents": 5}),
    )
    .await
    .expect(422, Some("invalid_transition"));
    app.delete(&format!("/api/v1/expenses/{sub}"), &m.token)
        .await
        .expect(422, Some("invalid_transition"));

    let approved = submitted(&app, &m, "meals", 100, &day).await;
    act(&app, &admin, approved, "approve", json!({"version": 2}))
        .await
        .expect(200, None);
    for (action, body) in [
        ("approve", json!({"version": 3})),
        ("reject", json!({"version": 3, "reason": "late"})),
    ] {
        act(&app, &admin, approved, action, body)
            .await
            .expect(422, Some("invalid_transition"));
    }
    act(&app, &m.token, approved, "submit", json!({"version": 3}))
        .await
        .expect(422, Some("invalid_transition"));
    app.patch(
        &format!("/api/v1/expenses/{approved}"),
        &m.token,
        json!({"version": 3, "description": "x"}),
    )
    .await
    .expect(422, Some("invalid_transition"));
    app.delete(&format!("/api/v1/expenses/{approved}"), &m.token)
        .await
        .expect(422, Some("invalid_transition"));

    let rejected = submitted(&app, &m, "meals", 100, &day).await;
    act(
        &app,
        &admin,
        rejected,
        "reject",
        json!({"version": 2, "reason": "no"}),
    )
    .await
    .expect(200, None);
    act(&app, &admin, rejected, "approve", json!({"version": 3}))
        .await
        .expect(422, Some("invalid_transition"));
    act(
        &app,
        &admin,
        rejected,
        "reject",
        json!({"version": 3, "reason": "again"}),
    )
    .await
    .expect(422, Some("invalid_transition"));
    app.delete(&format!("/api/v1/expenses/{rejected}"), &m.token)
        .await
        .expect(422, Some("invalid_transition"));
    // Locking on workflow actions.
    act(&app, &m.token, rejected, "submit", json!({}))
        .await
        .expect(428, Some("precondition_required"));
    let stale = act(&app, &m.token, rejected, "submit", json!({"version": 2})).await;
    stale.expect(409, Some("version_conflict"));
    assert_eq!(stale.body["current_version"], 3);
}

/// A tenant with two members (Alice, Bob) and a viewer, a budget, and a draft expense of
/// Alice's.
struct Visibility {
    app: TestApp,
    t: TenantFixture,
    alice: UserFixture,
    bob: UserFixture,
    viewer: UserFixture,
    period: String,
    day: String,
    mine: Uuid,
}

async fn visibility() -> Visibility {
    let app = TestApp::new().await;
    let t = app.tenant("vis").await;
    let alice = app.user(&t, "member").await;
    let bob = app.user(&t, "member").await;
    let viewer = app.user(&t, "viewer").await;
    let (period, day) = this_month();
    budget(&app, &t, "software", &period, 1_000_000)
        .await
        .expect(201, None);
    let mine = expense(&app, &alice, "software", 900, &day).await.id();
    Visibility {
        app,
        t,
        alice,
        bob,
        viewer,
        period,
        day,
        mine,
    }
}

#[tokio::test]
async fn a_members_expense_is_the_same_404_as_a_random_id_to_another_member() {
    let Visibility { app, bob, mine, .. } = visibility().await;
    // Bob (a member) cannot see Alice's expense: the same 404 as a random id.
    let random = Uuid::now_v7();
    for (m, path, body) in [
        ("GET", "/api/v1/expenses/{}".to_string(), None),
        (
            "PATCH",
            "/api/v1/expenses/{}".to_string(),
            Some(json!({"version": 1, "amount_cents": 1})),
        ),
        ("DELETE", "/api/v1/expenses/{}".to_string(), None),
        (
            "POST",
            "/api/v1/expenses/{}/submit".to_string(),
            Some(json!({"version": 1})),
        ),
    ] {
        let method = axum::http::Method::from_bytes(m.as_bytes()).expect("method");
        let theirs = app
            .call(
                method.clone(),
                &path.replace("{}", &mine.to_string()),
                Some(&bob.token),
                body.clone(),
            )
            .await;
        let nobody = app
            .call(
                method,
                &path.replace("{}", &random.to_string()),
                Some(&bob.token),
                body,
            )
            .await;
        theirs.expect(404, Some("not_found"));
        assert_eq!(
            theirs.body_without_request_id(),
            nobody.body_without_request_id(),
            "{m} {path}"
        );
    }
    let bobs_list = app.get("/api/v1/expenses", &bob.token).await;
    assert_eq!(bobs_list.body["data"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn admins_and_viewers_see_every_expense_but_only_the_submitter_changes_it() {
    let Visibility {
        app,
        t,
        viewer,
        mine,
        ..
    } = visibility().await;
    // Admins and viewers see all; only the submitter may edit, submit or delete.
    for token in [&t.admin.token, &viewer.token] {
        app.get(&format!("/api/v1/expenses/{mine}"), token)
            .await
            .expect(200, None);
        assert_eq!(
            app.get("/api/v1/expenses", token).await.body["data"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
    }
    app.patch(
        &format!("/api/v1/expenses/{mine}"),
        &t.admin.token,
        json!({"version": 1, "amount_cents": 1}),
    )
    .await
    .expect(403, Some("forbidden"));
    act(&app, &t.admin.token, mine, "submit", json!({"version": 1}))
        .await
        .expect(403, Some("forbidden"));
    act(&app, &viewer.token, mine, "submit", json!({"version": 1}))
        .await
        .expect(403, Some("forbidden"));
    app.delete(&format!("/api/v1/expenses/{mine}"), &t.admin.token)
        .await
        .expect(403, Some("forbidden"));
}

#[tokio::test]
async fn viewers_cannot_create_expenses_and_members_cannot_budget_or_report() {
    let Visibility {
        app,
        alice,
        viewer,
        period,
        day,
        ..
    } = visibility().await;
    expense(&app, &viewer, "software", 1, &day)
        .await
        .expect(403, Some("forbidden"));
    app.post(
        "/api/v1/budgets",
        &alice.token,
        json!({"category": "meals", "period": period, "amount_cents": 1}),
    )
    .await
    .expect(403, Some("forbidden"));
    app.get("/api/v1/reports/expenses", &alice.token)
        .await
        .expect(403, Some("forbidden"));
}

#[tokio::test]
async fn only_an_admin_other_than_the_submitter_decides() {
    let Visibility {
        app,
        t,
        alice,
        viewer,
        day,
        mine,
        ..
    } = visibility().await;
    act(&app, &alice.token, mine, "submit", json!({"version": 1}))
        .await
        .expect(200, None);
    act(&app, &alice.token, mine, "approve", json!({"version": 2}))
        .await
        .expect(403, Some("forbidden"));
    act(
        &app,
        &viewer.token,
        mine,
        "reject",
        json!({"version": 2, "reason": "x"}),
    )
    .await
    .expect(403, Some("forbidden"));
    // An admin's own expense cannot be approved by that admin.
    let own = submitted(&app, &t.admin, "software", 10, &day).await;
    act(&app, &t.admin.token, own, "approve", json!({"version": 2}))
        .await
        .expect(403, Some("self_approval"));
    let other_admin = app.user(&t, "admin").await;
    act(
        &app,
        &other_admin.token,
        own,
        "approve",
        json!({"version": 2}),
    )
    .await
    .expect(200, None);
}

#[tokio::test]
async fn validation_of_money_dates_and_budgets() {
    let app = TestApp::new().await;
    let t = app.tenant("money").await;
    let (period, day) = this_month();
    let tomorrow = (chrono::Utc::now().date_naive() + chrono::Days::new(2))
        .format("%Y-%m-%d")
        .to_string();
    for (amount, when) in [
        (0, day.as_str()),
        (-5, day.as_str()),
        (100_000_001, day.as_str()),
        (10, tomorrow.as_str()),
    ] {
        let r = expense(&app, &t.admin, "travel", amount, when).await;
        r.expect(422, Some("validation_failed"));
    }
    for bad in [
        json!({"category": "yachts", "amount_cents": 1, "description": "x", "incurred_on": day}),
        json!({"category": "travel", "amount_cents": 1.5, "description": "x", "incurred_on": day}),
        json!({"category": "travel", "amount_cents": 1, "description": "", "incurred_on": day}),
        json!({"category": "travel", "amount_cents": 1, "description": "x", "incurred_on": "2026-02-30"}),
        json!({"category": "travel", "amount_cents": 1, "description": "x", "incurred_on": day, "currency": "usd"}),
        json!({"category": "travel", "amount_cents": 1, "description": "x", "incurred_on": day, "status": "approved"}),
    ] {
        app.post("/api/v1/expenses", &t.admin.token, bad)
            .await
            .expect(422, Some("validation_failed"));
    }
    expense(&app, &t.admin, "travel", 100_000_000, &day)
        .await
        .expect(201, None);
    assert_eq!(
        app.db.scalar(&format!(
            "SELECT count(*) FROM expenses WHERE tenant_id = '{}'",
            t.id
        )),
        1
    );

    budget(&app, &t, "travel", &period, 0)
        .await
        .expect(422, Some("validation_failed"));
    budget(&app, &t, "travel", "2026-13", 10)
        .await
        .expect(422, Some("validation_failed"));
    let b = budget(&app, &t, "travel", &period, 1_000).await;
    b.expect(201, None);
    budget(&app, &t, "travel", &period, 2_000)
        .await
        .expect(409, Some("already_exists"));
    let path = format!("/api/v1/budgets/{}", b.id());
    app.patch(&path, &t.admin.token, json!({"amount_cents": 5}))
        .await
        .expect(428, Some("precondition_required"));
    let p = app
        .patch(
            &path,
            &t.admin.token,
            json!({"version": 1, "amount_cents": 5_000}),
        )
        .await;
    p.expect(200, None);
    assert_eq!(p.body["version"], 2);
    app.patch(
        &path,
        &t.admin.token,
        json!({"version": 1, "amount_cents": 6_000}),
    )
    .await
    .expect(409, Some("version_conflict"));
    app.get("/api/v1/budgets?period=2026-1", &t.admin.token)
        .await
        .expect(400, Some("invalid_query"));
    app.get("/api/v1/budgets?category=boats", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    assert_eq!(
        app.get(
            &format!("/api/v1/budgets?period={period}&category=travel"),
            &t.admin.token
        )
        .await
        .body["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test]
async fn budget_errors_and_failed_approvals_change_nothing() {
    let app = TestApp::new().await;
    let t = app.tenant("nochange").await;
    let m = app.user(&t, "member").await;
    let (period, day) = this_month();
    let no_budget = submitted(&app, &m, "lodging", 5_000, &day).await;
    let snapshot = |id: Uuid| {
        let app = &app;
        let token = t.admin.token.clone();
        async move {
            let e = app
                .get(&format!("/api/v1/expenses/{id}"), &token)
                .await
                .body;
            let b = app.get("/api/v1/budgets", &token).await.body;
            let audit = app.db.scalar(&format!(
                "SELECT count(*) FROM audit_logs WHERE tenant_id = '{}'",
                t.id
            ));
            (e, b, audit)
        }
    };
    let before = snapshot(no_budget).await;
    act(
        &app,
        &t.admin.token,
        no_budget,
        "approve",
        json!({"version": 2}),
    )
    .await
    .expect(422, Some("no_budget"));
    assert_eq!(snapshot(no_budget).await, before);

    let b = budget(&app, &t, "lodging", &period, 8_000).await.id();
    let fits = submitted(&app, &m, "lodging", 5_000, &day).await;
    act(&app, &t.admin.token, fits, "approve", json!({"version": 2}))
        .await
        .expect(200, None);
    let before = snapshot(no_budget).await;
    act(
        &app,
        &t.admin.token,
        no_budget,
        "approve",
        json!({"version": 2}),
    )
    .await
    .expect(422, Some("budget_exceeded"));
    act(
        &app,
        &t.admin.token,
        no_budget,
        "approve",
        json!({"version": 1}),
    )
    .await
    .expect(409, Some("version_conflict"));
    assert_eq!(
        snapshot(no_budget).await,
        before,
        "budget, expense and audit log unchanged"
    );
    // The budget cannot go below what is spent.
    let r = app
        .patch(
            &format!("/api/v1/budgets/{b}"),
            &t.admin.token,
            json!({"version": 2, "amount_cents": 4_999}),
        )
        .await;
    r.expect(422, Some("budget_below_spent"));
    app.patch(
        &format!("/api/v1/budgets/{b}"),
        &t.admin.token,
        json!({"version": 2, "amount_cents": 5_000}),
    )
    .await
    .expect(200, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_approvals_never_overspend() {
    let app = TestApp::with_env(&[("DB_POOL_SIZE", "24")]).await;
    let t = app.tenant("race").await;
    let m = app.user(&t, "member").await;
    let categories = ["travel", "meals", "lodging"];
    for category in categories {
        let (period, day) = this_month();
        let budget_id = budget(&app, &t, category, &period, 100_000).await.id();
        let mut ids = Vec::new();
        for _ in 0..20 {
            ids.push(submitted(&app, &m, category, 10_000, &day).await);
        }
        let approvals = ids
            .iter()
            .map(|id| act(&app, &t.admin.token, *id, "approve", json!({"version": 2})));
        let results = futures_util::future::join_all(approvals).await;
        let approved = results.iter().filter(|r| r.status == 200).count();
        let exceeded = results
            .iter()
            .filter(|r| r.status == 422 && r.code() == "budget_exceeded")
            .count();
        assert_eq!(
            (approved, exceeded),
            (10, 10),
            "{category}: {:?}",
            results.iter().map(|r| r.text.clone()).collect::<Vec<_>>()
        );
        let b = app
            .get(&format!("/api/v1/budgets/{budget_id}"), &t.admin.token)
            .await;
        assert_eq!(b.body["spent_cents"], 100_000);
        assert_eq!(b.body["remaining_cents"], 0);
        let sum_approved = app.db.scalar(&format!(
            "SELECT coalesce(sum(amount_cents), 0) FROM expenses WHERE tenant_id = '{}' AND category = '{category}' AND status = 'approved'",
            t.id
        ));
        assert_eq!(sum_approved, 100_000);
        assert_eq!(b.body["version"], 11, "one version per debit");
    }
    assert_eq!(app.audit_count(t.id, "expense.approved"), 30);
}

/// A month of one tenant's expenses in every status, plus another tenant's and another
/// month's, which no report of this tenant and month may count.
async fn report_data() -> (TestApp, TenantFixture, UserFixture, UserFixture, String) {
    let app = TestApp::new().await;
    let t = app.tenant("report").await;
    let other = app.tenant("report-other").await;
    let a = app.user(&t, "member").await;
    let b = app.user(&t, "member").await;
    let (period, day) = this_month();
    budget(&app, &t, "travel", &period, 100_000)
        .await
        .expect(201, None);
    // a: travel 1000 (approved), travel 2000 (submitted), meals 300 (draft); b: travel 4000 (rejected)
    let x = submitted(&app, &a, "travel", 1_000, &day).await;
    act(&app, &t.admin.token, x, "approve", json!({"version": 2}))
        .await
        .expect(200, None);
    submitted(&app, &a, "travel", 2_000, &day).await;
    expense(&app, &a, "meals", 300, &day)
        .await
        .expect(201, None);
    let y = submitted(&app, &b, "travel", 4_000, &day).await;
    act(
        &app,
        &t.admin.token,
        y,
        "reject",
        json!({"version": 2, "reason": "no"}),
    )
    .await
    .expect(200, None);
    // Another tenant's and another month's expenses must not count.
    let om = app.user(&other, "member").await;
    expense(&app, &om, "travel", 777_777, &day)
        .await
        .expect(201, None);
    expense(&app, &a, "travel", 55, "2020-01-15")
        .await
        .expect(201, None);
    (app, t, a, b, period)
}

#[tokio::test]
async fn the_report_sums_a_month_per_category_with_its_budget() {
    let (app, t, _, _, period) = report_data().await;
    let r = app
        .get(
            &format!("/api/v1/reports/expenses?period={period}"),
            &t.admin.token,
        )
        .await;
    r.expect(200, None);
    assert_eq!(r.body["period"], period);
    assert_eq!(
        r.body["groups"],
        json!([
            {"key": "travel", "count": 3, "total_cents": 7000, "approved_cents": 1000, "pending_cents": 2000, "budget_cents": 100000, "remaining_cents": 99000},
            {"key": "meals", "count": 1, "total_cents": 300, "approved_cents": 0, "pending_cents": 0, "budget_cents": null, "remaining_cents": null},
        ])
    );
    assert_eq!(
        r.body["totals"],
        json!({"count": 4, "total_cents": 7300, "approved_cents": 1000, "pending_cents": 2000})
    );
}

#[tokio::test]
async fn the_report_sums_a_month_per_submitter() {
    let (app, t, a, b, period) = report_data().await;
    let s = app
        .get(
            &format!("/api/v1/reports/expenses?period={period}&group_by=submitter"),
            &t.admin.token,
        )
        .await;
    let groups = s.body["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    let of = |id: Uuid| {
        groups
            .iter()
            .find(|g| g["key"] == id.to_string())
            .expect("submitter group")
            .clone()
    };
    assert_eq!(
        (of(a.id)["count"].as_i64(), of(a.id)["total_cents"].as_i64()),
        (Some(3), Some(3_300))
    );
    assert_eq!(
        (of(b.id)["count"].as_i64(), of(b.id)["total_cents"].as_i64()),
        (Some(1), Some(4_000))
    );
}

#[tokio::test]
async fn min_total_cents_drops_small_groups_and_an_empty_month_reports_zeros() {
    let (app, t, _, _, period) = report_data().await;
    let filtered = app
        .get(
            &format!("/api/v1/reports/expenses?period={period}&min_total_cents=1000"),
            &t.admin.token,
        )
        .await;
    assert_eq!(filtered.body["groups"].as_array().map(Vec::len), Some(1));
    assert_eq!(filtered.body["totals"]["total_cents"], 7_000);
    let empty = app
        .get("/api/v1/reports/expenses?period=2019-01", &t.admin.token)
        .await;
    assert_eq!(
        empty.body,
        json!({"period": "2019-01", "groups": [], "totals": {"count": 0, "total_cents": 0, "approved_cents": 0, "pending_cents": 0}})
    );
}

#[tokio::test]
async fn bad_report_parameters_are_refused_and_the_list_filters_the_same_month() {
    let (app, t, _, _, period) = report_data().await;
    app.get("/api/v1/reports/expenses?group_by=day", &t.admin.token)
        .await
        .expect(422, Some("validation_failed"));
    app.get("/api/v1/reports/expenses?period=nope", &t.admin.token)
        .await
        .expect(400, Some("invalid_query"));
    // The expense list's period filter uses the same month.
    let listed = app
        .get(
            &format!("/api/v1/expenses?period={period}&status=submitted"),
            &t.admin.token,
        )
        .await;
    assert_eq!(listed.body["data"].as_array().map(Vec::len), Some(1));
}

/// Tenant A with a budget and a member's submitted expense, and tenant B, whose admin
/// probes them.
struct TwoTenants {
    app: TestApp,
    a: TenantFixture,
    b: TenantFixture,
    am: UserFixture,
    a_budget: Uuid,
    a_exp: Uuid,
    day: String,
}

async fn two_tenants() -> TwoTenants {
    let app = TestApp::new().await;
    let a = app.tenant("exp-a").await;
    let b = app.tenant("exp-b").await;
    let (period, day) = this_month();
    let a_budget = budget(&app, &a, "travel", &period, 10_000).await.id();
    let am = app.user(&a, "member").await;
    let a_exp = submitted(&app, &am, "travel", 100, &day).await;
    TwoTenants {
        app,
        a,
        b,
        am,
        a_budget,
        a_exp,
        day,
    }
}

#[tokio::test]
async fn another_tenants_expense_is_the_same_404_as_a_random_id_and_stays_as_it_was() {
    let TwoTenants {
        app, a, b, a_exp, ..
    } = two_tenants().await;
    let random = Uuid::now_v7();
    let tok = &b.admin.token;
    for (m, path, body) in [
        ("GET", "/api/v1/expenses/{}", None),
        (
            "PATCH",
            "/api/v1/expenses/{}",
            Some(json!({"version": 2, "amount_cents": 1})),
        ),
        ("DELETE", "/api/v1/expenses/{}", None),
        (
            "POST",
            "/api/v1/expenses/{}/submit",
            Some(json!({"version": 2})),
        ),
        (
            "POST",
            "/api/v1/expenses/{}/approve",
            Some(json!({"version": 2})),
        ),
        (
            "POST",
            "/api/v1/expenses/{}/reject",
            Some(json!({"version": 2, "reason": "x"})),
        ),
    ] {
        let method = axum::http::Method::from_bytes(m.as_bytes()).expect("method");
        let theirs = app
            .call(
                method.clone(),
                &path.replace("{}", &a_exp.to_string()),
                Some(tok),
                body.clone(),
            )
            .await;
        let nobody = app
            .call(
                method,
                &path.replace("{}", &random.to_string()),
                Some(tok),
                body,
            )
            .await;
        theirs.expect(404, Some("not_found"));
        assert_eq!(
            theirs.body_without_request_id(),
            nobody.body_without_request_id(),
            "{m} {path}"
        );
    }
    let e = app
        .get(&format!("/api/v1/expenses/{a_exp}"), &a.admin.token)
        .await;
    assert_eq!(
        (e.body["status"].as_str(), e.body["version"].as_i64()),
        (Some("submitted"), Some(2))
    );
}

#[tokio::test]
async fn another_tenants_budget_is_the_same_404_as_a_random_id_and_lists_show_none() {
    let TwoTenants {
        app, b, a_budget, ..
    } = two_tenants().await;
    let random = Uuid::now_v7();
    let tok = &b.admin.token;
    for (m, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"version": 1, "amount_cents": 1}))),
    ] {
        let method = axum::http::Method::from_bytes(m.as_bytes()).expect("method");
        let theirs = app
            .call(
                method.clone(),
                &format!("/api/v1/budgets/{a_budget}"),
                Some(tok),
                body.clone(),
            )
            .await;
        let nobody = app
            .call(
                method,
                &format!("/api/v1/budgets/{random}"),
                Some(tok),
                body,
            )
            .await;
        theirs.expect(404, Some("not_found"));
        assert_eq!(
            theirs.body_without_request_id(),
            nobody.body_without_request_id(),
            "{m} budget"
        );
    }
    assert_eq!(
        app.get("/api/v1/budgets", tok).await.body["data"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        app.get("/api/v1/expenses", tok).await.body["data"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
}

#[tokio::test]
async fn switching_the_expenses_feature_off_closes_every_expense_route() {
    let TwoTenants {
        app, a, am, day, ..
    } = two_tenants().await;
    // Switching the feature off closes every expense route.
    app.patch(
        &format!("/api/v1/tenants/{}", a.id),
        &app.platform_token(),
        json!({"features_enabled": {"expenses": false}}),
    )
    .await
    .expect(200, None);
    for path in [
        "/api/v1/expenses",
        "/api/v1/budgets",
        "/api/v1/reports/expenses",
    ] {
        app.get(path, &a.admin.token)
            .await
            .expect(403, Some("feature_disabled"));
    }
    expense(&app, &am, "travel", 1, &day)
        .await
        .expect(403, Some("feature_disabled"));
    app.get("/api/v1/users/me", &a.admin.token)
        .await
        .expect(200, None);
}
