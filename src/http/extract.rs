//! Extractors that parse requests at the boundary and turn every framework rejection
//! into the contract's problem codes (docs/API.md §1):
//!
//! * [`AppJson`]: `415` without `Content-Type: application/json`, `413` over 1 MiB,
//!   `400 malformed_json` for bad syntax, `422 validation_failed` naming the field for
//!   wrong types, nulls, unknown fields, unknown enum values and U+0000 in strings.
//! * [`OptionalJson`]: as `AppJson`, but no body at all means "all defaults".
//! * [`AppPath`]: `400 invalid_id` for a path id that is not a UUID.
//! * [`AppQuery`]: `400 invalid_query` for a parameter that cannot be parsed.
//! * [`PageParams`]: `limit` (1..=100, else `422`) and `cursor`.

use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use bytes::Bytes;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::db::pagination::PageRequest;
use crate::error::{AppError, FieldError};

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// A JSON body parsed into `T` under the contract's rules.
#[derive(Debug, Clone)]
pub struct AppJson<T>(pub T);

impl<T, S> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Err(AppError::UnsupportedMediaType);
        }
        let bytes = read_body(req, state).await?;
        parse_json(&bytes).map(AppJson)
    }
}

/// A JSON body that may be left out entirely: no body and no `Content-Type` is
/// `T::default()`; anything else is parsed exactly as [`AppJson`] does (so a body sent
/// without `Content-Type: application/json` is still `415`). For actions whose fields
/// are all optional, such as `POST /utils/db/vacuum`.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<T, S> FromRequest<S> for OptionalJson<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        if req.headers().contains_key(CONTENT_TYPE) {
            return AppJson::from_request(req, state)
                .await
                .map(|AppJson(v)| OptionalJson(v));
        }
        let bytes = read_body(req, state).await?;
        if bytes.is_empty() {
            Ok(OptionalJson(T::default()))
        } else {
            Err(AppError::UnsupportedMediaType)
        }
    }
}

/// The whole body, within [`BODY_LIMIT`] (`413` beyond it).
async fn read_body<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, AppError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::MalformedJson(rejection.body_text())
        }
    })
}

/// `application/json`, with or without parameters such as `; charset=utf-8`.
fn is_json(value: Option<&axum::http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Parses a body: syntax first (`400`), then NUL characters and the target type (`422`).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let mut value: Value =
        serde_json::from_slice(bytes).map_err(|e| AppError::MalformedJson(e.to_string()))?;
    // serde would also read a struct from an array of its fields in order.
    if !value.is_object() {
        return Err(AppError::invalid("body", "must be a JSON object"));
    }
    integral_numbers(&mut value);
    if let Some(field) = find_nul(&value, String::new()) {
        return Err(AppError::invalid(
            field_or_body(field),
            "must not contain U+0000",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        AppError::Validation(vec![describe(&path, &message)])
    })
}

/// JSON Schema (and so the OpenAPI document) counts `5.0` and `5e0` as the integer 5, but
/// serde reads them as floats and would refuse them for an integer field. Every number
/// with no fractional part that fits an `i64` is turned into that integer first; no
/// request field of this API is a float.
fn integral_numbers(value: &mut Value) {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64() {
                // `as` saturates, so the round trip also rejects values beyond i64.
                if f.fract() == 0.0 && (f as i64) as f64 == f && f.abs() < 9.2e18 {
                    *value = Value::from(f as i64);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// The path of the first string (or key) containing U+0000.
fn find_nul(value: &Value, path: String) -> Option<String> {
    match value {
        Value::String(s) if s.contains('\0') => Some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| find_nul(v, format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(here)
            } else {
                find_nul(v, here)
            }
        }),
        _ => None,
    }
}

fn field_or_body(path: String) -> String {
    if path.is_empty() || path == "." {
        "body".into()
    } else {
        path
    }
}

/// Turns a serde error at `path` into a field error. serde reports an unknown or
/// missing field at the *containing* path, naming the field in the message; that name
/// is moved into `field`, and the message is rewritten so it never echoes input.
fn describe(path: &str, message: &str) -> FieldError {
    // serde_path_to_error already ends the path with an unknown field's name, but not
    // with a missing one's.
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_string()
        } else if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    if message.starts_with("unknown field") {
        if let Some(name) = quoted(message) {
            return FieldError::new(join(&name), "is not accepted by this endpoint");
        }
    }
    if message.starts_with("missing field") {
        if let Some(name) = quoted(message) {
            return FieldError::new(join(&name), "is required");
        }
    }
    let field = field_or_body(path.to_string());
    if message.starts_with("invalid type: null") {
        return FieldError::new(field, "must not be null");
    }
    if message.starts_with("unknown variant") {
        let expected = message.split("expected ").nth(1).unwrap_or("a known value");
        return FieldError::new(field, format!("must be {expected}"));
    }
    if let Some(expected) = message
        .strip_prefix("invalid type: ")
        .and_then(|m| m.split("expected ").nth(1))
    {
        return FieldError::new(field, format!("must be {expected}"));
    }
    // Chrono, UUID and range errors say what is wrong without quoting input.
    FieldError::new(
        field,
        message
            .split(" at line ")
            .next()
            .unwrap_or(message)
            .to_string(),
    )
}

/// A path parameter (usually a UUID); anything unparseable is `400 invalid_id`.
#[derive(Debug, Clone)]
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(v)| AppPath(v))
            .map_err(|_| AppError::InvalidId)
    }
}

/// Query parameters; one that cannot be parsed is `400 invalid_query`. Unknown
/// parameters are ignored, as most HTTP APIs do.
#[derive(Debug, Clone)]
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or("");
        // A raw NUL cannot be in a URI, so U+0000 arrives only as `%00`: this finds
        // every decoded key or value containing it, without decoding.
        if query.contains("%00") {
            return Err(AppError::InvalidQuery(
                "query parameters must not contain U+0000".into(),
            ));
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(AppQuery)
            .map_err(|e| {
                let field = e.path().to_string();
                let inner = e.inner().to_string();
                let why = inner.split(" at line ").next().unwrap_or(&inner);
                AppError::InvalidQuery(if field.is_empty() || field == "." {
                    why.to_string()
                } else {
                    format!("{field}: {why}")
                })
            })
    }
}

#[derive(Debug, Deserialize)]
struct RawPage {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// `?limit=&cursor=` of any list.
#[derive(Debug, Clone)]
pub struct PageParams(pub PageRequest);

impl<S: Send + Sync> FromRequestParts<S> for PageParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let AppQuery(raw) = AppQuery::<RawPage>::from_request_parts(parts, state).await?;
        Ok(PageParams(PageRequest::new(raw.limit, raw.cursor)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: i32,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        flag: bool,
    }

    fn field_of(body: &str) -> (String, String) {
        match parse_json::<Body>(body.as_bytes()) {
            Err(AppError::Validation(e)) => (e[0].field.clone(), e[0].message.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_malformed_json() {
        assert!(matches!(
            parse_json::<Body>(b"{\"name\":"),
            Err(AppError::MalformedJson(_))
        ));
        assert!(matches!(
            parse_json::<Body>(b""),
            Err(AppError::MalformedJson(_))
        ));
    }

    #[test]
    fn type_errors_name_the_field() {
        assert_eq!(field_of(r#"{"name":"a","count":"x"}"#).0, "count");
        assert_eq!(
            field_of(r#"{"name":null,"count":1}"#),
            ("name".into(), "must not be null".into())
        );
        assert_eq!(
            field_of(r#"{"count":1}"#),
            ("name".into(), "is required".into())
        );
        assert_eq!(
            field_of(r#"{"name":"a","count":1,"tenant_id":"x"}"#).0,
            "tenant_id"
        );
        assert_eq!(
            field_of(r#"{"name":"a","count":1,"inner":{"flag":1}}"#).0,
            "inner.flag"
        );
        assert_eq!(
            field_of(r#"{"name":"a","count":1,"inner":{"other":1}}"#).0,
            "inner.other"
        );
        assert_eq!(field_of(r#"{"name":"a\u0000b","count":1}"#).0, "name");
    }

    #[test]
    fn content_type_parameters_are_accepted() {
        use axum::http::HeaderValue;
        assert!(is_json(Some(&HeaderValue::from_static(
            "application/json; charset=utf-8"
        ))));
        assert!(is_json(Some(&HeaderValue::from_static("Application/JSON"))));
        assert!(!is_json(Some(&HeaderValue::from_static("text/plain"))));
        assert!(!is_json(None));
    }
}
