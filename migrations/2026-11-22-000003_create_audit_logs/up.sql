-- The audit log is range-partitioned by month on "timestamp" (bounds at the first of
-- each UTC month). The primary key must contain the partition column; it leads with
-- tenant_id like every other tenant table.
CREATE TABLE audit_logs (
    tenant_id     uuid        NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            uuid        NOT NULL,
    "timestamp"   timestamptz NOT NULL DEFAULT now(),
    user_id       uuid,
    action        text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   uuid,
    severity      text        NOT NULL DEFAULT 'info'
                              CHECK (severity IN ('info', 'warning', 'error', 'critical')),
    metadata      jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    request_id    text,
    PRIMARY KEY (tenant_id, id, "timestamp")
    -- No foreign key on user_id: an audit row is history and must outlive the row it
    -- names (and a failed login may name no user at all). Deleting the tenant still
    -- removes every audit row through tenant_id.
) PARTITION BY RANGE ("timestamp");

-- Newest-first listing and keyset pagination per tenant.
CREATE INDEX audit_logs_tenant_time_idx ON audit_logs (tenant_id, "timestamp" DESC, id DESC);
-- "What happened to this row?"
-- Filters by acting user and by action.
CREATE INDEX audit_logs_tenant_user_idx ON audit_logs (tenant_id, user_id, "timestamp" DESC);
CREATE INDEX audit_logs_tenant_action_idx ON audit_logs (tenant_id, action, "timestamp" DESC);
CREATE INDEX audit_logs_tenant_resource_idx
    ON audit_logs (tenant_id, resource_type, resource_id, "timestamp" DESC);

-- Anything outside the monthly partitions lands here instead of failing the write.
CREATE TABLE audit_logs_default PARTITION OF audit_logs DEFAULT;

-- Creates the monthly partitions from the current UTC month to `months_ahead` months
-- later, skipping those that exist. Called by `migrate`, at server start and by
-- /utils/db/optimize, so the next months always exist before rows arrive.
-- Returns the names of the partitions it created.
CREATE FUNCTION ensure_audit_log_partitions(months_ahead integer DEFAULT 2)
RETURNS SETOF text
LANGUAGE plpgsql
AS $$
DECLARE
    first_month date := date_trunc('month', now() AT TIME ZONE 'UTC')::date;
    month_start date;
    part_name   text;
BEGIN
    FOR i IN 0..months_ahead LOOP
        month_start := (first_month + make_interval(months => i))::date;
        part_name := format('audit_logs_%s', to_char(month_start, 'YYYY_MM'));
        IF to_regclass(part_name) IS NULL THEN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_logs FOR VALUES FROM (%L) TO (%L)',
                part_name,
                (month_start::timestamp AT TIME ZONE 'UTC'),
                ((month_start + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            RETURN NEXT part_name;
        END IF;
    END LOOP;
END;
$$;

SELECT ensure_audit_log_partitions(2);
