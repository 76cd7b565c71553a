//! Request middleware, outermost first:
//!
//! 1. [`request_context`]: request id (kept from `x-request-id` or made), the request's
//!    tracing span (method, route, request id, tenant id filled in by the auth
//!    extractor), the one log line per request, the request metrics, and the
//!    `x-request-id` response header.
//! 2. [`security_headers`]: the four headers every response carries.
//! 3. [`finalize_problem`]: every 4xx/5xx becomes `application/problem+json` with the
//!    request id, including the framework's own rejections (unknown route, wrong method,
//!    body limit); server-side causes are logged here, once. A response marked
//!    [`KeepBody`] keeps its own body.
//! 4. [`request_timeout`]: a request still running after the budget answers 503.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use crate::app::AppState;
use crate::error::{AppError, PROBLEM_JSON, ProblemExtension};
use crate::request_id::{self, RequestId};

/// Request id, span, access log line and metrics.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id =
        RequestId::from_incoming(req.headers().get(request_id::HEADER).map(|v| v.as_bytes()));
    req.extensions_mut().insert(request_id.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_string(), |p| p.as_str().to_string());
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %request_id.0,
        tenant_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(request_id::HEADER), value);
    }
    let status = response.status().as_u16();
    crate::metrics::record_request(method.as_str(), &route, status, elapsed);
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    response
}

/// The security headers of docs/API.md §10, on every response.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let h = response.headers_mut();
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    // The /docs page sets a policy of its own (`http::docs_page`); everything else gets this.
    if !h.contains_key("content-security-policy") {
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// Marks an error response whose body is deliberately not a problem document, so
/// [`finalize_problem`] leaves it alone: `GET /utils/db/health` answers `503` in its own
/// shape (docs/API.md §10).
#[derive(Debug, Clone, Copy)]
pub struct KeepBody;

/// Renders every error response as problem+json with the request id.
pub async fn finalize_problem(req: Request, next: Next) -> Response {
    let request_id = req.extensions().get::<RequestId>().cloned();
    let mut response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<KeepBody>().is_some()
    {
        return response;
    }
    let ProblemExtension { mut problem, cause } =
        match response.extensions_mut().remove::<ProblemExtension>() {
            Some(ext) => ext,
            // A rejection made by axum or tower-http itself, not by our code.
            None => match framework_error(status)
                .into_response()
                .extensions_mut()
                .remove::<ProblemExtension>()
            {
                Some(ext) => ext,
                None => return response,
            },
        };
    if let Some(cause) = &cause {
        tracing::error!(status = status.as_u16(), cause = %cause, "request failed");
    }
    problem.request_id = request_id.map(|r| r.0);
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(problem.to_body()))
}

/// The contract's error for a status the framework produced on its own.
fn framework_error(status: StatusCode) -> AppError {
    match status {
        StatusCode::NOT_FOUND => AppError::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => AppError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::UnsupportedMediaType,
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => AppError::Timeout,
        s if s.is_client_error() => AppError::MalformedJson(format!("rejected with {s}")),
        s => AppError::internal(format!("framework answered {s}")),
    }
}

/// Bounds the whole request by `REQUEST_TIMEOUT_MS` so nothing hangs; the statement
/// timeout set on every connection is shorter, so the database work stops too.
pub async fn request_timeout(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(app.config.request_timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}
