//! `Idempotency-Key` on the creating and acting `POST`s (docs/API.md §1 "idempotency").
//!
//! [`fingerprint`] (middleware) hashes method, path and body of a `POST` that carries the
//! header, before the body is parsed; a handler takes the result with the [`Idempotency`]
//! extractor and runs its change through [`write`] (or [`write_retrying`]), which, in the
//! change's own transaction, takes the key's lock (`409 idempotency_in_progress` if another
//! request holds it), answers a stored first answer again (`Idempotent-Replayed: true`) or
//! refuses a key first used with another request (`422 idempotency_key_reused`), and else
//! runs the change and stores its answer with it. Without the header nothing changes.
//!
//! Platform routes: `POST /api/v1/tenants` keys the new tenant ([`platform`]), the
//! `/utils/db` maintenance `POST`s keep their answers in the server ([`maintenance`]).

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use diesel::PgConnection;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::auth::TenantContext;
use crate::db;
use crate::error::AppError;
use crate::http::extract::BODY_LIMIT;
use crate::repos::idempotency::{self as repo, StoredAnswer};

mod maintenance;
mod platform;

pub use maintenance::{Claim, MaintenanceKeys};
pub use platform::{create_tenant_keyed, stored_tenant_answer, tenant_id_for};

/// The request header.
pub const HEADER: &str = "idempotency-key";
/// Set on an answer that was replayed from the stored first one.
pub const REPLAYED: &str = "idempotent-replayed";

/// The operations (OpenAPI `operationId`) that take `Idempotency-Key`.
pub const OPERATIONS: &[&str] = &[
    "create_user",
    "create_project",
    "create_task",
    "create_budget",
    "create_expense",
    "submit_expense",
    "approve_expense",
    "reject_expense",
    "create_item",
    "create_tenant",
    "optimize",
    "vacuum",
    "reindex",
];

/// A valid key and the fingerprint of the request that carried it.
#[derive(Debug, Clone)]
pub struct Keyed {
    key: String,
    hash: Vec<u8>,
}

/// What [`fingerprint`] found: a usable key, or a header that is not one.
#[derive(Debug, Clone)]
enum Found {
    Key(Keyed),
    Invalid,
}

/// 1..=255 visible ASCII characters.
fn valid_key(value: &[u8]) -> bool {
    (1..=255).contains(&value.len()) && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Reads the body of a `POST` with `Idempotency-Key` to fingerprint it, then hands the
/// same bytes on.
pub async fn fingerprint(req: Request, next: Next) -> Response {
    fingerprint_then(req, |req| next.run(req)).await
}

/// [`fingerprint`], then `inner` (so that it can share one middleware with the layers
/// around it, see `http::middleware::innermost`).
pub async fn fingerprint_then<F, Fut>(req: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    if req.method() != Method::POST {
        return inner(req).await;
    }
    let Some(raw) = req.headers().get(HEADER).map(|v| v.as_bytes().to_vec()) else {
        return inner(req).await;
    };
    let (mut parts, body) = req.into_parts();
    if !valid_key(&raw) {
        parts.extensions.insert(Found::Invalid);
        return inner(Request::from_parts(parts, body)).await;
    }
    let bytes = match to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return AppError::PayloadTooLarge.into_response(),
    };
    let mut hasher = Sha256::new();
    hasher.update(parts.method.as_str().as_bytes());
    hasher.update([0]);
    hasher.update(parts.uri.path().as_bytes());
    hasher.update([0]);
    hasher.update(&bytes);
    parts.extensions.insert(Found::Key(Keyed {
        key: String::from_utf8_lossy(&raw).into_owned(),
        hash: hasher.finalize().to_vec(),
    }));
    inner(Request::from_parts(parts, Body::from(bytes))).await
}

/// The request's key, if it sent one; an unusable header is `422 validation_failed`.
#[derive(Debug, Clone)]
pub struct Idempotency(pub Option<Keyed>);

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        match parts.extensions.get::<Found>() {
            None => Ok(Idempotency(None)),
            Some(Found::Key(k)) => Ok(Idempotency(Some(k.clone()))),
            Some(Found::Invalid) => Err(AppError::invalid(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )),
        }
    }
}

/// A change's result: made now, or the stored answer of the first request with the key.
#[derive(Debug)]
pub enum Outcome<T> {
    Fresh(T),
    Replayed(StoredAnswer),
}

impl<T> Outcome<T> {
    /// The response: `fresh` builds it from a new result; a replay is the stored status,
    /// body and ETag with `Idempotent-Replayed: true`.
    pub fn respond(self, fresh: impl FnOnce(T) -> Response) -> Response {
        match self {
            Outcome::Fresh(t) => fresh(t),
            Outcome::Replayed(answer) => replayed(answer),
        }
    }
}

/// A stored first answer again: its status, body and ETag, with `Idempotent-Replayed: true`.
pub fn replayed(answer: StoredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status as u16).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    if let Some(etag) = answer
        .etag
        .as_deref()
        .and_then(|e| HeaderValue::from_str(e).ok())
    {
        headers.insert(header::ETAG, etag);
    }
    (status, headers, answer.body).into_response()
}

/// How the first answer of a change looks: its status and, for versioned rows, the ETag.
#[derive(Debug)]
pub struct Answer<T> {
    pub status: StatusCode,
    pub version: Option<fn(&T) -> i32>,
}

// By hand: a derive would ask `T: Clone`, and only the function pointer is copied.
impl<T> Clone for Answer<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Answer<T> {}

/// The key's lock, its stored answer or refusal, else `f` and its answer stored, all on
/// `conn` (inside the caller's transaction), for the keys of tenant `scope`.
fn run_scoped<T, F>(
    conn: &mut PgConnection,
    scope: uuid::Uuid,
    keyed: &Keyed,
    answer: Answer<T>,
    f: F,
) -> Result<Outcome<T>, AppError>
where
    T: Serialize,
    F: FnOnce(&mut PgConnection) -> Result<T, AppError>,
{
    repo::lock(conn, scope, &keyed.key)?;
    let now = chrono::Utc::now();
    if let Some(stored) = stored(conn, scope, keyed, now)? {
        return Ok(Outcome::Replayed(stored));
    }
    let result = f(conn)?;
    let stored = StoredAnswer {
        request_hash: keyed.hash.clone(),
        status: answer.status.as_u16() as i16,
        body: serde_json::to_string(&result).map_err(AppError::internal)?,
        etag: answer.version.map(|v| crate::db::locking::etag(v(&result))),
    };
    repo::store(conn, scope, &keyed.key, &stored, now)?;
    Ok(Outcome::Fresh(result))
}

/// The live answer stored for the key, if any; `422 idempotency_key_reused` when it
/// was stored for another request.
fn stored(
    conn: &mut PgConnection,
    scope: uuid::Uuid,
    keyed: &Keyed,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<StoredAnswer>, AppError> {
    match repo::find(conn, scope, &keyed.key, now)? {
        Some(stored) if stored.request_hash == keyed.hash => Ok(Some(stored)),
        Some(_) => Err(AppError::IdempotencyKeyReused),
        None => Ok(None),
    }
}

/// [`db::write_for`] with the key's check and the stored answer in the same transaction.
pub async fn write<T, F>(
    app: &AppState,
    ctx: &TenantContext,
    key: Idempotency,
    answer: Answer<T>,
    f: F,
) -> Result<Outcome<T>, AppError>
where
    F: FnOnce(&mut PgConnection, &TenantContext) -> Result<T, AppError> + Send + 'static,
    T: Serialize + Send + 'static,
{
    match key.0 {
        None => db::write_for(app, ctx, f).await.map(Outcome::Fresh),
        Some(keyed) => {
            db::write_for(app, ctx, move |conn, ctx| {
                run_scoped(conn, ctx.tenant_id(), &keyed, answer, |c| f(c, ctx))
            })
            .await
        }
    }
}

/// As [`write`], over [`db::write_for_retrying`] (the transaction is retried whole on
/// contention, the key's check included).
pub async fn write_retrying<T, F>(
    app: &AppState,
    ctx: &TenantContext,
    key: Idempotency,
    answer: Answer<T>,
    f: F,
) -> Result<Outcome<T>, AppError>
where
    F: Fn(&mut PgConnection, &TenantContext) -> Result<T, AppError> + Send + Sync + Clone + 'static,
    T: Serialize + Send + 'static,
{
    match key.0 {
        None => db::write_for_retrying(app, ctx, f)
            .await
            .map(Outcome::Fresh),
        Some(keyed) => {
            db::write_for_retrying(app, ctx, move |conn, ctx| {
                run_scoped(conn, ctx.tenant_id(), &keyed, answer, |c| f(c, ctx))
            })
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::valid_key;

    #[test]
    fn keys_are_visible_ascii_up_to_255() {
        assert!(valid_key(b"a"));
        assert!(valid_key(&[b'k'; 255]));
        assert!(!valid_key(b""));
        assert!(!valid_key(&[b'k'; 256]));
        assert!(!valid_key(b"with space"));
        assert!(!valid_key("é".as_bytes()));
    }
}
