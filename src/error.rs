//! `AppError`: every way a request can fail, and the one place where each failure is
//! given its HTTP status and stable `code` (docs/API.md §1 "Errors").
//!
//! `IntoResponse` produces the status, headers and a [`Problem`] stored as a response
//! extension; the problem middleware (`http::middleware::finalize_problem`) adds the
//! request id, renders the `application/problem+json` body and logs server-side causes
//! exactly once.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Field name as the client sent it (`email`, `admin.password`, `limit`).
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid id")]
    InvalidId,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("unauthorized")]
    Unauthorized,
    #[error("invalid credentials")]
    InvalidCredentials,
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("tenant suspended")]
    TenantSuspended,
    #[error("feature disabled: {0}")]
    FeatureDisabled(&'static str),
    #[error("self approval")]
    SelfApproval,
    /// A row that does not exist or belongs to another tenant; the noun names the resource kind.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("route not found")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    /// An HTTP method the server does not know at all (not even to refuse per route).
    #[error("method not implemented")]
    NotImplemented,
    #[error("URI too long")]
    UriTooLong,
    #[error("header fields too large")]
    HeaderFieldsTooLarge,
    #[error("request timeout")]
    RequestTimeout,
    /// Any other 4xx made by a layer outside our code: its status is kept.
    #[error("client error {0}")]
    ClientError(StatusCode),
    /// No password-hashing worker freed in time.
    #[error("server busy")]
    Busy { retry_after_secs: u64 },
    #[error("already exists: {field}")]
    AlreadyExists { field: &'static str },
    #[error("version conflict")]
    VersionConflict { current_version: i32 },
    #[error("precondition failed")]
    PreconditionFailed { current_version: i32 },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("invalid reference: {field}")]
    InvalidReference { field: String },
    #[error("invalid transition: {0}")]
    InvalidTransition(String),
    #[error("budget exceeded")]
    BudgetExceeded,
    #[error("no budget")]
    NoBudget,
    #[error("budget below spent")]
    BudgetBelowSpent,
    #[error("quota exceeded")]
    QuotaExceeded,
    #[error("last admin")]
    LastAdmin,
    #[error("precondition required")]
    PreconditionRequired,
    /// Another request with the same `Idempotency-Key` is still running.
    #[error("idempotency key in progress")]
    IdempotencyInProgress,
    /// The `Idempotency-Key` was first used with another request.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    #[error("database unavailable: {0}")]
    DatabaseUnavailable(String),
    #[error("request timed out")]
    Timeout,
    /// A statement cut off by `STATEMENT_TIMEOUT_MS`; the string is the database's text.
    #[error("statement timeout: {0}")]
    StatementTimeout(String),
    /// A serialization failure or deadlock: retried by `db::write_for_retrying`, and
    /// only seen by a client (as 503) if every retry lost.
    #[error("contention: {0}")]
    Contention(String),
    /// Anything unexpected. The string is for the log only; the client sees an opaque 500.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Seconds a client should wait before retrying when the database is unavailable.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

impl AppError {
    /// A `422 validation_failed` for one field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AppError::Validation(vec![FieldError::new(field, message)])
    }

    /// Wraps any unexpected error as a 500 whose cause is logged, never shown.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        AppError::Internal(cause.to_string())
    }

    /// Status and stable code, the single table behind docs/API.md §1.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use AppError::*;
        match self {
            MalformedJson(_) => (StatusCode::BAD_REQUEST, "malformed_json"),
            InvalidId => (StatusCode::BAD_REQUEST, "invalid_id"),
            InvalidCursor => (StatusCode::BAD_REQUEST, "invalid_cursor"),
            InvalidQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            TenantSuspended => (StatusCode::FORBIDDEN, "tenant_suspended"),
            FeatureDisabled(_) => (StatusCode::FORBIDDEN, "feature_disabled"),
            SelfApproval => (StatusCode::FORBIDDEN, "self_approval"),
            NotFound(_) | RouteNotFound => (StatusCode::NOT_FOUND, "not_found"),
            MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            NotImplemented => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            UriTooLong => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            HeaderFieldsTooLarge => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_fields_too_large",
            ),
            RequestTimeout => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            ClientError(status) => (*status, "bad_request"),
            Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "server_busy"),
            AlreadyExists { .. } => (StatusCode::CONFLICT, "already_exists"),
            VersionConflict { .. } => (StatusCode::CONFLICT, "version_conflict"),
            PreconditionFailed { .. } => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            InvalidReference { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_reference"),
            InvalidTransition(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_transition"),
            BudgetExceeded => (StatusCode::UNPROCESSABLE_ENTITY, "budget_exceeded"),
            NoBudget => (StatusCode::UNPROCESSABLE_ENTITY, "no_budget"),
            BudgetBelowSpent => (StatusCode::UNPROCESSABLE_ENTITY, "budget_below_spent"),
            QuotaExceeded => (StatusCode::UNPROCESSABLE_ENTITY, "quota_exceeded"),
            LastAdmin => (StatusCode::UNPROCESSABLE_ENTITY, "last_admin"),
            PreconditionRequired => (StatusCode::PRECONDITION_REQUIRED, "precondition_required"),
            IdempotencyInProgress => (StatusCode::CONFLICT, "idempotency_in_progress"),
            IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            DatabaseUnavailable(_) | Timeout | StatementTimeout(_) | Contention(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, "database_unavailable")
            }
            Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
        }
    }

    /// The human-readable `detail`. Never contains SQL, ids, paths or another tenant's data.
    fn detail(&self) -> String {
        use AppError::*;
        match self {
            MalformedJson(_) => "the request body is not valid JSON".into(),
            InvalidId => "the id in the path is not a valid UUID".into(),
            InvalidCursor => "the cursor is malformed or was not issued for this list".into(),
            InvalidQuery(why) => format!("invalid query parameter: {why}"),
            Unauthorized => "a valid bearer token is required".into(),
            InvalidCredentials => "invalid tenant, email or password".into(),
            Forbidden(why) => (*why).into(),
            TenantSuspended => "the tenant is suspended".into(),
            FeatureDisabled(feature) => {
                format!("the {feature} feature is disabled for this tenant")
            }
            SelfApproval => "an expense cannot be approved by its submitter".into(),
            NotFound(what) => format!("{what} not found"),
            RouteNotFound => "no route matches this request".into(),
            MethodNotAllowed => "this route does not accept this method".into(),
            NotImplemented => "the server does not know this HTTP method".into(),
            UriTooLong => "the request URI is too long".into(),
            HeaderFieldsTooLarge => "the request has too many or too large header fields".into(),
            RequestTimeout => "the request did not arrive in time".into(),
            ClientError(_) => "the request was refused".into(),
            Busy { .. } => "the server is busy; retry later".into(),
            AlreadyExists { field } => format!("a row with this {field} already exists"),
            VersionConflict { .. } => "the version sent is not the current version".into(),
            PreconditionFailed { .. } => "If-Match does not match the current version".into(),
            PayloadTooLarge => "the request body is larger than 1 MiB".into(),
            UnsupportedMediaType => "the request body must be application/json".into(),
            Validation(_) => "the request is not valid".into(),
            InvalidReference { field } => format!("{field} does not refer to a row of this tenant"),
            InvalidTransition(why) => why.clone(),
            BudgetExceeded => "the budget has not enough remaining for this expense".into(),
            NoBudget => "there is no budget for this category and period".into(),
            BudgetBelowSpent => "the amount would be below what is already spent".into(),
            QuotaExceeded => "the tenant has reached its maximum number of active users".into(),
            LastAdmin => "the tenant must keep at least one active admin".into(),
            PreconditionRequired => "send the current version in the body or in If-Match".into(),
            IdempotencyInProgress => {
                "a request with this Idempotency-Key is still running; retry later".into()
            }
            IdempotencyKeyReused => "this Idempotency-Key was used with a different request".into(),
            RateLimited { .. } => "too many requests; retry later".into(),
            DatabaseUnavailable(_) => "the database is unavailable; retry later".into(),
            Timeout | StatementTimeout(_) => {
                "the request did not finish in time; retry later".into()
            }
            Contention(_) => "the database is busy; retry later".into(),
            Internal(_) => "an unexpected error occurred".into(),
        }
    }

    /// What is logged for a server-side failure; `None` for client mistakes.
    fn log_cause(&self) -> Option<String> {
        match self {
            AppError::Internal(cause)
            | AppError::DatabaseUnavailable(cause)
            | AppError::Contention(cause)
            | AppError::StatementTimeout(cause) => Some(cause.clone()),
            AppError::Timeout => Some("request timeout".into()),
            _ => None,
        }
    }

    /// Builds the problem document (without the request id, added by the middleware).
    pub fn to_problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        let mut problem = Problem::new(status, code, self.detail());
        match self {
            AppError::Validation(errors) => problem.errors = Some(errors.clone()),
            AppError::InvalidReference { field } => {
                problem.errors = Some(vec![FieldError::new(field.clone(), "unknown reference")])
            }
            AppError::AlreadyExists { field } => {
                problem.errors = Some(vec![FieldError::new(*field, "already exists")])
            }
            AppError::VersionConflict { current_version }
            | AppError::PreconditionFailed { current_version } => {
                problem.current_version = Some(*current_version)
            }
            _ => {}
        }
        problem
    }
}

/// Every `code` a problem document can carry: the OpenAPI `enum` of `Problem.code`. A unit
/// test checks that every [`AppError`] variant's code is listed here.
pub const PROBLEM_CODES: &[&str] = &[
    "bad_request",
    "malformed_json",
    "invalid_id",
    "invalid_cursor",
    "invalid_query",
    "unauthorized",
    "invalid_credentials",
    "forbidden",
    "tenant_suspended",
    "feature_disabled",
    "self_approval",
    "not_found",
    "method_not_allowed",
    "request_timeout",
    "already_exists",
    "version_conflict",
    "idempotency_in_progress",
    "precondition_failed",
    "payload_too_large",
    "uri_too_long",
    "unsupported_media_type",
    "validation_failed",
    "invalid_reference",
    "invalid_transition",
    "budget_exceeded",
    "no_budget",
    "budget_below_spent",
    "quota_exceeded",
    "last_admin",
    "idempotency_key_reused",
    "precondition_required",
    "rate_limited",
    "header_fields_too_large",
    "database_unavailable",
    "server_busy",
    "not_implemented",
    "internal_error",
];

/// The schema of `Problem.code`: a string enum of [`PROBLEM_CODES`].
pub struct ProblemCode;

impl utoipa::PartialSchema for ProblemCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let mut schema = crate::http::docs::string_enum(PROBLEM_CODES.iter().copied(), false);
        if let utoipa::openapi::schema::Schema::Object(o) = &mut schema {
            o.description = Some("Stable snake_case code clients switch on.".into());
        }
        utoipa::openapi::RefOr::T(schema)
    }
}

impl ToSchema for ProblemCode {
    fn name() -> std::borrow::Cow<'static, str> {
        "ProblemCode".into()
    }
}

/// An RFC 9457 problem document, as sent to clients.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable snake_case code clients switch on.
    #[schema(value_type = ProblemCode)]
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<FieldError>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_version: Option<i32>,
}

impl Problem {
    pub fn new(status: StatusCode, code: &'static str, detail: String) -> Self {
        Problem {
            type_: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail,
            code,
            request_id: None,
            errors: None,
            current_version: None,
        }
    }

    /// Renders the body bytes.
    pub fn to_body(&self) -> Vec<u8> {
        // Serializing plain strings and numbers cannot fail; fall back to a fixed body anyway.
        serde_json::to_vec(self)
            .unwrap_or_else(|_| br#"{"type":"about:blank","status":500}"#.to_vec())
    }
}

/// Carried from `AppError::into_response` to the problem middleware.
#[derive(Debug, Clone)]
pub struct ProblemExtension {
    pub problem: Problem,
    /// Server-side cause to log once; `None` for client mistakes.
    pub cause: Option<String>,
}

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let problem = self.to_problem();
        let status =
            StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, problem.to_body()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match &self {
            AppError::Unauthorized => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            AppError::RateLimited { retry_after_secs } | AppError::Busy { retry_after_secs } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from((*retry_after_secs).max(1)),
                );
            }
            AppError::DatabaseUnavailable(_)
            | AppError::Timeout
            | AppError::StatementTimeout(_) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(DATABASE_RETRY_AFTER_SECS),
                );
            }
            _ => {}
        }
        response.extensions_mut().insert(ProblemExtension {
            problem,
            cause: self.log_cause(),
        });
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(err: AppError, status: u16, code: &str) {
        let (s, c) = err.status_and_code();
        assert_eq!((s.as_u16(), c), (status, code), "{err:?}");
        let response = err.into_response();
        assert_eq!(response.status().as_u16(), status);
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
        let ext = response
            .extensions()
            .get::<ProblemExtension>()
            .expect("problem extension");
        assert_eq!(ext.problem.code, code);
        assert!(
            PROBLEM_CODES.contains(&code),
            "{code} missing from PROBLEM_CODES"
        );
    }

    #[test]
    fn every_variant_maps_to_its_contract_status_and_code() {
        check(AppError::MalformedJson("x".into()), 400, "malformed_json");
        check(AppError::InvalidId, 400, "invalid_id");
        check(AppError::InvalidCursor, 400, "invalid_cursor");
        check(AppError::InvalidQuery("limit".into()), 400, "invalid_query");
        check(AppError::Unauthorized, 401, "unauthorized");
        check(AppError::InvalidCredentials, 401, "invalid_credentials");
        check(AppError::Forbidden("no"), 403, "forbidden");
        check(AppError::TenantSuspended, 403, "tenant_suspended");
        check(AppError::FeatureDisabled("items"), 403, "feature_disabled");
        check(AppError::SelfApproval, 403, "self_approval");
        check(AppError::NotFound("task"), 404, "not_found");
        check(AppError::RouteNotFound, 404, "not_found");
        check(AppError::MethodNotAllowed, 405, "method_not_allowed");
        check(
            AppError::AlreadyExists { field: "code" },
            409,
            "already_exists",
        );
        check(
            AppError::VersionConflict { current_version: 3 },
            409,
            "version_conflict",
        );
        check(
            AppError::PreconditionFailed { current_version: 3 },
            412,
            "precondition_failed",
        );
        check(AppError::PayloadTooLarge, 413, "payload_too_large");
        check(
            AppError::UnsupportedMediaType,
            415,
            "unsupported_media_type",
        );
        check(AppError::invalid("email", "bad"), 422, "validation_failed");
        check(
            AppError::InvalidReference {
                field: "owner_id".into(),
            },
            422,
            "invalid_reference",
        );
        check(
            AppError::InvalidTransition("no".into()),
            422,
            "invalid_transition",
        );
        check(AppError::BudgetExceeded, 422, "budget_exceeded");
        check(AppError::NoBudget, 422, "no_budget");
        check(AppError::BudgetBelowSpent, 422, "budget_below_spent");
        check(AppError::QuotaExceeded, 422, "quota_exceeded");
        check(AppError::LastAdmin, 422, "last_admin");
        check(AppError::PreconditionRequired, 428, "precondition_required");
        check(
            AppError::IdempotencyInProgress,
            409,
            "idempotency_in_progress",
        );
        check(
            AppError::IdempotencyKeyReused,
            422,
            "idempotency_key_reused",
        );
        check(
            AppError::RateLimited {
                retry_after_secs: 1,
            },
            429,
            "rate_limited",
        );
        check(
            AppError::DatabaseUnavailable("down".into()),
            503,
            "database_unavailable",
        );
        check(AppError::Timeout, 503, "database_unavailable");
        check(
            AppError::Contention("deadlock".into()),
            503,
            "database_unavailable",
        );
        check(AppError::internal("boom"), 500, "internal_error");
        check(AppError::NotImplemented, 501, "not_implemented");
        check(AppError::UriTooLong, 414, "uri_too_long");
        check(
            AppError::HeaderFieldsTooLarge,
            431,
            "header_fields_too_large",
        );
        check(AppError::RequestTimeout, 408, "request_timeout");
        check(
            AppError::ClientError(StatusCode::IM_A_TEAPOT),
            418,
            "bad_request",
        );
        check(
            AppError::Busy {
                retry_after_secs: 1,
            },
            503,
            "server_busy",
        );
    }

    #[test]
    fn unauthorized_carries_www_authenticate_and_limits_carry_retry_after() {
        let r = AppError::Unauthorized.into_response();
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let r = AppError::RateLimited {
            retry_after_secs: 7,
        }
        .into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "7");
        let r = AppError::DatabaseUnavailable("x".into()).into_response();
        assert!(r.headers().contains_key(header::RETRY_AFTER));
    }

    #[test]
    fn internal_causes_are_logged_not_shown() {
        let err = AppError::internal("relation \"secret_table\" does not exist");
        let problem = err.to_problem();
        let body = String::from_utf8(problem.to_body()).unwrap();
        assert!(!body.contains("secret_table"));
        let r = err.into_response();
        let ext = r.extensions().get::<ProblemExtension>().unwrap();
        assert!(ext.cause.as_deref().unwrap().contains("secret_table"));
    }

    #[test]
    fn conflicts_carry_the_current_version_and_validation_the_fields() {
        let p = AppError::VersionConflict { current_version: 7 }.to_problem();
        assert_eq!(p.current_version, Some(7));
        let p = AppError::invalid("email", "must be a valid email address").to_problem();
        assert_eq!(p.errors.unwrap()[0].field, "email");
    }
}
