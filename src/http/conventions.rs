//! The HTTP conventions of docs/API.md §1 that clients and browsers rely on, applied in
//! one place rather than in every handler:
//!
//! * lists answer with `Link: <...>; rel="next"` when there is a next page ([`Page`]
//!   carries its cursor to [`conventions`] as a response extension);
//! * a `GET` whose answer has an `ETag` answers `304 Not Modified` to a matching
//!   `If-None-Match` (the body is computed anyway: rows are small, and the ETag is the
//!   row's version, so there is nothing cheaper to check first);
//! * `RateLimit-Limit` / `-Remaining` / `-Reset` on every tenant answer while the
//!   per-tenant limit is on (the tenant extractor reports the bucket through
//!   [`RateLimitSlot`]);
//! * compression above 1 KiB ([`compression`]) and CORS from `CORS_ALLOWED_ORIGINS`
//!   ([`cors`], [`preflight_no_content`]).

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::app::AppState;
use crate::auth::rate_limit::RateLimitSlot;
use crate::db::pagination::Page;

/// The next page's cursor, from a [`Page`] to the `Link` header.
#[derive(Debug, Clone)]
struct NextCursor(String);

impl<T: Serialize> IntoResponse for Page<T> {
    fn into_response(self) -> Response {
        let next = self.next_cursor.clone();
        let mut response = axum::Json(self).into_response();
        if let Some(cursor) = next {
            response.extensions_mut().insert(NextCursor(cursor));
        }
        response
    }
}

/// Response headers the conventions add, exposed to browsers by [`cors`].
pub const RATELIMIT_LIMIT: &str = "ratelimit-limit";
pub const RATELIMIT_REMAINING: &str = "ratelimit-remaining";
pub const RATELIMIT_RESET: &str = "ratelimit-reset";

/// `Link`, `304` and `RateLimit-*` (see the module docs).
pub async fn conventions(State(app): State<AppState>, req: Request, next: Next) -> Response {
    around(&app, req, |req| next.run(req)).await
}

/// [`conventions`] around `inner`, so that the router can run it and the layers inside
/// it as one middleware (see `http::middleware::innermost`).
pub async fn around<F, Fut>(app: &AppState, mut req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    // The slot is shared state the extractor writes into: only worth making while there
    // is a limit to report.
    let slot = app.rate_limiter.enabled().then(|| {
        let slot = RateLimitSlot::default();
        req.extensions_mut().insert(slot.clone());
        slot
    });
    let if_none_match = (req.method() == Method::GET)
        .then(|| req.headers().get(header::IF_NONE_MATCH).cloned())
        .flatten();
    // For the `Link` of a list: a clone of the parsed URI shares its bytes (no copy).
    let uri = req.uri().clone();
    let mut response = inner(req).await;
    if let Some(state) = slot.and_then(|slot| slot.get()) {
        let h = response.headers_mut();
        h.insert(RATELIMIT_LIMIT, HeaderValue::from(state.limit));
        h.insert(RATELIMIT_REMAINING, HeaderValue::from(state.remaining));
        h.insert(RATELIMIT_RESET, HeaderValue::from(state.reset_secs));
    }
    if let Some(NextCursor(cursor)) = response.extensions_mut().remove::<NextCursor>() {
        let link = format!(
            "<{}>; rel=\"next\"",
            next_url(uri.path(), uri.query(), &cursor)
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    if let Some(condition) = if_none_match {
        let matched = response.status() == StatusCode::OK
            && response
                .headers()
                .get(header::ETAG)
                .is_some_and(|etag| etag_matches(condition.as_bytes(), etag.as_bytes()));
        if matched {
            return not_modified(response);
        }
    }
    response
}

/// The same path and query with `cursor` replaced (RFC 8288 allows a relative reference,
/// resolved against the request's URL).
fn next_url(path: &str, query: Option<&str>, cursor: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if k != "cursor" {
            out.append_pair(&k, &v);
        }
    }
    out.append_pair("cursor", cursor);
    format!("{path}?{}", out.finish())
}

/// `If-None-Match` uses the weak comparison (RFC 9110 §13.1.2): `*` matches any current
/// representation, and `W/"3"` matches `"3"`.
fn etag_matches(condition: &[u8], etag: &[u8]) -> bool {
    let opaque = |t: &[u8]| -> Vec<u8> {
        let t = t.trim_ascii();
        t.strip_prefix(b"W/").unwrap_or(t).to_vec()
    };
    let current = opaque(etag);
    condition
        .split(|b| *b == b',')
        .any(|candidate| candidate.trim_ascii() == b"*" || opaque(candidate) == current)
}

/// `304`: the headers of the `200` it replaces (ETag, Cache-Control, ...), no body.
fn not_modified(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.status = StatusCode::NOT_MODIFIED;
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::empty())
}

/// Answers of at least 1 KiB are compressed (`gzip`, `br`) when `Accept-Encoding` allows;
/// smaller ones, the hot path of single rows, go out untouched.
pub fn compression() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new().gzip(true).br(true).compress_when(
        SizeAbove::new(1023)
            .and(NotForContentType::GRPC)
            .and(NotForContentType::IMAGES)
            .and(NotForContentType::SSE),
    )
}

/// CORS for `CORS_ALLOWED_ORIGINS`; `None` (no CORS headers at all) when it is empty.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                HeaderName::from_static("idempotency-key"),
                HeaderName::from_static("x-request-id"),
            ])
            .expose_headers([
                header::ETAG,
                header::LINK,
                header::RETRY_AFTER,
                HeaderName::from_static("x-request-id"),
                HeaderName::from_static(RATELIMIT_LIMIT),
                HeaderName::from_static(RATELIMIT_REMAINING),
                HeaderName::from_static(RATELIMIT_RESET),
                HeaderName::from_static("idempotent-replayed"),
            ])
            .max_age(Duration::from_secs(600)),
    )
}

/// A CORS preflight answers `204 No Content` (tower-http's layer answers `200`).
pub async fn preflight_no_content(req: Request, next: Next) -> Response {
    let preflight = is_preflight(&req);
    let mut response = next.run(req).await;
    preflight_status(preflight, &mut response);
    response
}

/// Whether `req` is a CORS preflight (the first half of [`preflight_no_content`]).
pub fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Turns the CORS layer's `200` to a preflight into `204` (the second half).
pub fn preflight_status(preflight: bool, response: &mut Response) {
    if preflight
        && response.status() == StatusCode::OK
        && response
            .headers()
            .contains_key(header::ACCESS_CONTROL_ALLOW_METHODS)
    {
        *response.status_mut() = StatusCode::NO_CONTENT;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_comparison_of_etags() {
        assert!(etag_matches(b"\"3\"", b"\"3\""));
        assert!(etag_matches(b"W/\"3\"", b"\"3\""));
        assert!(etag_matches(b"\"1\", \"3\"", b"\"3\""));
        assert!(etag_matches(b"*", b"\"9\""));
        assert!(!etag_matches(b"\"2\"", b"\"3\""));
        assert!(!etag_matches(b"", b"\"3\""));
    }

    #[test]
    fn next_url_keeps_the_query_and_replaces_the_cursor() {
        assert_eq!(
            next_url(
                "/api/v1/tasks",
                Some("status=pending&cursor=old&limit=2"),
                "n/x"
            ),
            "/api/v1/tasks?status=pending&limit=2&cursor=n%2Fx"
        );
        assert_eq!(
            next_url("/api/v1/users", None, "c"),
            "/api/v1/users?cursor=c"
        );
    }
}
