//! Conditional-request headers: the `If-Match` extractor and `ETag` responses.

use axum::extract::FromRequestParts;
use axum::http::HeaderValue;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::response::{IntoResponseParts, ResponseParts};

use crate::db::locking::IfMatch;
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

/// `ETag: "<version>"`, as a response part: inserted straight into the response's
/// headers (no header map of its own, no formatted string).
#[derive(Debug, Clone, Copy)]
pub struct ETag(pub i32);

impl ETag {
    /// The header value, `"<version>"`, formatted on the stack.
    pub fn value(self) -> HeaderValue {
        // `"` + at most 11 characters of an i32 + `"`.
        let mut buf = [0u8; 13];
        let mut w = StackWriter(&mut buf, 0);
        let _ = std::fmt::Write::write_fmt(&mut w, format_args!("\"{}\"", self.0));
        let len = w.1;
        HeaderValue::from_bytes(&buf[..len]).unwrap_or_else(|_| HeaderValue::from_static("\"\""))
    }
}

impl IntoResponseParts for ETag {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().insert(ETAG, self.value());
        Ok(res)
    }
}

/// Writes into a fixed buffer.
struct StackWriter<'a>(&'a mut [u8; 13], usize);

impl std::fmt::Write for StackWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.1 + s.len();
        self.0
            .get_mut(self.1..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.1 = end;
        Ok(())
    }
}

/// `ETag: "<version>"`.
pub fn etag_header(version: i32) -> ETag {
    ETag(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etags_are_the_quoted_version() {
        for v in [0, 1, 42, i32::MAX, i32::MIN] {
            assert_eq!(ETag(v).value(), crate::db::locking::etag(v).as_str());
        }
    }
}
