//! The platform path: the one way to the database that is not held to a tenant.
//!
//! Tenant requests run as the application role on the tenant pool, and row-level
//! security shows them their own tenant only (`db::read_for` / `db::write_for`). Some
//! work must see across tenants or runs before a tenant context exists; it goes through
//! `db::platform` (the platform pool, the owner's login role, member of
//! `tenantry_platform`, whose policy on every tenant table lets it see every row) or,
//! for operator commands, through a connection of their own on the same URL
//! (`server::Database::platform_url`). It is small, and this is the whole list:
//!
//! | caller | why it must see across tenants |
//! |---|---|
//! | `http/auth.rs` (login) | finds the tenant by its code and the user by email before any tenant context exists; counts failed logins |
//! | `auth/context.rs` (principal load) | checks the token's user and tenant status while building the context |
//! | `http/tenants.rs` (platform-admin routes) | tenant create, list, read, update, delete |
//! | `http/utils_db.rs` (platform-admin routes) | database health and statistics, optimize (partitions, vacuum, metrics refresh), reindex |
//! | `ops/` (CLI: seed, tenant export/import/delete, metrics refresh, `db`) and `scripts/backup.sh` | operator commands |
//!
//! A tenant request never reaches it: the handlers of tenant routes take a
//! `TenantContext` and call only `read_for` / `write_for`, and a test
//! (`tests/api/isolation.rs`) fails when any other file under `src/http` or `src/auth`
//! calls `db::platform`.

/// The source files (under `src/`) that may call `db::platform`.
pub const CALLERS: &[&str] = &[
    "http/auth.rs",
    "auth/context.rs",
    "http/tenants.rs",
    "http/utils_db.rs",
];
