#!/usr/bin/env bash
# Usage: scripts/bench.sh
#
# Benchmark: a release build of the server against its own PostgreSQL, loaded with
# 1,001 tenants and 1,030,000 tasks, driven by wrk from a second process; pgbench -S
# runs against the same PostgreSQL in the same run as the yardstick.
#
#   scripts/bench.sh            (BENCH_DURATION=15 seconds per scenario, BENCH_CONNECTIONS=32)
#
# Prints one table: scenario, requests/s, p50, p99, ratio to pgbench -S tps.

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

echo "== building the release binary" >&2
cargo build --release --locked --bin tenantry >&2

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

DATABASE_URL=$DB ./target/release/tenantry migrate >&2
echo "== seeding (1,001 tenants, 1,030,000 tasks, 200,000 expenses)" >&2
seed_start=$(date +%s.%N)
psql -q -d tenantry -f scripts/bench/seed.sql >&2
seed_secs=$(python3 -c "import time; print(round(time.time() - $seed_start, 1))")
echo "   seeded in ${seed_secs}s" >&2

APP_PORT=$(free_port)
BASE="http://127.0.0.1:$APP_PORT"
DATABASE_URL=$DB BIND_ADDR=127.0.0.1:$APP_PORT LOG_FORMAT=json RUST_LOG=info \
  ./target/release/tenantry serve 2>"$WORK/server.log" &
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

echo "== pgbench -S ($CONNS clients, ${DURATION}s)" >&2
"$BINDIR/createdb" pgbench
"$BINDIR/pgbench" -q -i -s 10 pgbench >/dev/null 2>&1
PGB=$("$BINDIR/pgbench" -S -c "$CONNS" -j 2 -T "$DURATION" pgbench 2>/dev/null)
PGB_TPS=$(echo "$PGB" | awk '/^tps = /{print $3; exit}')
PGB_LAT=$(echo "$PGB" | awk '/latency average/{print $4; exit}')

ROWS="$WORK/rows.tsv"
: >"$ROWS"
run() { # name file method [sequential] [connections]
  local name=$1 file=$2 method=$3 seq=${4:-0} conns=${5:-$CONNS}
  local out="$WORK/$(basename "$file" .tsv).wrk"
  echo "== $name" >&2
  REQUESTS_FILE="$file" REQUESTS_METHOD="$method" REQUESTS_SEQUENTIAL="$seq" REQUESTS_COUNT_STATUS="$seq" \
    wrk -t2 -c"$conns" -d"${DURATION}s" --latency -s scripts/bench/requests.lua "$BASE" >"$out"
  python3 - "$name" "$out" "$PGB_TPS" >>"$ROWS" <<'PY'
import re, sys
name, path, pgb = sys.argv[1], sys.argv[2], float(sys.argv[3])
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
print(f"{name}\t{rps:.0f}\t{p50:.2f}\t{p99:.2f}\t{rps / pgb:.2f}\t{note}")
PY
}
run "GET /tasks/{id}" "$WORK/get_task.tsv" GET
run "GET /tasks first page (50)" "$WORK/list_first.tsv" GET
run "GET /tasks first page, big tenant" "$WORK/list_first_big.tsv" GET
run "GET /tasks 10,000 rows deep" "$WORK/list_deep.tsv" GET
run "PATCH /tasks/{id} (version)" "$WORK/patch_task.tsv" PATCH 1
run "GET /projects?include=owner,task_counts" "$WORK/projects.tsv" GET
run "POST /expenses/{id}/approve, one budget" "$WORK/approve.tsv" POST 1
run "GET /reports/expenses (100k expenses)" "$WORK/report.tsv" GET
cp "$WORK/report.tsv" "$WORK/report_single.tsv"
run "GET /reports/expenses, 2 connections" "$WORK/report_single.tsv" GET 0 2

# The approvals must never have overspent the budget.
CHECK=$(q "SELECT b.amount_cents, b.spent_cents, coalesce((SELECT sum(amount_cents) FROM expenses e WHERE e.tenant_id = b.tenant_id AND e.category = b.category AND e.period = b.period AND e.status = 'approved'), 0), (SELECT count(*) FROM expenses e WHERE e.tenant_id = b.tenant_id AND e.category = b.category AND e.period = b.period AND e.status = 'approved') FROM budgets b WHERE b.tenant_id = $BIG AND b.category = 'other'")
IFS=$'\t' read -r amount spent approved_sum approved_n <<<"$CHECK"

echo
echo "Tenantry benchmark: $(nproc) cores, $CONNS connections, ${DURATION}s per scenario, pool ${DB_POOL_SIZE:-4 per core}; seed ${seed_secs}s"
printf '%-44s %10s %9s %9s %8s  %s\n' "scenario" "req/s" "p50 ms" "p99 ms" "x pgb" "note"
printf '%-44s %10s %9s %9s %8s  %s\n' "pgbench -S (select by primary key)" "$PGB_TPS" "" "" "1.00" "latency average ${PGB_LAT} ms"
while IFS=$'\t' read -r name rps p50 p99 ratio note; do
  printf '%-44s %10s %9s %9s %8s  %s\n' "$name" "$rps" "$p50" "$p99" "$ratio" "$note"
done <"$ROWS"
echo
echo "approvals: $approved_n approved, spent $spent of $amount cents, sum of approved $approved_sum"
if [ "$spent" -gt "$amount" ] || [ "$spent" -ne "$approved_sum" ]; then
  echo "BUDGET INVARIANT BROKEN" >&2
  exit 1
fi
echo "budget invariant holds: spent <= amount and spent = sum of approved expenses"
