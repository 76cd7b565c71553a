#!/usr/bin/env bash
# Usage: scripts/bench/cpu-per-request.sh [path/to/tenantry ...]
#
# Server CPU per request, counted rather than timed: each binary (default: a release build
# of this checkout) serves GET /tasks/{id} and PATCH /tasks/{id} under valgrind's
# callgrind, driven by wrk with 4 connections; the user-space instructions of every
# server thread and the calls into the allocator are divided by the requests answered.
# The counts do not depend on what else the machine runs, so two binaries can be
# compared on a busy machine where wall-clock figures are noise. (Under valgrind SHA-256
# runs without the CPU's SHA extensions, so JWT verification weighs more than natively.)
#
#   CPU_TENANTS=50      ordinary tenants of 1,000 tasks each (the big tenant is always seeded)
#   CPU_DURATION=20     seconds of measured load per scenario
#
# Prints one line per binary and scenario: requests, instructions/request,
# allocations/request (calls of mi_malloc_aligned, mi_zalloc_aligned, mi_realloc_aligned).

case " $* " in *" -h "* | *" --help "*) sed -n '2,${/^#/!q;s/^# \{0,1\}//;p;}' "$0"; exit 0 ;; esac
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib.sh
ensure_deps
command -v wrk >/dev/null 2>&1 || apt_install wrk
command -v psql >/dev/null 2>&1 || apt_install postgresql-client
command -v valgrind >/dev/null 2>&1 || apt_install valgrind

TENANTS=${CPU_TENANTS:-50}
DURATION=${CPU_DURATION:-20}
BINDIR=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
WORK=$(mktemp -d /tmp/tenantry-cpu.XXXXXX)
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

BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  cargo build --release --locked --bin tenantry >&2
  BINS=(./target/release/tenantry)
fi

[ "$(id -u)" -eq 0 ] && chown postgres "$WORK"
as_pg "$BINDIR/initdb" -D "$WORK/pg" -U postgres --auth=trust --no-sync -E UTF8 --no-locale >/dev/null
PGPORT=$(free_port)
as_pg "$BINDIR/pg_ctl" -D "$WORK/pg" -l "$WORK/pg.log" -w start \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -k $WORK -c shared_buffers=256MB" >/dev/null
export PGHOST=127.0.0.1 PGPORT PGUSER=postgres
"$BINDIR/createdb" tenantry
DB="postgres://postgres@127.0.0.1:$PGPORT/tenantry"
export JWT_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
DATABASE_URL=$DB "${BINS[0]}" migrate >/dev/null
echo "== seeding ($TENANTS tenants + the big one)" >&2
sed "s/generate_series(1, 1000) g;/generate_series(1, $TENANTS) g;/" scripts/bench/seed.sql | psql -q -d tenantry >&2
q() { psql -d tenantry -At -F $'\t' -c "$1"; }
ADMIN="JOIN users u ON u.tenant_id = x.tenant_id AND u.role = 'admin'"
BIG="(SELECT id FROM tenants WHERE code = 'bench-big')"
q "SELECT x.tenant_id, u.id, 'admin', '/api/v1/tasks/' || x.id FROM (SELECT * FROM tasks TABLESAMPLE SYSTEM (10) LIMIT 20000) x $ADMIN" \
  | python3 scripts/bench/mint_tokens.py >"$WORK/get.tsv"
q "SELECT x.tenant_id, u.id, 'admin', '/api/v1/tasks/' || x.id, '{\"version\":1,\"priority\":7}' FROM (SELECT * FROM tasks WHERE tenant_id <> $BIG ORDER BY random() LIMIT 50000) x $ADMIN" \
  | python3 scripts/bench/mint_tokens.py >"$WORK/patch.tsv"

measure() { # binary scenario
  local bin=$1 scenario=$2 method=GET seq=0 file="$WORK/get.tsv" port out
  if [ "$scenario" = patch ]; then
    method=PATCH seq=1 file="$WORK/patch.tsv"
    psql -q -d tenantry -c "UPDATE tasks SET version = 1 WHERE version <> 1" >/dev/null
  fi
  port=$(free_port)
  out="$WORK/callgrind.out"
  rm -f "$out"*
  DATABASE_URL=$DB BIND_ADDR=127.0.0.1:$port LOG_FORMAT=json RUST_LOG=info \
    valgrind --tool=callgrind --cache-sim=no --callgrind-out-file="$out" "$bin" serve 2>"$WORK/server.log" &
  SERVER_PID=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null && break; sleep 0.2; done
  # Warm-up (principal cache, prepared statements, pool), then count from zero.
  REQUESTS_FILE="$WORK/get.tsv" REQUESTS_METHOD=GET \
    wrk -t1 -c4 -d5s --timeout 10s -s scripts/bench/requests.lua "http://127.0.0.1:$port" >/dev/null
  callgrind_control -z "$SERVER_PID" >/dev/null
  REQUESTS_FILE="$file" REQUESTS_METHOD="$method" REQUESTS_SEQUENTIAL="$seq" \
    wrk -t1 -c4 -d"${DURATION}s" --timeout 10s -s scripts/bench/requests.lua "http://127.0.0.1:$port" >"$WORK/wrk.txt"
  callgrind_control -d "$SERVER_PID" >/dev/null
  sleep 2
  kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
  python3 - "$bin" "$scenario" "$WORK/wrk.txt" "$out" <<'PY'
import glob, re, sys
binary, scenario, wrk, out = sys.argv[1:]
text = open(wrk).read()
n = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
dump = sorted(glob.glob(out + ".*"))[-1]
names, callee, total, allocs = {}, None, 0, 0
for line in open(dump, errors="replace"):
    line = line.strip()
    m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line)
    if m:
        kind, key, name = m.groups()
        if name:
            names[key] = name
        callee = names.get(key) if kind == "cfn" else None
        continue
    m = re.match(r"^summary: (\d+)", line) or re.match(r"^totals: (\d+)", line)
    if m:
        total = max(total, int(m.group(1)))
    m = re.match(r"^calls=(\d+)", line)
    if m and callee in ("mi_malloc_aligned", "mi_zalloc_aligned", "mi_realloc_aligned"):
        allocs += int(m.group(1))
note = f", {bad.group(1)} non-2xx" if bad else ""
print(f"{binary}\t{scenario}\t{n} requests{note}\t{total / n:,.0f} instructions/request\t{allocs / n:.1f} allocations/request")
PY
}

for bin in "${BINS[@]}"; do
  measure "$bin" get
  measure "$bin" patch
done
