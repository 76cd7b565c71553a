//! Optimistic locking shared by every versioned resource (tasks, budgets, expenses).
//!
//! A change is a single `UPDATE ... WHERE tenant_id = $1 AND id = $2 AND version = $3
//! RETURNING *`. When no row comes back, one scoped lookup of the current version tells
//! "not found" (404) from "stale" (409 for a body `version`, 412 for `If-Match`).

use crate::error::AppError;

/// The version a client says it is changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// `version` in the body: stale is `409 version_conflict`.
    Body(i32),
    /// `If-Match: "<version>"`: stale is `412 precondition_failed`.
    IfMatch(i32),
    /// Both were sent; each must match.
    Both { body: i32, if_match: i32 },
    /// `If-Match: *`: any current version (RFC 9110), so no lock is taken.
    Any,
}

impl Expected {
    /// From the body's `version` and the parsed `If-Match`; neither is `428`.
    pub fn from_parts(body: Option<i32>, if_match: Option<IfMatch>) -> Result<Self, AppError> {
        match (body, if_match) {
            (None, None) => Err(AppError::PreconditionRequired),
            (Some(v), None) => Ok(Expected::Body(v)),
            (None, Some(IfMatch::Version(v))) => Ok(Expected::IfMatch(v)),
            (None, Some(IfMatch::Any)) => Ok(Expected::Any),
            (Some(v), Some(IfMatch::Any)) => Ok(Expected::Body(v)),
            (Some(body), Some(IfMatch::Version(if_match))) => Ok(Expected::Both { body, if_match }),
        }
    }

    /// The version the `UPDATE` must find, or `None` for `If-Match: *`. When the two
    /// sources disagree nothing can match: `-1` is never a version.
    pub fn version(self) -> Option<i32> {
        match self {
            Expected::Body(v) | Expected::IfMatch(v) => Some(v),
            Expected::Both { body, if_match } => Some(if body == if_match { body } else { -1 }),
            Expected::Any => None,
        }
    }

    /// The error for a row that exists at `current` but did not match.
    pub fn conflict(self, current: i32) -> AppError {
        match self {
            Expected::Body(_) => AppError::VersionConflict {
                current_version: current,
            },
            Expected::IfMatch(_) | Expected::Any => AppError::PreconditionFailed {
                current_version: current,
            },
            Expected::Both { body, .. } if body != current => AppError::VersionConflict {
                current_version: current,
            },
            Expected::Both { .. } => AppError::PreconditionFailed {
                current_version: current,
            },
        }
    }

    /// For rows read under `SELECT ... FOR UPDATE`: `Ok` when `current` is what the
    /// client expected.
    pub fn check(self, current: i32) -> Result<(), AppError> {
        match self.version() {
            Some(v) if v != current => Err(self.conflict(current)),
            _ => Ok(()),
        }
    }

    /// Decides a missed update from the row's current version (`None`: no such row).
    pub fn miss(self, current: Option<i32>, what: &'static str) -> AppError {
        match current {
            None => AppError::NotFound(what),
            Some(v) => self.conflict(v),
        }
    }
}

/// A parsed `If-Match` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    Version(i32),
    Any,
}

impl IfMatch {
    /// Accepts `"7"`, `W/"7"`, `7` and `*`. Anything else can match no version, so it
    /// is kept as version `-1` (a `412`, as RFC 9110 prescribes for a failed match).
    pub fn parse(raw: &str) -> Self {
        let raw = raw.trim();
        if raw == "*" {
            return IfMatch::Any;
        }
        let tag = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
        IfMatch::Version(tag.parse().ok().filter(|v: &i32| *v >= 1).unwrap_or(-1))
    }
}

/// The `ETag` of a versioned row.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neither_is_428_and_each_source_has_its_conflict() {
        assert!(matches!(
            Expected::from_parts(None, None),
            Err(AppError::PreconditionRequired)
        ));
        let body = Expected::from_parts(Some(3), None).unwrap();
        assert!(matches!(
            body.miss(Some(4), "task"),
            AppError::VersionConflict { current_version: 4 }
        ));
        assert!(matches!(
            body.miss(None, "task"),
            AppError::NotFound("task")
        ));
        let header = Expected::from_parts(None, Some(IfMatch::parse("\"3\""))).unwrap();
        assert!(matches!(
            header.miss(Some(4), "task"),
            AppError::PreconditionFailed { current_version: 4 }
        ));
        let both = Expected::from_parts(Some(4), Some(IfMatch::parse("3"))).unwrap();
        assert_eq!(both.version(), Some(-1));
        assert!(matches!(
            both.conflict(4),
            AppError::PreconditionFailed { .. }
        ));
        assert_eq!(
            Expected::from_parts(None, Some(IfMatch::Any))
                .unwrap()
                .version(),
            None
        );
    }

    #[test]
    fn if_match_forms() {
        assert_eq!(IfMatch::parse("\"7\""), IfMatch::Version(7));
        assert_eq!(IfMatch::parse("W/\"7\""), IfMatch::Version(7));
        assert_eq!(IfMatch::parse("7"), IfMatch::Version(7));
        assert_eq!(IfMatch::parse("*"), IfMatch::Any);
        assert_eq!(IfMatch::parse("\"abc\""), IfMatch::Version(-1));
        assert_eq!(etag(7), "\"7\"");
    }
}
