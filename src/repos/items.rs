//! Items of the caller's tenant: newest-first lists, ranked full-text search, and
//! changes that only the item's owner or a tenant admin may make.
//!
//! Search matches the stored `search` vector (title weight A, description weight B)
//! against `websearch_to_tsquery('english', q)`, so any text is a valid query: one with
//! no searchable words yields an empty tsquery, which matches nothing. The tenant filter
//! and the match are both served by the `(tenant_id, search)` GIN index (btree_gin).

use chrono::{DateTime, Utc};
use diesel::dsl::{AsExprOf, sql};
use diesel::expression::SqlLiteral;
use diesel::expression::UncheckedBind;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Float4, Text, Timestamptz, Uuid as SqlUuid};
use serde_json::json;
use uuid::Uuid;

use crate::auth::TenantContext;
use crate::error::AppError;
use crate::models::item::{Item, ItemChanges, NewItem};
use crate::repos::audit;
use crate::schema::items;

/// Every query on `items` for a request starts here.
/// The caller's tenant's rows. Statically typed (not boxed) so that queries built on it
/// keep a static query id and Diesel caches their prepared statements; lists with
/// optional filters box it with `.into_boxed()`.
fn scoped(ctx: &TenantContext) -> Scoped {
    items::table.filter(items::tenant_id.eq(ctx.tenant_id()))
}

type Scoped = diesel::dsl::Filter<items::table, diesel::dsl::Eq<items::tenant_id, Uuid>>;

/// Keyset position in the default order (`created_at DESC, id DESC`).
pub type ItemKey = (DateTime<Utc>, Uuid);

/// Keyset position in search order (`rank DESC, created_at DESC, id DESC`). The rank is
/// the `real` PostgreSQL computed; an `f32` survives the JSON cursor bit for bit, so
/// the next page starts exactly after the last row.
pub type SearchKey = (f32, DateTime<Utc>, Uuid);

/// One page of items, newest first, strictly after `after`.
pub fn list(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    owner_id: Option<Uuid>,
    after: Option<ItemKey>,
    limit: i64,
) -> Result<Vec<Item>, AppError> {
    let mut q = scoped(ctx).into_boxed().select(Item::as_select());
    if let Some(owner) = owner_id {
        q = q.filter(items::owner_id.eq(owner));
    }
    if let Some((at, id)) = after {
        // `created_at <= at` is the index condition; equal timestamps are split by id.
        q = q.filter(
            items::created_at
                .le(at)
                .and(items::created_at.lt(at).or(items::id.lt(id))),
        );
    }
    Ok(q.order((items::created_at.desc(), items::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// `ts_rank` of a row for the web-search query `q` (bound, never pasted).
type Rank = SqlLiteral<Float4, UncheckedBind<SqlLiteral<Float4>, AsExprOf<String, Text>>>;

fn rank(q: &str) -> Rank {
    sql::<Float4>("ts_rank(items.search, websearch_to_tsquery('english', ")
        .bind::<Text, _>(q.to_string())
        .sql("))")
}

/// One page of search results, best rank first, ties newest first, strictly after
/// `after`; each item comes with its rank (for the cursor).
pub fn search(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    q: &str,
    owner_id: Option<Uuid>,
    after: Option<SearchKey>,
    limit: i64,
) -> Result<Vec<(Item, f32)>, AppError> {
    let matches = sql::<Bool>("items.search @@ websearch_to_tsquery('english', ")
        .bind::<Text, _>(q.to_string())
        .sql(")");
    let mut query = scoped(ctx)
        .into_boxed()
        .filter(matches)
        .select((Item::as_select(), rank(q)));
    if let Some(owner) = owner_id {
        query = query.filter(items::owner_id.eq(owner));
    }
    if let Some((r, at, id)) = after {
        // All three keys sort descending, so "after" is one row-value comparison.
        query = query.filter(
            sql::<Bool>("(ts_rank(items.search, websearch_to_tsquery('english', ")
                .bind::<Text, _>(q.to_string())
                .sql(")), items.created_at, items.id) < (")
                .bind::<Float4, _>(r)
                .sql(", ")
                .bind::<Timestamptz, _>(at)
                .sql(", ")
                .bind::<SqlUuid, _>(id)
                .sql(")"),
        );
    }
    Ok(query
        .order((rank(q).desc(), items::created_at.desc(), items::id.desc()))
        .limit(limit)
        .load(conn)?)
}

/// One item of the caller's tenant, or `404`.
pub fn find(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<Item, AppError> {
    scoped(ctx)
        .filter(items::id.eq(id))
        .select(Item::as_select())
        .first(conn)
        .optional()?
        .ok_or(AppError::NotFound("item"))
}

/// `403` unless the caller owns `item` or is a tenant admin.
fn check_may_change(ctx: &TenantContext, item: &Item) -> Result<(), AppError> {
    if ctx.is_admin() || item.owner_id == ctx.user_id() {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "only the item's owner or an admin can change it",
        ))
    }
}

/// `POST /items`: the caller becomes the owner.
pub fn create(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    title: String,
    description: Option<String>,
) -> Result<Item, AppError> {
    let item = diesel::insert_into(items::table)
        .values(NewItem {
            tenant_id: ctx.tenant_id(),
            id: Uuid::now_v7(),
            title,
            description,
            owner_id: ctx.user_id(),
        })
        .returning(Item::as_returning())
        .get_result(conn)?;
    audit::record(conn, ctx, "item.created", item.id, json!({}))?;
    Ok(item)
}

/// `PATCH /items/{id}`: `404` for a row not in the tenant, `403` for a caller who is
/// neither owner nor admin. Empty changes write nothing and return the row.
pub fn update(
    conn: &mut PgConnection,
    ctx: &TenantContext,
    id: Uuid,
    changes: ItemChanges,
) -> Result<Item, AppError> {
    // The owner never changes, so checking it before the update cannot race.
    let current = find(conn, ctx, id)?;
    check_may_change(ctx, &current)?;
    if changes.is_empty() {
        return Ok(current);
    }
    let changed = changes.changed();
    let item = diesel::update(items::table)
        .filter(items::tenant_id.eq(ctx.tenant_id()))
        .filter(items::id.eq(id))
        .set((changes, items::updated_at.eq(diesel::dsl::now)))
        .returning(Item::as_returning())
        .get_result(conn)
        .optional()?
        // Deleted by someone else between the two statements.
        .ok_or(AppError::NotFound("item"))?;
    audit::record(conn, ctx, "item.updated", id, json!({"changed": changed}))?;
    Ok(item)
}

/// `DELETE /items/{id}`: as for [`update`], owner or admin.
pub fn delete(conn: &mut PgConnection, ctx: &TenantContext, id: Uuid) -> Result<(), AppError> {
    let current = find(conn, ctx, id)?;
    check_may_change(ctx, &current)?;
    let n = diesel::delete(items::table)
        .filter(items::tenant_id.eq(ctx.tenant_id()))
        .filter(items::id.eq(id))
        .execute(conn)?;
    if n == 0 {
        return Err(AppError::NotFound("item"));
    }
    audit::record(
        conn,
        ctx,
        "item.deleted",
        id,
        json!({"owner_id": current.owner_id}),
    )?;
    Ok(())
}
