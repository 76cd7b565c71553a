#!/usr/bin/env bash
# Usage: scripts/check-generated-client.sh BASE_URL PLATFORM_TOKEN
#
# Generates a Python client from a running server's /openapi.json with openapi-python-client
# (PyPI, pinned, in a virtualenv under target/) and runs tests/clients/e2e.py with it: a
# tenant, a login, a project and tasks, an update with its version, a 409, paging through a
# list, and a problem's `code` read as the generated enum.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
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
