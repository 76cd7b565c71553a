//! Response sets shared by several routes' OpenAPI annotations, written once.

use utoipa::IntoResponses;

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
