#!/usr/bin/env bash
# Installs the app with its test extra into .venv and runs the whole suite under a hard kill
# (a qasync deadlock ignores SIGINT, see ENVIRONMENT-NOTES), in two worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export DBUS_SESSION_BUS_ADDRESS="${DBUS_SESSION_BUS_ADDRESS:-disabled:}"
# Two worker processes (pytest-xdist; CTS_TEST_WORKERS=0 runs in this process): most integration and end-to-end
# tests wait on simulators, subprocesses and timeouts, so a second worker overlaps that waiting even on 2 cores
# (the whole suite takes about 13–16 minutes on 2 cores). --dist loadfile keeps each file's tests (and module fixtures) in one worker;
# a crashed worker ends the run at once instead of being replaced (a replacement hung once until the kill).
WORKERS="${CTS_TEST_WORKERS:-2}"
XDIST=()
if [ "$WORKERS" != "0" ]; then
    XDIST=(-n "$WORKERS" --dist loadfile --max-worker-restart=0)
fi
exec timeout -s KILL 3000 .venv/bin/python -m pytest ${XDIST[@]+"${XDIST[@]}"} "$@"
