#!/usr/bin/env bash
# Builds the one-folder desktop bundle of this OS into dist/cts-desktop and prints its size report.
#   bash packaging/build.sh [PYTHON]     (PYTHON defaults to .venv/bin/python; it needs the 'build' extra)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${1:-.venv/bin/python}"
"$PY" -m PyInstaller --version >/dev/null
started=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/cts-desktop.spec
if [ "$(uname -s)" = "Linux" ]; then  # the user-level installer travels with the bundle
    cp packaging/linux/install.sh dist/cts-desktop/install.sh
fi
echo "bundle built in $(( $(date +%s) - started )) s: dist/cts-desktop"
"$PY" packaging/bundle_size.py dist/cts-desktop
