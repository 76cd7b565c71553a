#!/usr/bin/env bash
# Usage: scripts/bench.sh
#
# Benchmark: a release build of the server against its own PostgreSQL, loaded with
# 1,001 tenants and 1,030,000 tasks, driven by wrk from a second process; two pgbench
# yardsticks run against the same PostgreSQL in the same run: `pgbench -S -M prepared
# -c 8 -j 2` (reads) and the TPC-B-like `pgbench -M prepared -c 8 -j 2` (writes).
#
#   scripts/bench.sh            (BENCH_DURATION=15 seconds per scenario, BENCH_CONNECTIONS=32)
#   BENCH_RLS="on off"          every scenario with row-level security on, then off (the
#                               default); "on" or "off" for one pass. Off means the tables'
#                               RLS is disabled in the database (the server is unchanged
#                               and still sets the tenant per transaction).
#   BENCH_TENANTS=1000          ordinary tenants of 1,000 tasks each; fewer for a reduced run
#   TENANTRY_BIN=path           a prebuilt server binary instead of building this checkout
#
# Prints one table: scenario, RLS, requests/s, p50, p99, ratio to its yardstick (reads to
# pgbench -S, writes to TPC-B), and the cost of RLS per scenario.

# -h/--help: the comment at the top, and nothing else.
case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_deps
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v psql >/dev/null 2>&1 || apt_install postgresql-client

DURATION=${BENCH_DURATION:-15}
CONNS=${BENCH_CONNECTIONS:-32}
BINDIR=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
WORK=$(mktemp -d /tmp/tenantry-bench.XXXXXX)
chmod 755 "$WORK"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  as_pg "$BINDIR/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# TENANTRY_BIN=path benchmarks a prebuilt binary (another commit's, say) instead.
BIN=${TENANTRY_BIN:-./target/release/tenantry}
if [ -z "${TENANTRY_BIN:-}" ]; then
  echo "== building the release binary" >&2
  cargo build --release --locked --bin tenantry >&2
fi

echo "== starting PostgreSQL in $WORK" >&2
[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
as_pg "$BINDIR/initdb" -D "$WORK/pg" -U postgres --auth=trust --no-sync -E UTF8 --no-locale >/dev/null
PGPORT=$(free_port)
as_pg "$BINDIR/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w start \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $WORK -c shared_buffers=1GB -c max_connections=200" >/dev/null
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
"$BINDIR/createdb" tenantry
DB="postgres://postgres@127.0.0.1:$PGPORT/tenantry"
export JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')

DATABASE_URL=$DB "$BIN" migrate >&2
echo "== seeding ($((${BENCH_TENANTS:-1000} + 1)) tenants, $((${BENCH_TENANTS:-1000} * 1000 + 30000)) tasks, 200,000 expenses)" >&2
seed_start=$(date +%s.%N)
psql -q -d tenantry -v bench_tenants="${BENCH_TENANTS:-1000}" -f scripts/bench/seed.sql >&2
seed_secs=$(python3 -c "import time; print(round(time.time() - $seed_start, 1))")
echo "   seeded in ${seed_secs}s" >&2

APP_PORT=$(free_port)
BASE="http://127.0.0.1:$APP_PORT"
DATABASE_URL=$DB BIND_ADDR=127.0.0.1:$APP_PORT LOG_FORMAT=json RUST_LOG=info \
  "$BIN" serve 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -sf "$BASE/health/ready" >/dev/null && break; sleep 0.2; done

# Request files: token<TAB>path[<TAB>body].
q() { psql -d tenantry -At -F $'\t' -c "$1"; }
mint() { python3 scripts/bench/mint_tokens.py; }
ADMIN="JOIN users u ON u.tenant_id = x.tenant_id AND u.role = 'admin'"
BIG="(SELECT id FROM tenants WHERE code = 'bench-big')"
q "SELECT x.tenant_id, u.id, 'admin', '/api/v1/tasks/' || x.id FROM (SELECT * FROM tasks TABLESAMPLE SYSTEM (3) LIMIT 20000) x $ADMIN" | mint >"$WORK/get_task.tsv"
q "SELECT x.id, u.id, 'admin', '/api/v1/tasks?limit=50' FROM tenants x JOIN users u ON u.tenant_id = x.id AND u.role = 'admin' WHERE x.code <> 'bench-big'" | mint >"$WORK/list_first.tsv"
q "SELECT x.id, u.id, 'admin', '/api/v1/projects?include=owner,task_counts' FROM tenants x JOIN users u ON u.tenant_id = x.id AND u.role = 'admin' WHERE x.code <> 'bench-big'" | mint >"$WORK/projects.tsv"
q "SELECT x.tenant_id, u.id, 'admin', '/api/v1/tasks/' || x.id, '{\"version\":1,\"priority\":7}' FROM (SELECT * FROM tasks WHERE tenant_id <> $BIG ORDER BY random() LIMIT 100000) x $ADMIN" | mint >"$WORK/patch_task.tsv"
q "SELECT x.tenant_id, u.id, 'admin', '/api/v1/expenses/' || x.id || '/approve', '{\"version\":2}' FROM (SELECT * FROM expenses WHERE tenant_id = $BIG AND description = 'to approve' ORDER BY id) x $ADMIN" | mint >"$WORK/approve.tsv"
q "SELECT x.id, u.id, 'admin', '/api/v1/reports/expenses' FROM tenants x JOIN users u ON u.tenant_id = x.id AND u.role = 'admin' WHERE x.code = 'bench-big'" | mint >"$WORK/report.tsv"
BIG_TOKEN=$(cut -f1 "$WORK/report.tsv")
printf '%s\t/api/v1/tasks?limit=50\n' "$BIG_TOKEN" >"$WORK/list_first_big.tsv"
# Walk 100 pages of 100 to reach the cursor 10,000 rows deep.
cursor=""
for _ in $(seq 1 100); do
  cursor=$(curl -sf -H "Authorization: Bearer $BIG_TOKEN" "$BASE/api/v1/tasks?limit=100${cursor:+&cursor=$cursor}" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["next_cursor"])')
done
printf '%s\t/api/v1/tasks?limit=50&cursor=%s\n' "$BIG_TOKEN" "$cursor" >"$WORK/list_deep.tsv"

echo "== pgbench -S -M prepared and TPC-B -M prepared (8 clients, ${DURATION}s each)" >&2
"$BINDIR/createdb" pgbench
"$BINDIR/pgbench" -q -i -s 10 pgbench >/dev/null 2>&1
PGB=$("$BINDIR/pgbench" -S -M prepared -c 8 -j 2 -T "$DURATION" pgbench 2>/dev/null)
PGB_TPS=$(echo "$PGB" | awk '/^tps = /{print $3; exit}')
PGB_LAT=$(echo "$PGB" | awk '/latency average/{print $4; exit}')
TPCB=$("$BINDIR/pgbench" -M prepared -c 8 -j 2 -T "$DURATION" pgbench 2>/dev/null)
TPCB_TPS=$(echo "$TPCB" | awk '/^tps = /{print $3; exit}')
TPCB_LAT=$(echo "$TPCB" | awk '/latency average/{print $4; exit}')

# Row-level security on or off for every table that has it (the server keeps running:
# the change invalidates its cached plans). Tables whose RLS is on are recorded first.
q "SELECT relname FROM pg_class WHERE relrowsecurity AND relnamespace = 'public'::regnamespace" >"$WORK/rls_tables"
rls() { # on|off
  local sql=""
  while read -r t; do
    if [ "$1" = on ]; then sql+="ALTER TABLE $t ENABLE ROW LEVEL SECURITY; ALTER TABLE $t FORCE ROW LEVEL SECURITY; "
    else sql+="ALTER TABLE $t NO FORCE ROW LEVEL SECURITY; ALTER TABLE $t DISABLE ROW LEVEL SECURITY; "; fi
  done <"$WORK/rls_tables"
  psql -q -d tenantry -c "$sql" >&2
}
# Puts back what the writing scenarios changed, so each pass starts from the same data:
# every seeded task is at version 1, the approval expenses submitted, the budget unspent.
reset_writes() {
  psql -q -d tenantry >&2 <<SQL
UPDATE tasks SET version = 1 WHERE version <> 1;
UPDATE expenses SET status = 'submitted', version = 2, approver_id = NULL, decided_at = NULL
 WHERE tenant_id = $BIG AND description = 'to approve' AND status <> 'submitted';
UPDATE budgets SET spent_cents = 0 WHERE tenant_id = $BIG AND category = 'other';
VACUUM ANALYZE tasks, expenses, budgets;
SQL
}

ROWS="$WORK/rows.tsv"
: >"$ROWS"
run() { # name file method [sequential] [connections] [r|w: yardstick]
  local name=$1 file=$2 method=$3 seq=${4:-0} conns=${5:-$CONNS} kind=${6:-r}
  local out="$WORK/$(basename "$file" .tsv).$MODE.wrk" yard=$PGB_TPS
  [ "$kind" = w ] && yard=$TPCB_TPS
  echo "== $name" >&2
  REQUESTS_FILE="$file" REQUESTS_METHOD="$method" REQUESTS_SEQUENTIAL="$seq" REQUESTS_COUNT_STATUS="$seq" \
    wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s scripts/bench/requests.lua "$BASE" >"$out"
  python3 - "$name" "$out" "$yard" "$MODE" >>"$ROWS" <<'PY'
import re, sys
name, path, pgb, mode = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
text = open(path).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, unit = float(m.group(1)), m.group(2)
    return n / 1000 if unit == "us" else n * 1000 if unit == "s" else n
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
p50 = ms(re.search(r"\s50%\s+(\S+)", text).group(1))
p99 = ms(re.search(r"\s99%\s+(\S+)", text).group(1))
non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
errors = re.search(r"Socket errors:.*", text)
total = int(re.search(r"(\d+) requests in", text).group(1))
note = f"{non2xx.group(1)} non-2xx of {total}" if non2xx else f"{total} requests, all 2xx"
statuses = re.findall(r"^status (\d+): (\d+)$", text, re.M)
if statuses:
    note += " (" + ", ".join(f"{s}: {n}" for s, n in sorted(statuses)) + ")"
if errors: note += "; " + errors.group(0)
print(f"{name}\t{mode}\t{rps:.0f}\t{p50:.2f}\t{p99:.2f}\t{rps / pgb:.2f}\t{note}")
PY
}
check_budget() { # the approvals must never have overspent the budget
  CHECK=$(q "SELECT b.amount_cents, b.spent_cents, coalesce((SELECT sum(amount_cents) FROM expenses e WHERE e.tenant_id = b.tenant_id AND e.category = b.category AND e.period = b.period AND e.status = 'approved'), 0), (SELECT count(*) FROM expenses e WHERE e.tenant_id = b.tenant_id AND e.category = b.category AND e.period = b.period AND e.status = 'approved') FROM budgets b WHERE b.tenant_id = $BIG AND b.category = 'other'")
  IFS=$'\t' read -r amount spent approved_sum approved_n <<<"$CHECK"
  echo "approvals (RLS $MODE): $approved_n approved, spent $spent of $amount cents, sum of approved $approved_sum" >>"$WORK/budget.txt"
  if [ "$spent" -gt "$amount" ] || [ "$spent" -ne "$approved_sum" ]; then
    echo "BUDGET INVARIANT BROKEN" >>"$WORK/budget.txt"
  fi
}
for MODE in ${BENCH_RLS:-on off}; do
  echo "== row-level security $MODE" >&2
  rls "$MODE"
  reset_writes
  run "GET /tasks/{id}" "$WORK/get_task.tsv" GET
  run "GET /tasks first page (50)" "$WORK/list_first.tsv" GET
  run "GET /tasks first page, big tenant" "$WORK/list_first_big.tsv" GET
  run "GET /tasks 10,000 rows deep" "$WORK/list_deep.tsv" GET
  run "PATCH /tasks/{id} (version)" "$WORK/patch_task.tsv" PATCH 1 "$CONNS" w
  run "GET /projects?include=owner,task_counts" "$WORK/projects.tsv" GET
  run "POST /expenses/{id}/approve, one budget" "$WORK/approve.tsv" POST 1 "$CONNS" w
  check_budget
  run "GET /reports/expenses (100k expenses)" "$WORK/report.tsv" GET
  cp "$WORK/report.tsv" "$WORK/report_single.tsv"
  run "GET /reports/expenses, 2 connections" "$WORK/report_single.tsv" GET 0 2
done
rls on

echo
echo "Tenantry benchmark: $(nproc) cores, $CONNS connections, ${DURATION}s per scenario, pool ${DB_POOL_SIZE:-4 per core}; $((${BENCH_TENANTS:-1000} + 1)) tenants, seed ${seed_secs}s"
printf '%-44s %4s %10s %9s %9s %8s  %s\n' "scenario" "RLS" "req/s" "p50 ms" "p99 ms" "x yard" "note"
printf '%-44s %4s %10s %9s %9s %8s  %s\n' "pgbench -S -M prepared -c 8 (read yardstick)" "" "$PGB_TPS" "" "" "1.00" "latency average ${PGB_LAT} ms"
printf '%-44s %4s %10s %9s %9s %8s  %s\n' "pgbench -M prepared -c 8 (TPC-B, write yardstick)" "" "$TPCB_TPS" "" "" "1.00" "latency average ${TPCB_LAT} ms"
while IFS=$'\t' read -r name mode rps p50 p99 ratio note; do
  printf '%-44s %4s %10s %9s %9s %8s  %s\n' "$name" "$mode" "$rps" "$p50" "$p99" "$ratio" "$note"
done <"$ROWS"
# The cost of row-level security per scenario, when both passes ran.
python3 - "$ROWS" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
by = {(r[0], r[1]): float(r[2]) for r in rows}
names = [r[0] for r in rows if r[1] == "on"]
if names and any(m == "off" for _, m in by):
    print("\nrow-level security cost (req/s off -> on):")
    for n in names:
        if (n, "off") in by:
            off, on = by[(n, "off")], by[(n, "on")]
            print(f"  {n:<44} {off:>8.0f} -> {on:>8.0f}  {100 * (on - off) / off:+6.1f} %")
PY
echo
cat "$WORK/budget.txt"
if grep -q "BROKEN" "$WORK/budget.txt"; then
  echo "BUDGET INVARIANT BROKEN" >&2
  exit 1
fi
echo "budget invariant holds in every pass: spent <= amount and spent = sum of approved expenses"
