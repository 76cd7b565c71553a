#!/usr/bin/env bash
# Opens a running server's /docs page in headless Chromium (Debian's `chromium`, installed
# when missing) and checks it with tests/clients/docs_page.py over the DevTools protocol
# (websocket-client from PyPI, pinned, in a virtualenv under target/): no console error,
# every operation listed. The screenshot is saved as target/docs-page.png.
#
#   scripts/check-docs-page.sh BASE_URL
set -euo pipefail
case "${1:-}" in
  -h|--help)
    # The header comment above says the rest.
    echo "Usage: scripts/check-docs-page.sh BASE_URL"
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
    exit 0 ;;
esac
cd "$(dirname "$0")/.."
source scripts/lib.sh
base=${1:?BASE_URL}
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  apt_install chromium
  chromium=$(command -v chromium)
fi
ensure_pip_tool websocket-client "$WEBSOCKET_CLIENT_VERSION"
exec "$PIP_TOOL_VENV/bin/python" tests/clients/docs_page.py "$chromium" "$base" target/docs-page.png
