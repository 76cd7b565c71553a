//! Demo items: a few notes with enough text that the full-text search finds them
//! (`?q=checklist`, `?q=travel`, ...).

use diesel::pg::PgConnection;

use super::demo::DemoTenant;
use crate::ops::BoxError;
use crate::repos::seed::{self as repo, DemoItem};

/// Items: owner (a demo user's local part), title, description.
const ITEMS: [(&str, &str, &str); 5] = [
    (
        "alice",
        "Onboarding checklist",
        "Accounts, laptop setup and the first week's reading list for new colleagues.",
    ),
    (
        "bob",
        "Quarterly planning notes",
        "Goals, risks and staffing for the next quarter, agreed in the planning meeting.",
    ),
    (
        "admin",
        "Vendor contacts",
        "Phone numbers and contract renewal dates of our office and software vendors.",
    ),
    (
        "alice",
        "Travel policy",
        "How to book trains, flights and hotels, and which travel expenses are reimbursed.",
    ),
    (
        "bob",
        "Release checklist",
        "Steps to ship the mobile app: changelog, screenshots, store review and rollout.",
    ),
];

/// Row numbers of the items (see [`DemoTenant::at`]).
const ITEM_ROWS: usize = 400;

/// The items domain: [`ITEMS`].
pub fn items(conn: &mut PgConnection, tenant: &DemoTenant<'_>) -> Result<u64, BoxError> {
    let mut rows = Vec::with_capacity(ITEMS.len());
    for (n, (owner, title, description)) in ITEMS.into_iter().enumerate() {
        let at = tenant.at(ITEM_ROWS + n);
        rows.push(DemoItem {
            tenant_id: tenant.id,
            id: tenant.row_id("item", title, at),
            title: title.to_string(),
            description: Some(description.to_string()),
            owner_id: tenant.user(conn, owner)?,
            created_at: at,
            updated_at: at,
        });
    }
    Ok(repo::insert_items(conn, rows)? as u64)
}
