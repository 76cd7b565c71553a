-- The third wall (docs/security.md): PostgreSQL itself refuses another tenant's
-- rows, whatever the query says.
--
-- Roles (cluster-wide, so created only when missing; every database migrated on the
-- same server shares them):
--   tenantry_app       what every tenant request runs as (the server's tenant pool does
--                      SET ROLE tenantry_app on each new connection). No SUPERUSER,
--                      CREATEDB, CREATEROLE or BYPASSRLS, owns nothing, and holds only
--                      the row privileges tenant requests need.
--   tenantry_platform  the platform path (login lookup, principal load, tenant
--                      lifecycle, /utils/db, operator commands): granted to the role that
--                      runs the migrations (the owner). It is not a BYPASSRLS role (only a
--                      superuser may grant that); a policy per table lets it see every
--                      tenant instead, so the exception is visible in the catalog.
-- tenantry_app has LOGIN but no password, so no password method lets anyone log in as
-- it: Citus opens its connections to the workers as the current role (after SET ROLE,
-- tenantry_app), which a NOLOGIN role refuses ("not permitted to log in"). On Citus the
-- operator gives it a password for those connections (docs/scaling.md, step 2).
-- The owner is whoever runs the migrations (it owns the tables). With FORCE ROW LEVEL
-- SECURITY the owner is held to the policies too; it sees every tenant only through
-- its membership of tenantry_platform.
DO $$
BEGIN
    -- Checked first, so an owner without CREATEROLE migrates when a DBA made the roles.
    IF to_regrole('tenantry_app') IS NULL THEN
        BEGIN
            CREATE ROLE tenantry_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- made concurrently by the migration of another database
        END;
    END IF;
    IF to_regrole('tenantry_platform') IS NULL THEN
        BEGIN
            CREATE ROLE tenantry_platform NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    -- The migrating role must be able to SET ROLE tenantry_app (the tenant pool does)
    -- and sees every tenant through tenantry_platform.
    IF NOT pg_has_role(current_user, 'tenantry_app', 'MEMBER') THEN
        EXECUTE format('GRANT tenantry_app TO %I', current_user);
    END IF;
    IF NOT pg_has_role(current_user, 'tenantry_platform', 'MEMBER') THEN
        EXECUTE format('GRANT tenantry_platform TO %I', current_user);
    END IF;
END;
$$;

-- Enables and forces row-level security on one tenant table, with the two policies
-- every tenant table has, and grants the application role its row privileges. Later
-- migrations call it for every new tenant table (tests/api/schema_rules.rs fails
-- otherwise). `key` is the column holding the tenant id.
--
-- The tenant policy compares with the transaction-local setting app.tenant_id, which
-- only db::read_for / db::write_for set (SET LOCAL, from the verified token). Unset, or
-- reset to '' when its transaction ended, NULLIF makes it NULL: the comparison is never
-- true, so an unscoped connection sees no rows and cannot write any, and never errors.
-- current_setting is STABLE, so the comparison is an index condition like
-- `tenant_id = $1`.
CREATE FUNCTION tenantry_protect(tbl regclass, key text DEFAULT 'tenant_id')
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s
             USING (%2$I = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)
             WITH CHECK (%2$I = NULLIF(current_setting(''app.tenant_id'', true), '''')::uuid)',
        tbl, key);
    EXECUTE format('DROP POLICY IF EXISTS platform_access ON %s', tbl);
    EXECUTE format(
        'CREATE POLICY platform_access ON %s TO tenantry_platform USING (true) WITH CHECK (true)',
        tbl);
END;
$$;
REVOKE ALL ON FUNCTION tenantry_protect(regclass, text) FROM PUBLIC;

-- The inverse of tenantry_protect, for the down migrations of later tenant tables: each
-- command on its own, so a down migration can be one statement (on Citus a migration
-- file of several commands on a distributed table fails). The application role's
-- privileges stay: they come from the default privileges below, not from
-- tenantry_protect.
CREATE FUNCTION tenantry_unprotect(tbl regclass)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', tbl);
    EXECUTE format('DROP POLICY IF EXISTS platform_access ON %s', tbl);
    EXECUTE format('ALTER TABLE %s NO FORCE ROW LEVEL SECURITY', tbl);
    EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
END;
$$;
REVOKE ALL ON FUNCTION tenantry_unprotect(regclass) FROM PUBLIC;

-- The application role's privileges in this database, derived from the schema: row
-- privileges on every table with a tenant_id column (audit_logs partitions included: a
-- partition read directly is checked against its own policies, not its parent's),
-- SELECT and a row lock on tenants (a tenant request reads its own row, and locks it
-- for the user quota; a lock needs an UPDATE privilege, here on one column), default
-- privileges for the tables the calling role makes later, and no EXECUTE on the
-- maintenance functions. Idempotent: scripts/restore.sh calls it after a restore,
-- which does not copy privileges (they name roles of the source server).
CREATE FUNCTION tenantry_grant_app()
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    t regclass;
BEGIN
    GRANT USAGE ON SCHEMA public TO tenantry_app;
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO tenantry_app', t);
    END LOOP;
    GRANT SELECT, UPDATE (updated_at) ON tenants TO tenantry_app;
    ALTER DEFAULT PRIVILEGES IN SCHEMA public
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tenantry_app;
    REVOKE ALL ON FUNCTION ensure_audit_log_partitions(integer) FROM PUBLIC;
    REVOKE ALL ON FUNCTION tenantry_protect(regclass, text) FROM PUBLIC;
    REVOKE ALL ON FUNCTION tenantry_unprotect(regclass) FROM PUBLIC;
    REVOKE ALL ON FUNCTION tenantry_grant_app() FROM PUBLIC;
END;
$$;

-- Every table with a tenant_id column, and tenants keyed by id.
DO $$
DECLARE
    t regclass;
BEGIN
    FOR t IN
        SELECT c.oid::regclass
          FROM pg_class c
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
         ORDER BY c.oid
    LOOP
        PERFORM tenantry_protect(t);
    END LOOP;
END;
$$;
SELECT tenantry_protect('tenants', 'id');
SELECT tenantry_grant_app();

-- New monthly partitions get row-level security and the grants as they are made (by
-- migrate, at server start and by /utils/db/optimize).
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
            PERFORM tenantry_protect(part_name::regclass);
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I TO tenantry_app', part_name);
            RETURN NEXT part_name;
        END IF;
    END LOOP;
END;
$$;
