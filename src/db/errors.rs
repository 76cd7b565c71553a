//! Maps Diesel errors to `AppError`, by constraint name where a constraint decides the
//! answer. Constraint names are spelled out in the migrations so
//! that this table stays stable.

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
                let constraint = info.constraint_name().unwrap_or_default();
                match kind {
                    DatabaseErrorKind::UniqueViolation => {
                        if let Some((_, field)) =
                            UNIQUE_FIELDS.iter().find(|(c, _)| *c == constraint)
                        {
                            return AppError::AlreadyExists { field };
                        }
                    }
                    DatabaseErrorKind::ForeignKeyViolation => {
                        if let Some((_, field)) =
                            REFERENCE_FIELDS.iter().find(|(c, _)| *c == constraint)
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
                    _ => {}
                }
                AppError::internal(format!("{err} (constraint {constraint:?})"))
            }
            DieselError::BrokenTransactionManager => AppError::DatabaseUnavailable(err.to_string()),
            _ => AppError::internal(err),
        }
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
        DieselError::DatabaseError(_, info) => info.message().contains("deadlock detected"),
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
    fn not_found_is_internal_when_unhandled() {
        // A repository must turn NotFound into a resource-specific 404 itself; a stray one
        // is a bug, so it surfaces as a 500 rather than as a misleading 404.
        let e: AppError = DieselError::NotFound.into();
        assert!(matches!(e, AppError::Internal(_)));
    }
}
