#!/usr/bin/env bash
# Usage: scripts/check-schemathesis.sh BASE_URL TENANT_ADMIN_TOKEN PLATFORM_TOKEN
#
# Fuzzes a running server with schemathesis (PyPI, pinned, in a virtualenv under target/):
# every check and every phase, generated from the server's own /openapi.json.
#
# Two runs: the tenant routes (and the public ones) with a tenant admin's token, then the
# platform routes (/api/v1/tenants, /utils/db) with a platform token. The only refusals of
# schema-valid requests that are accepted are listed, with their reasons, in
# tests/clients/schemathesis_hooks.py. ST_MAX_EXAMPLES (default 25) bounds the examples per
# operation; reports go to target/schemathesis/. Exits non-zero on any failure.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?BASE_URL}
tenant_token=${2:?TENANT_ADMIN_TOKEN}
platform_token=${3:?PLATFORM_TOKEN}
ensure_pip_tool schemathesis "$SCHEMATHESIS_VERSION"
st=$PIP_TOOL_VENV/bin/schemathesis
reports=target/schemathesis
mkdir -p "$reports"
export PYTHONPATH=$PWD/tests/clients${PYTHONPATH:+:$PYTHONPATH}
export SCHEMATHESIS_HOOKS=schemathesis_hooks
run() {
  local token=$1
  shift
  "$st" --config-file tests/clients/schemathesis.toml run "$base/openapi.json" \
    --url "$base" \
    -H "Authorization: Bearer $token" \
    --checks all --exclude-checks positive_data_acceptance \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${ST_MAX_EXAMPLES:-25}" \
    --workers 1 --request-timeout 15 --no-color \
    --report junit,ndjson --report-dir "$reports" \
    "$@"
}
status=0
echo "schemathesis: tenant routes, as a tenant admin" >&2
run "$tenant_token" --exclude-path-regex '^/(utils/|api/v1/tenants)' || status=1
echo "schemathesis: platform routes, as a platform admin" >&2
run "$platform_token" --include-path-regex '^/(utils/|api/v1/tenants)' || status=1
exit $status
