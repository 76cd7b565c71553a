-- Distributes the Tenantry schema on Citus 13 (docs/scaling.md).
--
-- Run on the coordinator, after the workers are added and `tenantry migrate` has
-- created every table there (the application's final schema: this lists the tables
-- the product has once every domain has landed):
--
--   psql "$COORDINATOR_URL" -v ON_ERROR_STOP=1 -f scripts/citus/distribute.sql
--
-- Each step is skipped when its table is distributed already, so a run that stopped
-- half-way, or a rerun after a migration added or recreated a table, does only what
-- is left. Tables that hold rows are copied into their
-- shards (see docs/scaling.md for emptying the coordinator's local copies after).

\set ON_ERROR_STOP on

-- Without this, making `tenants` a reference table while the other tables still
-- reference it locally would turn them into Citus local tables as a side effect; they
-- are distributed explicitly below instead.
SET citus.enable_local_reference_table_foreign_keys = off;

-- Refuse to start on a schema this script does not describe: every table is there,
-- and every table with tenant_id is listed below (as in repos::tenants::TENANT_TABLES).
DO $$
DECLARE
    listed text[] := ARRAY['tenants', 'users', 'projects', 'tasks', 'budgets', 'expenses',
                           'items', 'audit_logs', 'tenant_metrics', 'login_throttles',
                           'idempotency_keys'];
    missing text;
    unlisted text;
BEGIN
    SELECT string_agg(t, ', ') INTO missing
      FROM unnest(listed) AS t WHERE to_regclass('public.' || t) IS NULL;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'tables missing (run tenantry migrate first): %', missing;
    END IF;
    SELECT string_agg(c.relname, ', ') INTO unlisted
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
     WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
       AND NOT c.relispartition AND c.relname <> ALL (listed);
    IF unlisted IS NOT NULL THEN
        RAISE EXCEPTION 'tenant tables this script does not distribute: %', unlisted;
    END IF;
END
$$;

-- One step: distribute `tbl` by `col` unless it is distributed already. A Citus
-- *local* table (what a table referencing the reference table `tenants` becomes when
-- it is created after distribution, e.g. by `tenantry migrate --redo` or a new
-- migration) is in pg_dist_partition too, so "done" means hash-distributed
-- (partmethod 'h') or, for `tenants`, a reference table. create_distributed_table
-- accepts a Citus local table as it is (it undistributes it and re-creates its
-- foreign keys itself).
-- (A session-local helper: Citus warns that it is not propagated, which is the point.)
SET client_min_messages = error;
CREATE FUNCTION pg_temp.distribute(tbl regclass, col text, colocate text) RETURNS text
LANGUAGE plpgsql AS $fn$
DECLARE
    -- The name, read now: converting a Citus local table re-creates it under a new oid.
    name text := tbl::text;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = tbl AND partmethod = 'h') THEN
        RETURN name || ': already distributed';
    END IF;
    PERFORM create_distributed_table(tbl, col, colocate_with => colocate);
    RETURN name || ': distributed by ' || col;
END
$fn$;
RESET client_min_messages;

-- The root of isolation: small, read by every request, referenced by every tenant
-- table. A reference table has a full copy on every node, so the foreign keys from
-- the distributed tables to it hold on each shard.
SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_dist_partition
                          WHERE logicalrelid = 'public.tenants'::regclass AND repmodel = 't')
            THEN 'tenants: already a reference table'
            ELSE (SELECT 'tenants: reference table' FROM create_reference_table('tenants')) END;

-- The first tenant table fixes the colocation group: every other tenant table joins
-- it, so all rows of one tenant, in every table, live in the same shard group and
-- every tenant-filtered query (joins included) runs on one node.
SELECT pg_temp.distribute('users', 'tenant_id', 'default');

-- Parents before children: a composite foreign key (tenant_id, x_id) needs its target
-- distributed and colocated first.
SELECT pg_temp.distribute('projects', 'tenant_id', 'users');
SELECT pg_temp.distribute('tasks', 'tenant_id', 'users');
SELECT pg_temp.distribute('budgets', 'tenant_id', 'users');
SELECT pg_temp.distribute('expenses', 'tenant_id', 'users');
SELECT pg_temp.distribute('items', 'tenant_id', 'users');
-- Partitioned by month: distributing the parent distributes its partitions, and the
-- partitions that ensure_audit_log_partitions() creates later are distributed as
-- they are attached.
SELECT pg_temp.distribute('audit_logs', 'tenant_id', 'users');
SELECT pg_temp.distribute('tenant_metrics', 'tenant_id', 'users');

SELECT pg_temp.distribute('idempotency_keys', 'tenant_id', 'users');

-- Login throttles are keyed by the tenant code the client typed (an unknown tenant is
-- throttled like a known one), not by tenant_id: their own colocation group on it.
SELECT pg_temp.distribute('login_throttles', 'tenant_code', 'none');

-- __diesel_schema_migrations stays a plain table on the coordinator, where
-- `tenantry migrate` runs.

-- What was done.
SELECT table_name, citus_table_type, distribution_column, colocation_id, shard_count
  FROM citus_tables ORDER BY colocation_id, table_name;
