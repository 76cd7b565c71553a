-- Daily per-tenant figures (docs/API.md §9), upserted by `tenantry metrics refresh` and by
-- POST /utils/db/optimize. One row per tenant per UTC day; a refresh later the same day
-- overwrites that day's row. Measures of tables that do not exist yet stay 0.
CREATE TABLE tenant_metrics (
    tenant_id       uuid             NOT NULL,
    date            date             NOT NULL,
    user_count      bigint           NOT NULL DEFAULT 0 CHECK (user_count >= 0),
    active_users    bigint           NOT NULL DEFAULT 0 CHECK (active_users >= 0),
    project_count   bigint           NOT NULL DEFAULT 0 CHECK (project_count >= 0),
    task_count      bigint           NOT NULL DEFAULT 0 CHECK (task_count >= 0),
    item_count      bigint           NOT NULL DEFAULT 0 CHECK (item_count >= 0),
    expense_count   bigint           NOT NULL DEFAULT 0 CHECK (expense_count >= 0),
    audit_log_count bigint           NOT NULL DEFAULT 0 CHECK (audit_log_count >= 0),
    -- An estimate: see ops::metrics for how it is computed.
    storage_used_mb double precision NOT NULL DEFAULT 0 CHECK (storage_used_mb >= 0),
    refreshed_at    timestamptz      NOT NULL DEFAULT now(),
    -- Leads with tenant_id; also serves the date-range reads of one tenant.
    CONSTRAINT tenant_metrics_pkey PRIMARY KEY (tenant_id, date),
    CONSTRAINT tenant_metrics_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE
);
