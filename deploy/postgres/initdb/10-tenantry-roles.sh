#!/usr/bin/env bash
# Run once by the postgres image on an empty data directory (mounted into
# /docker-entrypoint-initdb.d by docker-compose.yml), as the superuser POSTGRES_USER.
# Makes the role split of the third wall (docs/security.md):
#
#   tenantry_owner     LOGIN, owns the database and, through the migrations, the tables;
#                      no superuser, no CREATEROLE. MIGRATION_DATABASE_URL logs in as it.
#   tenantry_api       LOGIN, the server's DATABASE_URL: a member of tenantry_app only.
#   tenantry_app       NOLOGIN, what tenant requests run as (no BYPASSRLS, owns nothing).
#   tenantry_platform  NOLOGIN, sees every tenant through a policy; granted to the owner.
#
# Needs TENANTRY_OWNER_PASSWORD and TENANTRY_APP_PASSWORD in the environment.
set -euo pipefail
: "${TENANTRY_OWNER_PASSWORD:?set TENANTRY_OWNER_PASSWORD}"
: "${TENANTRY_APP_PASSWORD:?set TENANTRY_APP_PASSWORD}"
# psql variables (:'name') quote the passwords as literals.
psql -v ON_ERROR_STOP=1 -X -q --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-tenantry}" \
  -v owner_pw="$TENANTRY_OWNER_PASSWORD" -v app_pw="$TENANTRY_APP_PASSWORD" \
  -v db="${POSTGRES_DB:-tenantry}" <<'SQL'
SELECT 'CREATE ROLE tenantry_owner' WHERE to_regrole('tenantry_owner') IS NULL \gexec
ALTER ROLE tenantry_owner LOGIN PASSWORD :'owner_pw' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
-- The same two roles the migrations make when missing (another database of this server
-- may have made them already).
DO $$ BEGIN
    IF to_regrole('tenantry_app') IS NULL THEN
        CREATE ROLE tenantry_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
    END IF;
    IF to_regrole('tenantry_platform') IS NULL THEN
        CREATE ROLE tenantry_platform NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
    END IF;
END $$;
SELECT 'CREATE ROLE tenantry_api' WHERE to_regrole('tenantry_api') IS NULL \gexec
ALTER ROLE tenantry_api LOGIN PASSWORD :'app_pw' NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
GRANT tenantry_app TO tenantry_api;
GRANT tenantry_app, tenantry_platform TO tenantry_owner;
ALTER DATABASE :"db" OWNER TO tenantry_owner;
SQL
