//! Request middleware, outermost first:
//!
//! 0. [`refuse_early`]: a method the server does not know (`501`), a URI or header block
//!    too large (`414`/`431`) are answered here, complete, before anything records the
//!    request: no log line, no metric, nothing that grows with made-up values.
//! 1. [`request_context`]: request id (kept from `x-request-id` or made), the request's
//!    tracing span (method, route, request id, trace and span id from `traceparent` or
//!    new, tenant id filled in by the auth extractor), the one log line per request, the
//!    request metrics, and the `x-request-id` and `traceparent` response headers.
//! 2. [`security_headers`]: the four headers every response carries (applied by
//!    [`request_context`] itself in the router, with the CORS preflight's `204`).
//! 3. [`finalize_problem`]: every 4xx/5xx becomes `application/problem+json` with the
//!    request id, including the framework's own rejections (unknown route, wrong method,
//!    body limit); server-side causes are logged here, once. A response marked
//!    [`KeepBody`] keeps its own body.
//! 4. [`request_timeout`]: a request still running after the budget answers 503 (in the
//!    router as part of [`innermost`], with the HTTP conventions and the
//!    `Idempotency-Key` fingerprint inside it).

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
use crate::telemetry::trace_context;

/// Longest request target (path and query) the router accepts, in bytes. Longer ones
/// that hyper refuses itself (over 64 KiB, or a head over its read buffer) get the same
/// answer from the accept loop (`connections::refusals`).
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header fields a request may carry.
pub const MAX_HEADERS: usize = 100;

/// The methods of RFC 9110 and PATCH: the only ones routes are matched for (and the
/// only values the metrics' method label can take).
pub fn is_known_method(method: &axum::http::Method) -> bool {
    use axum::http::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .contains(method)
}

/// Refuses what the contract refuses before routing: unknown methods, URIs and header
/// blocks too large. The answer is complete here (problem+json, request id, security
/// headers) because the layers that would add them also record the request.
pub async fn refuse_early(req: Request, next: Next) -> Response {
    let refusal = if !is_known_method(req.method()) {
        Some(AppError::NotImplemented)
    } else if req
        .uri()
        .path_and_query()
        .is_some_and(|pq| pq.as_str().len() > MAX_URI_BYTES)
    {
        Some(AppError::UriTooLong)
    } else if req.headers().len() > MAX_HEADERS {
        Some(AppError::HeaderFieldsTooLarge)
    } else {
        None
    };
    let Some(error) = refusal else {
        return next.run(req).await;
    };
    let (parts, body) = refusal_parts(error, req.headers().get(request_id::HEADER));
    Response::from_parts(parts, Body::from(body))
}

/// The complete answer for `error` outside the usual layers: problem+json with the
/// request id (the client's `x-request-id` when usable), the security headers and no
/// `content-length` (the writer sets it). Also used by the accept loop for the heads
/// hyper refuses before any router sees them (`connections::refusals`).
pub fn refusal_parts(
    error: AppError,
    incoming_id: Option<&HeaderValue>,
) -> (axum::http::response::Parts, Vec<u8>) {
    let request_id = RequestId::from_incoming(incoming_id);
    let mut response = error.into_response();
    let body = response
        .extensions_mut()
        .remove::<ProblemExtension>()
        .map(|ext| {
            let mut problem = ext.problem;
            problem.request_id = Some(request_id.as_str().to_string());
            problem.to_body()
        });
    let (mut parts, _) = response.into_parts();
    add_security_headers(&mut parts.headers);
    parts.headers.insert(
        HeaderName::from_static(request_id::HEADER),
        request_id.header_value(),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    (parts, body.unwrap_or_default())
}

/// Request id, span, access log line and metrics.
pub async fn request_context(mut req: Request, next: Next) -> Response {
    let request_id = RequestId::from_incoming(req.headers().get(request_id::HEADER));
    req.extensions_mut().insert(request_id.clone());
    let in_flight = crate::metrics::InFlight::start();
    let method = req.method().clone();
    // `MatchedPath` is a shared string: cloning it does not allocate.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("<unmatched>", MatchedPath::as_str);
    let trace = crate::telemetry::RequestTrace::begin(
        req.headers()
            .get(trace_context::HEADER)
            .map(HeaderValue::as_bytes),
    );
    let span = tracing::info_span!(
        "request",
        method = %method,
        route = %route,
        request_id = %request_id.as_str(),
        trace_id = trace.trace_id_field(),
        span_id = trace.span_id_field(),
        tenant_id = tracing::field::Empty,
    );
    let trace = trace.attach(&span);
    // What [`security_headers`] and `conventions::preflight_no_content` do, done here
    // rather than as two more middleware (each costs allocations per request).
    let is_api = is_api(&req);
    let preflight = crate::http::conventions::is_preflight(&req);
    let started = Instant::now();
    let mut response = next.run(req).instrument(span.clone()).await;
    crate::http::conventions::preflight_status(preflight, &mut response);
    apply_security_headers(is_api, response.headers_mut());
    let elapsed = started.elapsed();
    response.headers_mut().insert(
        HeaderName::from_static(request_id::HEADER),
        request_id.header_value(),
    );
    response.headers_mut().insert(
        HeaderName::from_static(trace_context::HEADER),
        trace.header_value(),
    );
    let status = response.status().as_u16();
    if crate::telemetry::otlp::enabled() {
        crate::telemetry::otlp::finish(&span, status);
    }
    crate::metrics::record_request(&method, route, status, elapsed);
    drop(in_flight);
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request finished"
        );
    });
    response
}

/// The security headers of docs/API.md §10, on every response, and `Cache-Control:
/// no-store` on every `/api` response (tenant data must not sit in any cache).
pub async fn security_headers(req: Request, next: Next) -> Response {
    let is_api = is_api(&req);
    let mut response = next.run(req).await;
    apply_security_headers(is_api, response.headers_mut());
    response
}

fn is_api(req: &Request) -> bool {
    req.uri().path().starts_with("/api/")
}

/// The headers of [`security_headers`], on an answer to a request under `/api` or not.
fn apply_security_headers(is_api: bool, headers: &mut axum::http::HeaderMap) {
    add_security_headers(headers);
    if is_api {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

fn add_security_headers(h: &mut axum::http::HeaderMap) {
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
    problem.request_id = request_id.map(|r| r.as_str().to_string());
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
        StatusCode::REQUEST_TIMEOUT => AppError::RequestTimeout,
        StatusCode::URI_TOO_LONG => AppError::UriTooLong,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => AppError::HeaderFieldsTooLarge,
        StatusCode::NOT_IMPLEMENTED => AppError::NotImplemented,
        StatusCode::SERVICE_UNAVAILABLE => AppError::Timeout,
        // Any other 4xx keeps its own status (a 400 is still `malformed_json`, what
        // axum's body and JSON rejections mean).
        StatusCode::BAD_REQUEST => AppError::MalformedJson("rejected with 400".into()),
        s if s.is_client_error() => AppError::ClientError(s),
        s => AppError::internal(format!("framework answered {s}")),
    }
}

/// Bounds the whole request by `REQUEST_TIMEOUT_MS` so nothing hangs; the statement
/// timeout set on every connection is shorter, so the database work stops too.
pub async fn request_timeout(State(app): State<AppState>, req: Request, next: Next) -> Response {
    with_budget(&app, next.run(req)).await
}

async fn with_budget(app: &AppState, inner: impl Future<Output = Response>) -> Response {
    match tokio::time::timeout(app.config.request_timeout, inner).await {
        Ok(response) => response,
        Err(_) => AppError::Timeout.into_response(),
    }
}

/// The three innermost steps as one middleware, in this order: [`request_timeout`]
/// around `conventions::conventions` around `idempotency::fingerprint`. Each separate
/// `from_fn` layer costs a boxed future, a boxed `Next` and a clone of the route on
/// every request; composed here they cost one of each.
pub async fn innermost(State(app): State<AppState>, req: Request, next: Next) -> Response {
    with_budget(
        &app,
        crate::http::conventions::around(&app, req, |req| {
            crate::http::idempotency::fingerprint_then(req, |req| next.run(req))
        }),
    )
    .await
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    /// A 4xx from a layer that attached no problem keeps its status and gets the code
    /// of that status, not `malformed_json`/400.
    #[tokio::test]
    async fn unknown_4xx_keep_their_status_and_get_a_fitting_code() {
        for (status, code) in [
            (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            (StatusCode::URI_TOO_LONG, "uri_too_long"),
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_fields_too_large",
            ),
            (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            (StatusCode::IM_A_TEAPOT, "bad_request"),
            (StatusCode::LENGTH_REQUIRED, "bad_request"),
        ] {
            let router = Router::new()
                .route("/", get(move || async move { status.into_response() }))
                .layer(axum::middleware::from_fn(super::finalize_problem));
            let res = router
                .oneshot(Request::get("/").body(Body::empty()).expect("request"))
                .await
                .expect("infallible");
            assert_eq!(res.status(), status);
            let bytes = res.into_body().collect().await.expect("body").to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&bytes).expect("problem");
            assert_eq!(body["status"], status.as_u16(), "{body}");
            assert_eq!(body["code"], code, "{body}");
        }
    }
}
