//! Test fixtures: tenants and users.
//!
//! Most tests need a tenant with an admin and a few users of given roles, and are about
//! something else. Those fixtures are inserted directly ([`TestApp::tenant`],
//! [`TestApp::user`]), with one Argon2 hash of [`PASSWORD`] computed once per test
//! process: through the API every fixture user cost a hash, the slowest thing a test
//! did. The rows are the ones the API would insert (same defaults, `tenant_id` on every
//! tenant-owned row, so they land on the tenant's shard on Citus), and logging in with
//! [`PASSWORD`] works. Tests whose subject is the creation path use
//! [`TestApp::tenant_via_api`] and [`TestApp::user_via_api`], which go through the
//! routes (validation, quota, audit row).

use std::sync::LazyLock;

use diesel::prelude::*;
use serde_json::{Value, json};
use tenantry::auth::Role;
use tenantry::models::tenant::NewTenant;
use tenantry::models::user::NewUser;
use tenantry::schema::{tenants, users};
use uuid::Uuid;

use crate::harness::{PASSWORD, TestApp, tenant_code};

/// The Argon2 hash of [`PASSWORD`], computed once per test process.
pub static PASSWORD_HASH: LazyLock<String> =
    LazyLock::new(|| tenantry::auth::password::hash(PASSWORD).expect("hash the test password"));

/// A tenant with its first admin.
#[derive(Debug, Clone)]
pub struct TenantFixture {
    pub id: Uuid,
    pub code: String,
    pub admin: UserFixture,
}

/// A user, with a token minted for it.
#[derive(Debug, Clone)]
pub struct UserFixture {
    pub id: Uuid,
    pub email: String,
    pub token: String,
}

/// The tenant row the API inserts for `code` with `extra` create fields
/// (`max_users`, `max_storage_gb`, `features_enabled`).
fn new_tenant(code: &str, extra: &Value) -> NewTenant {
    let mut features = json!({"expenses": true, "items": true});
    let mut max_users = 100;
    let mut max_storage_gb = 10;
    for (k, v) in extra.as_object().into_iter().flatten() {
        match k.as_str() {
            "max_users" => max_users = v.as_i64().expect("max_users") as i32,
            "max_storage_gb" => max_storage_gb = v.as_i64().expect("max_storage_gb") as i32,
            "features_enabled" => {
                for (f, on) in v.as_object().expect("features_enabled") {
                    features[f] = on.clone();
                }
            }
            other => panic!("tenant fixture: unsupported field {other:?}"),
        }
    }
    NewTenant {
        id: Uuid::now_v7(),
        name: format!("Tenant {code}"),
        code: code.to_string(),
        max_users,
        max_storage_gb,
        features_enabled: features,
    }
}

fn new_user(tenant_id: Uuid, email: &str, username: &str, role: Role) -> NewUser {
    NewUser {
        tenant_id,
        id: Uuid::now_v7(),
        email: email.to_string(),
        username: username.to_string(),
        password_hash: PASSWORD_HASH.clone(),
        role,
    }
}

/// The role named `role` (`viewer`, `member`, `admin`).
fn role(role: &str) -> Role {
    Role::parse(role).unwrap_or_else(|| panic!("no role {role:?}"))
}

impl TestApp {
    /// Runs `f` on the test's fixture connection (opened once: a connection costs about
    /// what the hash it replaces did), off the async runtime.
    async fn insert<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut PgConnection) -> QueryResult<T> + Send + 'static,
    ) -> T {
        let url = self.db.url.clone();
        let slot = self.fixture_conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            let conn = match &mut *slot {
                Some(conn) => conn,
                None => slot.insert(PgConnection::establish(&url).expect("connect to test db")),
            };
            f(conn).expect("insert fixture")
        })
        .await
        .expect("fixture thread")
    }

    /// A tenant with an admin (`admin@<code>.example`), inserted directly.
    pub async fn tenant(&self, code: &str) -> TenantFixture {
        self.tenant_with(code, json!({})).await
    }

    /// As [`tenant`](Self::tenant), with extra create fields (`max_users`, ...).
    pub async fn tenant_with(&self, code: &str, extra: Value) -> TenantFixture {
        let code = tenant_code(code);
        let email = format!("admin@{code}.example");
        let tenant = new_tenant(&code, &extra);
        let tenant_id = tenant.id;
        let admin = new_user(tenant_id, &email, "admin", Role::Admin);
        let admin_id = admin.id;
        self.insert(move |conn| {
            conn.transaction(|conn| {
                diesel::insert_into(tenants::table)
                    .values(tenant)
                    .execute(conn)?;
                diesel::insert_into(users::table)
                    .values(admin)
                    .execute(conn)
            })
        })
        .await;
        TenantFixture {
            id: tenant_id,
            code,
            admin: UserFixture {
                id: admin_id,
                email,
                token: self.token_for(tenant_id, admin_id),
            },
        }
    }

    /// A user with `role` in `tenant`, inserted directly.
    pub async fn user(&self, tenant: &TenantFixture, role_name: &str) -> UserFixture {
        let email = user_email(tenant, role_name);
        let user = new_user(tenant.id, &email, role_name, role(role_name));
        let id = user.id;
        self.insert(move |conn| diesel::insert_into(users::table).values(user).execute(conn))
            .await;
        UserFixture {
            id,
            email,
            token: self.token_for(tenant.id, id),
        }
    }

    /// Creates a tenant with an admin through `POST /api/v1/tenants`.
    pub async fn tenant_via_api(&self, code: &str, extra: Value) -> TenantFixture {
        let code = &tenant_code(code);
        let email = format!("admin@{code}.example");
        let mut body = json!({
            "name": format!("Tenant {code}"),
            "code": code,
            "admin": {"email": email, "username": "admin", "password": PASSWORD},
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                b.insert(k.clone(), v.clone());
            }
        }
        let r = self
            .post("/api/v1/tenants", &self.platform_token(), body)
            .await;
        r.expect(201, None);
        let id = r.id();
        let admin_id =
            Uuid::parse_str(r.body["admin_user"]["id"].as_str().expect("admin id")).expect("uuid");
        TenantFixture {
            id,
            code: code.to_string(),
            admin: UserFixture {
                id: admin_id,
                email,
                token: self.token_for(id, admin_id),
            },
        }
    }

    /// Creates a user with `role` in `tenant` through `POST /api/v1/users`.
    pub async fn user_via_api(&self, tenant: &TenantFixture, role: &str) -> UserFixture {
        let email = user_email(tenant, role);
        let r = self
            .post(
                "/api/v1/users",
                &tenant.admin.token,
                json!({"email": email, "username": role, "password": PASSWORD, "role": role}),
            )
            .await;
        r.expect(201, None);
        let id = r.id();
        UserFixture {
            id,
            email,
            token: self.token_for(tenant.id, id),
        }
    }
}

/// A unique email for a fixture user of `tenant`.
fn user_email(tenant: &TenantFixture, role: &str) -> String {
    format!(
        "{}-{}@{}.example",
        role,
        &Uuid::new_v4().simple().to_string()[..8],
        tenant.code
    )
}

/// The fixture hash is a real Argon2 hash of the fixture password.
#[test]
fn the_precomputed_hash_verifies_the_fixture_password() {
    assert!(tenantry::auth::password::verify(PASSWORD, &PASSWORD_HASH));
    assert!(!tenantry::auth::password::verify(
        "wrong password",
        &PASSWORD_HASH
    ));
}
