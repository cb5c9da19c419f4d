#!/usr/bin/env bash
# Installs the app with its test extra into .venv and runs the whole suite under a hard kill
# (a qasync deadlock ignores SIGINT, see ENVIRONMENT-NOTES).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export DBUS_SESSION_BUS_ADDRESS="${DBUS_SESSION_BUS_ADDRESS:-disabled:}"
exec timeout -s KILL 1500 .venv/bin/python -m pytest "$@"
