//! Authentication and the tenant context: JWT verification (HS256 only), Argon2id
//! passwords, roles, and the extractors that turn a bearer token into a
//! [`TenantContext`] or a [`PlatformAdmin`].

pub mod client_addr;
pub mod context;
pub mod hashing;
pub mod jwt;
pub mod password;
pub mod principal_cache;
pub mod rate_limit;
pub mod role;

pub use context::{PlatformAdmin, TenantContext};
pub use role::{Feature, Role};
