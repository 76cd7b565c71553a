// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "tsvector", schema = "pg_catalog"))]
    pub struct Tsvector;
}

diesel::table! {
    audit_logs (tenant_id, id, timestamp) {
        tenant_id -> Uuid,
        id -> Uuid,
        timestamp -> Timestamptz,
        user_id -> Nullable<Uuid>,
        action -> Text,
        resource_type -> Text,
        resource_id -> Nullable<Uuid>,
        severity -> Text,
        metadata -> Jsonb,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::Tsvector;

    items (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        title -> Text,
        description -> Nullable<Text>,
        owner_id -> Uuid,
        search -> Tsvector,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    login_throttles (tenant_code, email) {
        tenant_code -> Text,
        email -> Text,
        failures -> Int4,
        window_started_at -> Timestamptz,
    }
}

diesel::table! {
    tenant_metrics (tenant_id, date) {
        tenant_id -> Uuid,
        date -> Date,
        user_count -> Int8,
        active_users -> Int8,
        project_count -> Int8,
        task_count -> Int8,
        item_count -> Int8,
        expense_count -> Int8,
        audit_log_count -> Int8,
        storage_used_mb -> Float8,
        refreshed_at -> Timestamptz,
    }
}

diesel::table! {
    tenants (id) {
        id -> Uuid,
        name -> Text,
        code -> Text,
        status -> Text,
        max_users -> Int4,
        max_storage_gb -> Int4,
        features_enabled -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    users (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        email -> Text,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        is_active -> Bool,
        last_login_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::joinable!(audit_logs -> tenants (tenant_id));
diesel::joinable!(items -> tenants (tenant_id));
diesel::joinable!(tenant_metrics -> tenants (tenant_id));
diesel::joinable!(users -> tenants (tenant_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_logs,
    items,
    login_throttles,
    tenant_metrics,
    tenants,
    users,
);
