#!/usr/bin/env bash
# Set up a virtual environment with everything the tests need, then run the linters and the whole test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${EXPGRAPH_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e '.[dev]'
# End-to-end tests drive Debian's Chromium through Playwright (no browser download).
if [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
# The remote-store tests run on Virtuoso Open Source 7 as well as on Oxigraph server (pip): only its server binary
# (virtuoso-opensource-7-bin, 4 MB, about 15 s), which the tests start on loopback; no system service.
if ! command -v virtuoso-t >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        virtuoso-opensource-7-bin >/dev/null
fi
"$VENV/bin/ruff" check .
exec "$VENV/bin/python" -m pytest "$@"
