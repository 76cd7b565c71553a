//! The OpenAPI 3.1 document served at `/openapi.json`.
//!
//! Paths and schemas come from the `#[utoipa::path]` annotations of the handlers that the
//! route table registers, so the document lists exactly the routes that exist. The error
//! answers that follow from a route's shape (a path id, a body, a token, a list) are
//! added here in one place rather than repeated on every handler; handler-specific ones
//! (409, 412, 428, particular 422 codes) are annotated on the handler and kept.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr};

use serde_json::{Map, Value, json};

use crate::error::{FieldError, PROBLEM_CODES, Problem, ProblemCode};

/// The document's fixed parts: metadata and shared schemas.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Tenantry",
        description = "Multi-tenant REST API with column-based tenant isolation. Every error is \
            application/problem+json with a stable `code`: a wrong method is 405 \
            `method_not_allowed`, an unexpected failure 500 `internal_error`, a request that \
            exceeds the request timeout 503 `database_unavailable`. An unknown enum value in a \
            query filter is 422 `validation_failed`; a value that cannot be parsed at all (such \
            as limit=abc) is 400 `invalid_query`. Versioned rows (tasks, budgets, expenses) carry \
            an ETag; every versioned change (PATCH and the expense workflow actions) takes the \
            version in the body or in If-Match (`\"<n>\"`, `W/\"<n>\"` or `*` for any \
            version); an If-Match that matches no version is 412. Route-specific rules are in \
            each operation's description; more notes (idempotency keys, integral numbers, \
            conditional requests, rate-limit headers, CORS, /docs) in docs/API.md §12."
    ),
    components(schemas(Problem, ProblemCode, FieldError))
)]
pub struct ApiDoc;

/// Routes that need no token.
fn is_public(path: &str) -> bool {
    path.starts_with("/health/")
        || path == "/metrics"
        || path == "/openapi.json"
        || path == "/api/v1/auth/login"
}

/// Routes that never touch the database.
fn is_static(path: &str) -> bool {
    path == "/health/live" || path == "/metrics" || path == "/openapi.json"
}

fn problem(description: &str) -> RefOr<Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

fn add(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| problem(description));
}

fn complete_operation(path: &str, op: &mut Operation) {
    let has_id = path.contains('{');
    let has_body = op.request_body.is_some();
    let has_query = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Query))
    });
    if has_id {
        add(op, "400", "invalid_id: a path id is not a UUID");
        add(
            op,
            "404",
            "not_found: no such row in the caller's tenant (the same answer for another tenant's id)",
        );
    }
    if has_body {
        add(op, "400", "malformed_json: the body is not valid JSON");
        add(op, "413", "payload_too_large: the body is over 1 MiB");
        add(
            op,
            "415",
            "unsupported_media_type: Content-Type is not application/json",
        );
        add(
            op,
            "422",
            "validation_failed: a field is missing, of the wrong type, unknown, or out of range",
        );
    }
    if has_query {
        add(
            op,
            "400",
            "invalid_query / invalid_cursor: a query parameter or the cursor cannot be parsed",
        );
        add(
            op,
            "422",
            "validation_failed: limit outside 1..=100 or an unknown filter value",
        );
    }
    if !is_public(path) {
        add(
            op,
            "401",
            "unauthorized: missing, malformed, expired or wrongly signed token; unknown or inactive user",
        );
        add(
            op,
            "403",
            "forbidden (role too low, or wrong kind of token), tenant_suspended, feature_disabled",
        );
        if path.starts_with("/api/v1/") && !path.starts_with("/api/v1/tenants") {
            add(
                op,
                "429",
                "rate_limited: the tenant's request budget is spent (see Retry-After)",
            );
        }
        op.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
    if !is_static(path) {
        add(
            op,
            "503",
            "database_unavailable: the database did not answer in time (see Retry-After)",
        );
    }
}

fn complete_path(path: &str, item: &mut PathItem) {
    if let Some(op) = item.get.as_mut() {
        complete_operation(path, op);
    }
    for op in [
        item.post.as_mut(),
        item.patch.as_mut(),
        item.put.as_mut(),
        item.delete.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        complete_operation(path, op);
    }
}

/// Adds the shape-derived error answers and the bearer security scheme.
fn finish_typed(mut api: OpenApi) -> OpenApi {
    for (path, item) in api.paths.paths.iter_mut() {
        complete_path(path, item);
    }
    let components = api.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .build(),
        ),
    );
    api
}

/// The finished document as JSON. What utoipa's types cannot say is added at this level:
/// the list parameters (`limit`, `cursor`) defined once under `components.parameters` and
/// referenced by every list, `minProperties: 1` on the update bodies that must change
/// something, and each operation's possible problem codes in its description.
pub fn finish(api: OpenApi) -> Value {
    let mut doc = serde_json::to_value(finish_typed(api)).unwrap_or(Value::Null);
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.insert("parameters".into(), list_parameters());
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            for (name, schema) in schemas.iter_mut() {
                if REQUIRE_A_CHANGE.contains(&name.as_str()) {
                    require_a_change(schema);
                }
            }
        }
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            for (method, op) in item.iter_mut() {
                let Some(op) = op.as_object_mut() else {
                    continue;
                };
                op.insert("x-method".into(), Value::String(method.clone()));
                if is_list(op) {
                    let params = op.entry("parameters").or_insert_with(|| json!([]));
                    if let Some(params) = params.as_array_mut() {
                        params.push(json!({"$ref": "#/components/parameters/limit"}));
                        params.push(json!({"$ref": "#/components/parameters/cursor"}));
                    }
                }
                if OPTIONAL_BODIES
                    .contains(&op.get("operationId").and_then(Value::as_str).unwrap_or(""))
                {
                    if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
                        body.insert("required".into(), Value::Bool(false));
                    }
                }
                let operation_id = op.get("operationId").and_then(Value::as_str).unwrap_or("");
                if crate::http::idempotency::OPERATIONS.contains(&operation_id) {
                    document_idempotency(op);
                }
                if is_list(op) {
                    document_link(op);
                }
                if has_etag(op) && op_is_get(op) {
                    document_not_modified(op);
                }
                describe_problem_codes(op);
                op.remove("x-method");
            }
        }
    }
    doc
}

/// Operations whose body may be left out entirely (`http::extract::OptionalJson`).
const OPTIONAL_BODIES: &[&str] = &["vacuum", "reindex"];

/// Update bodies that the server refuses (`422`) when they change no field; the others
/// (users, items, tenants) answer an empty change with the row as it is.
const REQUIRE_A_CHANGE: &[&str] = &[
    "UpdateProjectRequest",
    "UpdateTaskRequest",
    "UpdateExpenseRequest",
];

/// At least one property, and not `version` alone (the version says which row state is
/// changed; it is not itself a change).
fn require_a_change(schema: &mut Value) {
    schema["minProperties"] = json!(1);
    let versioned = schema
        .pointer("/properties/version")
        .is_some_and(|v| !v.is_null());
    if versioned {
        schema["not"] = json!({"required": ["version"], "maxProperties": 1});
    }
}

fn op_is_get(op: &Map<String, Value>) -> bool {
    op.get("x-method").and_then(Value::as_str) == Some("get")
}

fn has_etag(op: &Map<String, Value>) -> bool {
    op.get("responses")
        .and_then(|r| r.get("200"))
        .and_then(|r| r.get("headers"))
        .and_then(|h| h.get("etag"))
        .is_some()
}

fn push_parameter(op: &mut Map<String, Value>, parameter: Value) {
    if let Some(params) = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        params.push(parameter);
    }
}

/// Adds `text` to the description of the `status` answer (creating a problem answer).
fn add_answer(op: &mut Map<String, Value>, status: &str, text: &str) {
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    let entry = responses.entry(status.to_string()).or_insert_with(|| {
        json!({"description": "", "content": {"application/problem+json": {
            "schema": {"$ref": "#/components/schemas/Problem"}}}})
    });
    let old = entry
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let description = if old.is_empty() {
        text.to_string()
    } else {
        format!("{old}; {text}")
    };
    entry["description"] = Value::String(description);
}

/// `Idempotency-Key` (docs/API.md §1 "idempotency").
fn document_idempotency(op: &mut Map<String, Value>) {
    push_parameter(
        op,
        json!({
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "Makes a retry safe: within 24 h the same key with the same request gets \
                the first answer again (with `Idempotent-Replayed: true`) and changes nothing.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"}
        }),
    );
    add_answer(
        op,
        "409",
        "idempotency_in_progress: a request with this Idempotency-Key is still running",
    );
    add_answer(
        op,
        "422",
        "idempotency_key_reused: this Idempotency-Key came first with another request",
    );
    if let Some(ok) = op
        .get_mut("responses")
        .and_then(Value::as_object_mut)
        .and_then(|r| r.iter_mut().find(|(status, _)| status.starts_with('2')))
        .and_then(|(_, answer)| answer.as_object_mut())
    {
        let headers = ok.entry("headers").or_insert_with(|| json!({}));
        headers["idempotent-replayed"] = json!({
            "description": "`true` when this is the stored answer of an earlier request with the key",
            "schema": {"type": "string", "enum": ["true"]}
        });
    }
}

/// `Link: <...>; rel="next"` on lists.
fn document_link(op: &mut Map<String, Value>) {
    if let Some(ok) = op
        .get_mut("responses")
        .and_then(|r| r.get_mut("200"))
        .and_then(Value::as_object_mut)
    {
        let headers = ok.entry("headers").or_insert_with(|| json!({}));
        headers["link"] = json!({
            "description": "`<same path and query with the next cursor>; rel=\"next\"` when `next_cursor` is set",
            "schema": {"type": "string"}
        });
    }
}

/// `If-None-Match` → `304` on a GET whose answer has an ETag.
fn document_not_modified(op: &mut Map<String, Value>) {
    push_parameter(
        op,
        json!({
            "name": "If-None-Match", "in": "header", "required": false,
            "description": "An ETag from an earlier answer: `304 Not Modified` while it is still current.",
            "schema": {"type": "string"}
        }),
    );
    if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
        responses.insert(
            "304".into(),
            json!({"description": "Not Modified: the If-None-Match ETag is current",
                   "headers": {"etag": {"schema": {"type": "string"}}}}),
        );
    }
}

/// `?limit=` and `?cursor=`, shared by every keyset-paginated list.
fn list_parameters() -> Value {
    json!({
        "limit": {
            "name": "limit", "in": "query", "required": false,
            "description": "Page size, 1..=100 (default 50); outside the range `422 validation_failed`.",
            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 100, "default": 50}
        },
        "cursor": {
            "name": "cursor", "in": "query", "required": false,
            "description": "Opaque `next_cursor` of the previous page of the same list (same filters \
                and sort); absent or empty: the first page; any other value is `400 invalid_cursor`.",
            "schema": {"type": "string"}
        }
    })
}

/// A keyset-paginated list answers a `Page_*` schema.
fn is_list(op: &Map<String, Value>) -> bool {
    op.get("responses")
        .and_then(|r| r.get("200"))
        .and_then(|r| r.pointer("/content/application~1json/schema/$ref"))
        .and_then(Value::as_str)
        .is_some_and(|r| r.starts_with("#/components/schemas/Page_"))
}

/// Appends "Problem codes: ..." (every code named by the operation's error answers).
fn describe_problem_codes(op: &mut Map<String, Value>) {
    let mut codes: Vec<&str> = Vec::new();
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        for (status, response) in responses {
            if !(status.starts_with('4') || status.starts_with('5')) {
                continue;
            }
            let text = response
                .get("description")
                .and_then(Value::as_str)
                .unwrap_or("");
            for word in text.split(|c: char| !(c.is_ascii_lowercase() || c == '_')) {
                if PROBLEM_CODES.contains(&word) && !codes.contains(&word) {
                    codes.push(word);
                }
            }
        }
    }
    if codes.is_empty() {
        return;
    }
    let note = format!("Problem codes: {}.", codes.join(", "));
    let description = match op.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
        _ => note,
    };
    op.insert("description".into(), Value::String(description));
}
