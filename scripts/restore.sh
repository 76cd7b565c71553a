#!/usr/bin/env bash
# Usage: scripts/restore.sh FILE [TARGET_URL] [--force]
#
# Restores a backup made by backup.sh:
#
#   scripts/restore.sh FILE [TARGET_URL] [--force]
#
# 1. verifies FILE against FILE.sha256: a missing checksum or a mismatch exits non-zero
#    and restores nothing;
# 2. refuses a target database that already holds tables, unless --force, which drops
#    the target's public schema (everything the application keeps) first;
# 3. restores in one transaction (the drop of --force included): on any error nothing
#    is restored and the target is left as it was;
# 4. prints the row count of every table.
#
# TARGET_URL defaults to DATABASE_URL, and without it to the private cluster under
# TENANTRY_DATA_DIR (held for the duration through `tenantry db exec`). The target must
# exist (create it with `createdb`); roles and ownership are not restored, so the
# objects belong to the user of TARGET_URL. PG_BINDIR and TENANTRY_BIN as for backup.sh.

# -h/--help: the comment at the top, and nothing else.
case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
caller_dir=$PWD
cd "$(dirname "$self")/.."
source scripts/lib.sh

usage() { echo "usage: scripts/restore.sh FILE [TARGET_URL] [--force]" >&2; exit 2; }
force=0
args=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h|--help) usage ;;
    -*) echo "restore: unknown option $a" >&2; usage ;;
    *) args+=("$a") ;;
  esac
done
[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || usage
file=${args[0]}
case "$file" in /*) ;; *) file="$caller_dir/$file" ;; esac
target=${args[1]:-${DATABASE_URL:-}}

if [ -z "$target" ]; then
  # No target given and no DATABASE_URL: restore into the private cluster, held running
  # by `tenantry db exec` (which sets DATABASE_URL) for as long as this takes.
  tenantry_cmd
  exec "${TENANTRY[@]}" db exec -- "$self" "$@"
fi

[ -f "$file" ] || { echo "restore: $file does not exist" >&2; exit 1; }
if [ ! -f "$file.sha256" ]; then
  echo "restore: $file.sha256 is missing: refusing to restore an unverified backup" >&2
  exit 1
fi
expected=$(cut -d' ' -f1 <"$file.sha256")
actual=$(sha256sum "$file" | cut -d' ' -f1)
if ! [[ "$expected" =~ ^[0-9a-f]{64}$ ]]; then
  echo "restore: $file.sha256 holds no SHA-256 checksum: refusing to restore" >&2
  exit 1
fi
if [ "$expected" != "$actual" ]; then
  echo "restore: checksum mismatch for $file (expected $expected, got $actual): the backup is damaged, nothing restored" >&2
  exit 1
fi
echo "restore: checksum ok ($actual)"

source scripts/pgpass.sh
# The clients get the URL without its password (in PGPASSWORD instead): `ps` never
# shows it on their command lines.
hide_password target
ensure_pg_client
psql_q() { "$PG_BIN/psql" --no-psqlrc --no-password -X -q -v ON_ERROR_STOP=1 -At --dbname="$target" "$@"; }

# Tables, views, sequences... anywhere but the system schemas.
existing=$(psql_q -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
    AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')")
# The dump's policies name the roles of the third wall (migration roles_and_rls); they
# are cluster-wide, so a fresh server may lack them. Made here when missing (which needs
# CREATEROLE, or a DBA who made them beforehand).
psql_q -c "DO \$\$ BEGIN
  IF to_regrole('tenantry_app') IS NULL THEN
    CREATE ROLE tenantry_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
  END IF;
  IF to_regrole('tenantry_platform') IS NULL THEN
    CREATE ROLE tenantry_platform NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
  END IF;
END \$\$"
if [ "$existing" = "0" ]; then
  # pg_restore's own single transaction: on any error nothing is restored.
  "$PG_BIN/pg_restore" --no-password --exit-on-error --single-transaction \
    --no-owner --no-privileges --dbname="$target" "$file"
else
  if [ "$force" -ne 1 ]; then
    echo "restore: the target database is not empty ($existing relations): use an empty database, or --force to replace its public schema" >&2
    exit 1
  fi
  # pg_restore --clean cannot drop the inherited keys of partitions, so --force drops
  # the public schema instead, and must do it in the same transaction as the restore:
  # the archive goes through psql as SQL between BEGIN and a COMMIT that is sent only
  # when pg_restore read the whole archive. Any error ends psql before the COMMIT,
  # and the transaction is rolled back with the target as it was.
  echo "restore: --force: replacing the public schema of a non-empty database"
  {
    echo 'SET client_min_messages = warning;'
    echo 'BEGIN;'
    echo 'DROP SCHEMA IF EXISTS public CASCADE;'
    echo 'CREATE SCHEMA public;'
    "$PG_BIN/pg_restore" --no-owner --no-privileges --file=- "$file" && echo 'COMMIT;'
  } | "$PG_BIN/psql" --no-psqlrc --no-password -X -q -v ON_ERROR_STOP=1 --dbname="$target" >/dev/null
fi
# Privileges are not copied (--no-privileges: they name the source's roles); the
# application role's are derived again from the restored schema.
if [ "$(psql_q -c "SELECT to_regproc('tenantry_grant_app') IS NOT NULL")" = "t" ]; then
  psql_q -c "SELECT tenantry_grant_app()" >/dev/null
fi
echo "restore: restored $file"

# Row counts of every table (partitions are counted in their parent).
"$PG_BIN/psql" --no-psqlrc --no-password -X -q -v ON_ERROR_STOP=1 -P footer=off --dbname="$target" -c "
  SELECT format('%I.%I', n.nspname, c.relname) AS table_name,
         (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::bigint AS row_count
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
     AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
   ORDER BY 1"
