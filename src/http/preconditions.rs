//! Conditional-request headers: the `If-Match` extractor and `ETag` responses.

use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};

use crate::db::locking::{self, IfMatch};
use crate::error::AppError;

/// The request's `If-Match`, if sent.
#[derive(Debug, Clone, Copy)]
pub struct IfMatchHeader(pub Option<IfMatch>);

impl<S: Send + Sync> FromRequestParts<S> for IfMatchHeader {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        Ok(IfMatchHeader(
            parts
                .headers
                .get(IF_MATCH)
                .map(|v| IfMatch::parse(v.to_str().unwrap_or("\"\""))),
        ))
    }
}

/// `ETag: "<version>"`.
pub fn etag_header(version: i32) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&locking::etag(version)) {
        headers.insert(ETAG, value);
    }
    headers
}
