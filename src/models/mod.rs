//! Rows as Diesel reads and writes them, and as the API returns them.

pub mod audit_log;
pub mod budget;
pub mod expense;
pub mod item;
pub mod period;
pub mod project;
pub mod task;
pub mod tenant;
pub mod tenant_metrics;
pub mod text_enum;
pub mod user;
