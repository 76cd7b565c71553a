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
    budgets (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        category -> Text,
        period -> Date,
        amount_cents -> Int8,
        spent_cents -> Int8,
        remaining_cents -> Int8,
        version -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    expenses (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        submitter_id -> Uuid,
        category -> Text,
        amount_cents -> Int8,
        currency -> Text,
        description -> Text,
        incurred_on -> Date,
        period -> Date,
        status -> Text,
        version -> Int4,
        approver_id -> Nullable<Uuid>,
        decided_at -> Nullable<Timestamptz>,
        rejection_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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
    projects (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        owner_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    tasks (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Uuid,
        project_id -> Uuid,
        title -> Text,
        description -> Nullable<Text>,
        status -> Text,
        completed -> Bool,
        priority -> Int4,
        due_at -> Nullable<Timestamptz>,
        assignee_id -> Nullable<Uuid>,
        version -> Int4,
        completed_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
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
        tokens_valid_after -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(audit_logs -> tenants (tenant_id));
diesel::joinable!(budgets -> tenants (tenant_id));
diesel::joinable!(expenses -> tenants (tenant_id));
diesel::joinable!(projects -> tenants (tenant_id));
diesel::joinable!(tasks -> tenants (tenant_id));
diesel::joinable!(items -> tenants (tenant_id));
diesel::joinable!(tenant_metrics -> tenants (tenant_id));
diesel::joinable!(users -> tenants (tenant_id));

diesel::allow_tables_to_appear_in_same_query!(
    audit_logs,
    budgets,
    expenses,
    items,
    login_throttles,
    projects,
    tasks,
    tenant_metrics,
    tenants,
    users,
);
