#!/usr/bin/env bash
# Installs CTS Desktop into .venv and starts it on its embedded defaults (SQLite in the user data folder).
# Extra arguments go to cts-desktop, e.g. `bash scripts/run.sh --headless` or `--data-dir ./portable`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/cts-desktop "$@"
