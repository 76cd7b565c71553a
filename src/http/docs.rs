//! Pieces of the OpenAPI document shared by several routes, written once: response sets,
//! and the schemas of closed sets that the server parses from plain strings (so the enum
//! listed here is built from the same values the parser accepts).

use utoipa::IntoResponses;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::SchemaType};

use crate::error::Problem;

/// The ways a versioned change can fail its optimistic lock (tasks, budgets, expenses).
#[derive(IntoResponses)]
#[allow(dead_code)]
pub enum LockFailures {
    /// version_conflict: the body `version` is stale (carries `current_version`).
    #[response(status = 409, content_type = "application/problem+json")]
    VersionConflict(Problem),
    /// precondition_failed: `If-Match` is stale (carries `current_version`).
    #[response(status = 412, content_type = "application/problem+json")]
    PreconditionFailed(Problem),
    /// precondition_required: neither `version` nor `If-Match` was sent.
    #[response(status = 428, content_type = "application/problem+json")]
    PreconditionRequired(Problem),
}

/// A string schema with a closed set of values; `nullable` adds `null` to both.
pub fn string_enum<'a>(values: impl IntoIterator<Item = &'a str>, nullable: bool) -> Schema {
    let mut values: Vec<serde_json::Value> = values.into_iter().map(Into::into).collect();
    let schema_type = if nullable {
        values.push(serde_json::Value::Null);
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    Schema::Object(
        ObjectBuilder::new()
            .schema_type(schema_type)
            .enum_values(Some(values))
            .build(),
    )
}

/// `?sort=` of the task lists.
pub fn task_sort() -> RefOr<Schema> {
    RefOr::T(string_enum(
        crate::repos::tasks::TaskSort::ALL
            .iter()
            .map(|s| s.as_str()),
        false,
    ))
}

/// `?group_by=` of the expense report.
pub fn group_by() -> RefOr<Schema> {
    RefOr::T(string_enum(
        crate::repos::reports::GroupBy::ALL
            .iter()
            .map(|g| g.as_str()),
        false,
    ))
}

/// `table` of `/utils/db/vacuum` and `/utils/db/reindex` (absent or `null`: every table).
pub fn own_table() -> RefOr<Schema> {
    RefOr::T(string_enum(
        crate::ops::maintenance::OWN_TABLES.iter().copied(),
        true,
    ))
}
