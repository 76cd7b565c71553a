#!/usr/bin/env bash
# Usage: scripts/check-docs-page.sh BASE_URL
#
# Opens a running server's /docs page in headless Chromium (Debian's `chromium`, installed
# when missing) and checks it with tests/clients/docs_page.py over the DevTools protocol
# (websocket-client from PyPI, pinned, in a virtualenv under target/): no console error,
# every operation listed. The screenshot is saved as target/docs-page.png.

# -h/--help: the comment at the top, and nothing else.
source "$(dirname "$0")/lib.sh" && help_if_asked "$@"
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?BASE_URL}
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  apt_install chromium
  chromium=$(command -v chromium)
fi
ensure_pip_tool websocket-client "$WEBSOCKET_CLIENT_VERSION"
exec "$PIP_TOOL_VENV/bin/python" tests/clients/docs_page.py "$chromium" "$base" target/docs-page.png
