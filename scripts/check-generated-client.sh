#!/usr/bin/env bash
# Generates a Python client from a running server's /openapi.json with openapi-python-client
# (PyPI, pinned, in a virtualenv under target/) and runs tests/clients/e2e.py with it: a
# tenant, a login, a project and tasks, an update with its version, a 409, paging through a
# list, and a problem's `code` read as the generated enum.
#
#   scripts/check-generated-client.sh BASE_URL PLATFORM_TOKEN
set -euo pipefail
case "${1:-}" in
  -h|--help)
    # The header comment above says the rest.
    echo "Usage: scripts/check-generated-client.sh BASE_URL PLATFORM_TOKEN"
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0 ;;
esac
cd "$(dirname "$0")/.."
source scripts/lib.sh
base=${1:?BASE_URL}
platform_token=${2:?PLATFORM_TOKEN}
ensure_pip_tool openapi-python-client "$OPENAPI_PYTHON_CLIENT_VERSION" "python-dateutil==$PYTHON_DATEUTIL_VERSION"
venv=$PIP_TOOL_VENV
out=target/clients/python
rm -rf "$out"
mkdir -p "$out"
"$venv/bin/openapi-python-client" generate --url "$base/openapi.json" --meta none \
  --config tests/clients/openapi-python-client.yaml --output-path "$out/tenantry_client" >&2
PYTHONPATH=$out exec "$venv/bin/python" tests/clients/e2e.py "$base" "$platform_token"
