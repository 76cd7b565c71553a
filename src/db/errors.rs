//! Maps Diesel errors to `AppError`, by constraint name where a constraint decides the
//! answer. Constraint names are spelled out in the migrations so
//! that this table stays stable.
//!
//! On Citus the violation happens on a worker, and the coordinator re-raises it with
//! an empty constraint field and the *shard's* constraint name in the message
//! (`duplicate key value violates unique constraint "tenants_code_key_102008"`), so the
//! name is taken from the message when the field is empty, and a shard suffix
//! (`_<shard id>`) is accepted after a known name.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

use crate::error::AppError;

/// Unique constraints and the request field each one protects (`409 already_exists`).
const UNIQUE_FIELDS: &[(&str, &str)] = &[
    ("tenants_code_key", "code"),
    ("users_tenant_email_key", "email"),
    ("budgets_tenant_category_period_key", "period"),
];

/// Foreign keys and the request field that carried the reference (`422 invalid_reference`).
const REFERENCE_FIELDS: &[(&str, &str)] = &[
    ("projects_owner_fkey", "owner_id"),
    ("tasks_assignee_fkey", "assignee_id"),
    ("tasks_project_fkey", "project_id"),
    ("items_owner_fkey", "owner_id"),
    ("expenses_submitter_fkey", "submitter_id"),
    ("expenses_approver_fkey", "approver_id"),
];

impl From<DieselError> for AppError {
    fn from(err: DieselError) -> Self {
        if is_retryable(&err) {
            return AppError::Contention(err.to_string());
        }
        match &err {
            DieselError::DatabaseError(kind, info) => {
                let constraint = constraint_of(info.constraint_name(), info.message());
                match kind {
                    DatabaseErrorKind::UniqueViolation => {
                        if let Some((_, field)) =
                            UNIQUE_FIELDS.iter().find(|(c, _)| names(c, constraint))
                        {
                            return AppError::AlreadyExists { field };
                        }
                    }
                    DatabaseErrorKind::ForeignKeyViolation => {
                        if let Some((_, field)) =
                            REFERENCE_FIELDS.iter().find(|(c, _)| names(c, constraint))
                        {
                            return AppError::InvalidReference {
                                field: (*field).to_string(),
                            };
                        }
                    }
                    DatabaseErrorKind::ClosedConnection => {
                        return AppError::DatabaseUnavailable(err.to_string());
                    }
                    DatabaseErrorKind::Unknown if is_connection_lost(info.message()) => {
                        return AppError::DatabaseUnavailable(err.to_string());
                    }
                    // `STATEMENT_TIMEOUT_MS` cut a statement short: the database is too
                    // busy for the request, not broken (503, the connection stays).
                    _ if info
                        .message()
                        .contains("canceling statement due to statement timeout") =>
                    {
                        return AppError::StatementTimeout(err.to_string());
                    }
                    _ => {}
                }
                AppError::internal(format!("{err} (constraint {constraint:?})"))
            }
            DieselError::BrokenTransactionManager => AppError::DatabaseUnavailable(err.to_string()),
            _ => AppError::internal(err),
        }
    }
}

/// The violated constraint: the error's constraint field, else the last quoted name
/// after `constraint "` in the message (Citus leaves the field empty).
fn constraint_of<'a>(field: Option<&'a str>, message: &'a str) -> &'a str {
    if let Some(name) = field.filter(|n| !n.is_empty()) {
        return name;
    }
    message
        .rsplit_once("constraint \"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(name, _)| name)
        .unwrap_or_default()
}

/// Whether `actual` is the constraint `known`, or a Citus shard's copy of it
/// (`known` followed by `_` and the shard id).
fn names(known: &str, actual: &str) -> bool {
    match actual.strip_prefix(known) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('_')
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// libpq reports a dropped server as an unclassified error with one of these texts.
fn is_connection_lost(message: &str) -> bool {
    const SIGNS: &[&str] = &[
        "server closed the connection",
        "terminating connection",
        "no connection to the server",
        "could not receive data",
        "could not send data",
        "connection to server",
        "the database system is shutting down",
        "the database system is starting up",
    ];
    SIGNS.iter().any(|s| message.contains(s))
}

/// True for errors worth retrying the whole transaction for (serialization failures,
/// deadlocks): these are contention, never a client mistake.
pub fn is_retryable(err: &DieselError) -> bool {
    match err {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        // "deadlock detected", or Citus's "involved in a distributed deadlock".
        DieselError::DatabaseError(_, info) => info.message().contains("deadlock"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_loss_texts_are_recognised() {
        assert!(is_connection_lost(
            "server closed the connection unexpectedly"
        ));
        assert!(is_connection_lost(
            "FATAL: terminating connection due to administrator command"
        ));
        assert!(!is_connection_lost(
            "duplicate key value violates unique constraint"
        ));
    }

    #[test]
    fn constraint_names_come_from_the_field_or_a_citus_message() {
        assert_eq!(
            constraint_of(Some("tenants_code_key"), "x"),
            "tenants_code_key"
        );
        assert_eq!(
            constraint_of(
                Some(""),
                "duplicate key value violates unique constraint \"tenants_code_key_102008\""
            ),
            "tenants_code_key_102008"
        );
        assert_eq!(
            constraint_of(
                None,
                "insert or update on table \"tasks_102041\" violates foreign key constraint \"tasks_project_fkey_102041\""
            ),
            "tasks_project_fkey_102041"
        );
        assert_eq!(constraint_of(None, "something else"), "");
        assert!(names("tasks_project_fkey", "tasks_project_fkey"));
        assert!(names("tasks_project_fkey", "tasks_project_fkey_102041"));
        assert!(!names("tasks_project_fkey", "tasks_project_fkey_x1"));
        assert!(!names("tasks_project_fkey", "tasks_project_fkey_"));
        assert!(!names("tasks_project_fkey", "tasks_project"));
        assert!(!names("users_tenant_email_key", "users_tenant_email_key2"));
    }

    #[test]
    fn not_found_is_internal_when_unhandled() {
        // A repository must turn NotFound into a resource-specific 404 itself; a stray one
        // is a bug, so it surfaces as a 500 rather than as a misleading 404.
        let e: AppError = DieselError::NotFound.into();
        assert!(matches!(e, AppError::Internal(_)));
    }
}
