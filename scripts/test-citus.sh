#!/usr/bin/env bash
# Usage: scripts/test-citus.sh [CARGO TEST ARGUMENTS...]
#
# Runs the integration tests against a real Citus cluster: a coordinator and two
# workers, three throw-away PostgreSQL clusters on free loopback ports, set up with
# exactly the steps of docs/scaling.md (each step below is marked with its number there).
#
#   scripts/test-citus.sh                # the whole API suite in Citus mode
#   scripts/test-citus.sh tasks::        # arguments are passed to `cargo test --test api`
#   KEEP_CLUSTER=1 scripts/test-citus.sh # leave the cluster running afterwards (prints its URL)
#
# Needs PostgreSQL 15 with Citus 13 installed (`citus.so` in the server's library
# directory; see the README). As root the servers run as the `postgres` OS user, as
# PostgreSQL refuses root. The cluster lives in a fresh temporary directory and is
# stopped and removed on exit.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
ensure_deps
ensure_pg_client
export PG_BIN

if [ ! -f "$("$PG_BIN/pg_config" --pkglibdir 2>/dev/null || echo "$PG_BIN/../lib")/citus.so" ] \
  && [ ! -f "$PG_BIN/../lib/citus.so" ]; then
  echo "test-citus: Citus is not installed for the PostgreSQL in $PG_BIN (see README, 'Citus')" >&2
  exit 1
fi

started=$(date +%s)
base=$(mktemp -d "${TMPDIR:-/tmp}/tenantry-citus.XXXXXX")
chmod 755 "$base"

# The servers and initdb run as `postgres` when we are root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
own() { if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$@"; fi; }

nodes=(coordinator worker1 worker2)
declare -A port
cleanup() {
  local status=$?
  if [ -n "${KEEP_CLUSTER:-}" ] && [ $status -eq 0 ]; then
    echo "test-citus: cluster kept in $base; coordinator: $COORDINATOR_URL" >&2
    return
  fi
  if [ $status -ne 0 ] && [ -z "${TESTS_STARTED:-}" ]; then
    # The set-up failed: the servers' own words, for the CI log.
    for n in "${nodes[@]}"; do
      [ -f "$base/log/$n.log" ] && { echo "--- $n (port ${port[$n]:-?}) log:" >&2; tail -n 20 "$base/log/$n.log" >&2; }
    done
  fi
  for n in "${nodes[@]}"; do
    if [ -f "$base/$n/postmaster.pid" ]; then
      # Immediate: the data is thrown away, so no shutdown checkpoint to wait for.
      as_pg "$PG_BIN/pg_ctl" -D "$base/$n" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  rm -rf "$base"
  echo "test-citus: cluster stopped and removed ($(($(date +%s) - started)) s in all)" >&2
  exit $status
}
trap cleanup EXIT

password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
# The application role's password between the nodes (step 2 of docs/scaling.md).
app_password=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
umask 077
printf '%s\n' "$password" >"$base/pwfile"
# Inter-node connections (the coordinator to the workers, a worker to another during a
# shard move) authenticate like any client: the servers read this libpq password file.
# (Citus reaches the coordinator itself as `localhost`, citus.local_hostname's default.)
# Citus opens them as the *current* role: tenant requests run as tenantry_app, so it
# needs an entry too.
{
  printf '%s:*:*:postgres:%s\n' 127.0.0.1 "$password" localhost "$password"
  printf '*:*:*:tenantry_app:%s\n' "$app_password"
} >"$base/pgpass"
umask 022
own "$base/pwfile" "$base/pgpass"
mkdir -p "$base/run" "$base/log" && own "$base/run" "$base/log"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Step 1 of docs/scaling.md: three PostgreSQL 15 clusters with shared_preload_libraries = 'citus'.
for n in "${nodes[@]}"; do
  mkdir -p "$base/$n" && own "$base/$n" && chmod 700 "$base/$n"
  as_pg "$PG_BIN/initdb" -D "$base/$n" -U postgres -E UTF8 --no-locale --no-sync \
    --auth=scram-sha-256 --pwfile="$base/pwfile" >"$base/$n.initdb.log"
  cat >>"$base/$n/postgresql.conf" <<EOF
shared_preload_libraries = 'citus'
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base/run'
max_connections = 300
shared_buffers = 128MB
# Throw-away test clusters: no crash safety needed.
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
  # Ports below the kernel's ephemeral range (32768+), where client sockets come from.
  for _attempt in 1 2 3 4 5 6 7 8; do
    p=$((20000 + RANDOM % 12000))
    port_free "$p" || continue
    if as_pg env PGPASSFILE="$base/pgpass" "$PG_BIN/pg_ctl" -D "$base/$n" -l "$base/log/$n.log" \
      -o "-p $p" -w -t 60 start >/dev/null; then
      # The server answering on the port must be this one (another may have taken the
      # port between the probe and the start).
      if [ "$(PGPASSWORD=$password "$PG_BIN/psql" "postgres://postgres@127.0.0.1:$p/postgres" -qAtc 'SHOW data_directory' 2>/dev/null)" \
        = "$(cd "$base/$n" && pwd -P)" ]; then
        port[$n]=$p
        break
      fi
      echo "test-citus: port $p answers for another server; trying another" >&2
      as_pg "$PG_BIN/pg_ctl" -D "$base/$n" -m immediate -w stop >/dev/null 2>&1 || true
    fi
  done
  [ -n "${port[$n]:-}" ] || { echo "test-citus: $n did not start; log:" >&2; cat "$base/log/$n.log" >&2; exit 1; }
done

export PGPASSWORD=$password
url() { echo "postgres://postgres:$password@127.0.0.1:${port[$1]}/$2"; }
psql_on() { "$PG_BIN/psql" "$(url "$1" "$2")" -v ON_ERROR_STOP=1 -qAt "${@:3}"; }

db=tenantry
for n in "${nodes[@]}"; do
  # Step 1: the database and the extension on every node, workers included.
  psql_on "$n" postgres -c "CREATE DATABASE $db"
  psql_on "$n" "$db" -c "CREATE EXTENSION citus"
done
psql_on coordinator "$db" -c "SELECT citus_set_coordinator_host('127.0.0.1', ${port[coordinator]})" >/dev/null
for w in worker1 worker2; do
  psql_on coordinator "$db" -c "SELECT citus_add_node('127.0.0.1', ${port[$w]})" >/dev/null
done
psql_on coordinator "$db" -c "SELECT node_name || ':' || node_port FROM citus_get_active_worker_nodes() ORDER BY 1" \
  | sed 's/^/test-citus: worker /' >&2

COORDINATOR_URL=$(url coordinator "$db")
export DATABASE_URL=$COORDINATOR_URL

# Step 2: the schema, through the coordinator.
cargo build --locked --quiet --bin tenantry
target/debug/tenantry migrate >"$base/migrate.log"
# Step 2, continued: the application role (made by the migration) logs in between the
# nodes with the password the servers' password file gives it; Citus propagates the
# ALTER ROLE to every worker.
psql_on coordinator "$db" -c "ALTER ROLE tenantry_app PASSWORD '$app_password'"
# Step 3: distribute it.
psql_on coordinator "$db" -f scripts/citus/distribute.sql >"$base/distribute.log"
# A rerun after a migration recreated a table (it comes back as a Citus local table,
# through its foreign key to the reference table) distributes that table again.
target/debug/tenantry migrate --redo >>"$base/migrate.log"
psql_on coordinator "$db" -f scripts/citus/distribute.sql >>"$base/distribute.log"
not_distributed=$(psql_on coordinator "$db" -c "SELECT string_agg(c.relname, ', ') FROM pg_class c
  WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    AND c.relname <> '__diesel_schema_migrations'
    AND NOT EXISTS (SELECT 1 FROM pg_dist_partition d WHERE d.logicalrelid = c.oid
                     AND (d.partmethod = 'h' OR (c.relname = 'tenants' AND d.repmodel = 't')))")
if [ -n "$not_distributed" ]; then
  echo "test-citus: not distributed after distribute.sql: $not_distributed" >&2
  exit 1
fi
# Step 5: check.
psql_on coordinator "$db" -F ' ' -c "SELECT table_name, citus_table_type FROM citus_tables ORDER BY 1" \
  | sed 's/^/test-citus: /' >&2

echo "test-citus: cluster ready in $(($(date +%s) - started)) s; running the API tests in Citus mode" >&2
export TENANTRY_TEST_CITUS=1
# The workers' addresses, for the isolate --to-node test.
export TENANTRY_TEST_CITUS_WORKERS="127.0.0.1:${port[worker1]},127.0.0.1:${port[worker2]}"
if [ -n "${KEEP_CLUSTER:-}" ] && [ "${1:-}" = "--no-tests" ]; then exit 0; fi
TESTS_STARTED=1
# --show-output: the reasons printed by tests that skip themselves on Citus, and the
# routing check's and isolate's figures.
cargo test --locked --test api -- --show-output "$@"
echo "test-citus: done in $(($(date +%s) - started)) s" >&2
