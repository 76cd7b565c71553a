//! Repositories: the only code that touches tenant tables.
//!
//! Every tenant-table query starts from a private `scoped(ctx)` base query that already
//! filters `tenant_id` by the caller's [`TenantContext`](crate::auth::TenantContext);
//! inserts take `tenant_id` from the context. A test greps that the table DSL of tenant
//! tables appears nowhere outside this module.

pub mod audit;
pub mod audit_logs;
pub mod budgets;
pub mod expenses;
pub mod idempotency;
pub mod items;
pub mod logins;
pub mod principals;
pub mod projects;
pub mod reports;
pub mod seed;
pub mod tasks;
pub mod tenant_data;
pub mod tenant_metrics;
pub mod tenants;
pub mod users;
