//! `/api/v1/items`: items and full-text search (docs/API.md §7), behind the `items` feature.
//!
//! Who may do what: every tenant role reads; members and admins create (the caller
//! becomes the owner); only the owner or a tenant admin may change or delete an item
//! (others get `403 forbidden`: they can read the item, so a 403 reveals nothing).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::app::AppState;
use crate::auth::{Feature, Role, TenantContext};
use crate::db::{self, pagination::Page};
use crate::error::{AppError, Problem};
use crate::http::extract::{AppJson, AppPath, AppQuery, PageParams};
use crate::http::idempotency::{self, Answer, Idempotency};
use crate::http::patch::{non_null, nullable};
use crate::models::item::{Item, ItemChanges};
use crate::repos::items::{self, ItemKey, SearchKey};
use crate::validate::Checks;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_item, list_items))
        .routes(routes!(get_item, update_item, delete_item))
}

const CURSOR_TAG: &str = "items";
const TITLE_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 10_000;

/// The cursor tag of a search: it names the query, so a cursor from one search is
/// refused (`400 invalid_cursor`) by another instead of silently skipping rows.
fn search_tag(q: &str) -> String {
    format!("items:search:{q}")
}

fn check_description(c: &mut Checks, description: Option<&str>) {
    if let Some(d) = description {
        c.length("description", d, 0, DESCRIPTION_MAX);
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateItemRequest {
    /// 1..=255 characters, not blank.
    #[schema(
        min_length = 1,
        max_length = 255,
        pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
    )]
    pub title: String,
    /// At most 10000 characters; `null` or absent for none.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub description: Option<String>,
}

/// Creates an item owned by the caller (member or admin).
#[utoipa::path(
    post, path = "/api/v1/items", tag = "items", request_body = CreateItemRequest,
    responses((status = 201, body = Item))
)]
pub async fn create_item(
    State(app): State<AppState>,
    ctx: TenantContext,
    key: Idempotency,
    AppJson(body): AppJson<CreateItemRequest>,
) -> Result<Response, AppError> {
    ctx.require_feature_role(Feature::Items, Role::Member)?;
    let mut c = Checks::new();
    c.text("title", &body.title, TITLE_MAX);
    check_description(&mut c, body.description.as_deref());
    c.finish()?;
    let outcome = idempotency::write(
        &app,
        &ctx,
        key,
        Answer {
            status: StatusCode::CREATED,
            version: None,
        },
        move |conn, ctx| items::create(conn, ctx, body.title, body.description),
    )
    .await?;
    Ok(outcome.respond(|item: Item| (StatusCode::CREATED, Json(item)).into_response()))
}

/// Longest search text `q`.
pub const MAX_Q_CHARS: usize = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemListQuery {
    /// Full-text search in web-search syntax (`"exact phrase"`, `-excluded`, `or`),
    /// English stemming, over title (ranked higher) and description. Results come best
    /// rank first, ties newest first. Any text is accepted; one without searchable words
    /// (empty, only stop words or operators) answers an empty list. A cursor belongs to
    /// the `q` it was issued for.
    pub q: Option<String>,
    /// Only items owned by this user.
    pub owner_id: Option<Uuid>,
}

/// Lists the tenant's items, newest first, or searches them with `q` (any role).
#[utoipa::path(
    get, path = "/api/v1/items", tag = "items", params(ItemListQuery),
    responses((status = 200, body = Page<Item>))
)]
pub async fn list_items(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppQuery(query): AppQuery<ItemListQuery>,
    PageParams(page): PageParams,
) -> Result<Page<Item>, AppError> {
    ctx.require_feature_role(Feature::Items, Role::Viewer)?;
    let owner_id = query.owner_id;
    let limit = page.fetch_limit();
    let Some(q) = query.q else {
        let after: Option<ItemKey> = page.after(&app.cursors, CURSOR_TAG)?;
        let rows = db::read_for(&app, &ctx, move |conn, ctx| {
            items::list(conn, ctx, owner_id, after, limit)
        })
        .await?;
        return Ok(Page::from_rows(
            rows,
            &page,
            &app.cursors,
            CURSOR_TAG,
            |i| (i.created_at, i.id),
        ));
    };
    // A search term costs parsing and matching in proportion to its length; no real
    // search needs more than this. (U+0000 was refused with the query string.)
    if q.chars().count() > MAX_Q_CHARS {
        return Err(AppError::invalid(
            "q",
            format!("must be at most {MAX_Q_CHARS} characters long"),
        ));
    }
    let tag = search_tag(&q);
    let after: Option<SearchKey> = page.after(&app.cursors, &tag)?;
    let rows = db::read_for(&app, &ctx, move |conn, ctx| {
        items::search(conn, ctx, &q, owner_id, after, limit)
    })
    .await?;
    let page = Page::from_rows(rows, &page, &app.cursors, &tag, |(i, rank)| {
        (*rank, i.created_at, i.id)
    });
    Ok(page.map(|(item, _)| item))
}

/// One item (any role).
#[utoipa::path(
    get, path = "/api/v1/items/{id}", tag = "items", params(("id" = Uuid, Path)),
    responses((status = 200, body = Item))
)]
pub async fn get_item(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<Json<Item>, AppError> {
    ctx.require_feature_role(Feature::Items, Role::Viewer)?;
    Ok(Json(
        db::read_for(&app, &ctx, move |conn, ctx| items::find(conn, ctx, id)).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateItemRequest {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = String, min_length = 1, max_length = 255, pattern = "[^\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]")]
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 10000)]
    pub description: Option<Option<String>>,
}

/// Updates an item: its owner (member or admin) or any tenant admin; anyone else who
/// can read it gets `403 forbidden`. The owner cannot be changed.
///
/// A body that changes no field (`{}`) answers `200` with the item as it is.
#[utoipa::path(
    patch, path = "/api/v1/items/{id}", tag = "items", request_body = UpdateItemRequest,
    params(("id" = Uuid, Path)),
    responses(
        (status = 200, body = Item),
        (status = 403, description = "forbidden: not the owner and not an admin, or a viewer; feature_disabled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_item(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<UpdateItemRequest>,
) -> Result<Json<Item>, AppError> {
    ctx.require_feature_role(Feature::Items, Role::Member)?;
    let mut c = Checks::new();
    if let Some(t) = &body.title {
        c.text("title", t, TITLE_MAX);
    }
    if let Some(d) = &body.description {
        check_description(&mut c, d.as_deref());
    }
    c.finish()?;
    let changes = ItemChanges {
        title: body.title,
        description: body.description,
    };
    Ok(Json(
        db::write_for(&app, &ctx, move |conn, ctx| {
            items::update(conn, ctx, id, changes)
        })
        .await?,
    ))
}

/// Deletes an item: its owner or any tenant admin.
#[utoipa::path(
    delete, path = "/api/v1/items/{id}", tag = "items", params(("id" = Uuid, Path)),
    responses(
        (status = 204, description = "deleted"),
        (status = 403, description = "forbidden: not the owner and not an admin, or a viewer; feature_disabled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_item(
    State(app): State<AppState>,
    ctx: TenantContext,
    AppPath(id): AppPath<Uuid>,
) -> Result<StatusCode, AppError> {
    ctx.require_feature_role(Feature::Items, Role::Member)?;
    db::write_for(&app, &ctx, move |conn, ctx| items::delete(conn, ctx, id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
