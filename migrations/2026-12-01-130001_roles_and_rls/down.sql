-- Undoes up.sql in this database. The roles are cluster-wide and may serve other
-- databases on the same server, so they are left in place (only this database's
-- privileges and policies are removed).
CREATE OR REPLACE FUNCTION ensure_audit_log_partitions(months_ahead integer DEFAULT 2)
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
GRANT EXECUTE ON FUNCTION ensure_audit_log_partitions(integer) TO PUBLIC;

ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM tenantry_app;

DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', t);
        EXECUTE format('DROP POLICY IF EXISTS platform_access ON %s', t);
        EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE ALL ON %s FROM tenantry_app', t);
    END LOOP;
END;
$$;
REVOKE USAGE ON SCHEMA public FROM tenantry_app;

DROP FUNCTION tenantry_grant_app();
DROP FUNCTION tenantry_unprotect(regclass);
DROP FUNCTION tenantry_protect(regclass, text);
