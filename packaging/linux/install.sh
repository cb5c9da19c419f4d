#!/usr/bin/env bash
# User-level install of the Linux bundle (no root): the one-folder bundle goes to ~/.local/opt/cts-desktop, a
# launcher link to ~/.local/bin/cts-desktop, the menu entry to ~/.local/share/applications and the icons into the
# hicolor theme under ~/.local/share/icons. Run it from the unpacked bundle or give the bundle folder:
#   bash install.sh [BUNDLE_DIR]        bash install.sh --uninstall
# XDG_DATA_HOME is honoured; re-running replaces an earlier install.
set -euo pipefail

DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
OPT="$HOME/.local/opt/cts-desktop"
BIN="$HOME/.local/bin"
APPS="$DATA_HOME/applications"
ICONS="$DATA_HOME/icons/hicolor"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

refresh_menus() {
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$APPS" || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$ICONS" || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$OPT"
    rm -f "$BIN/cts-desktop" "$APPS/cts-desktop.desktop"
    find "$ICONS" -name 'cts-desktop.png' -path '*/apps/*' -delete 2>/dev/null || true
    rm -f "$ICONS/scalable/apps/cts-desktop.svg"
    refresh_menus
    echo "CTS Desktop removed (your data in ~/.local/share/cts-desktop and ~/.config/cts-desktop is kept)"
    exit 0
fi

# The bundle: the argument, else the folder this script sits in (it is copied into the bundle), else ../../dist.
BUNDLE="${1:-}"
if [ -z "$BUNDLE" ]; then
    for candidate in "$HERE" "$HERE/../../dist/cts-desktop"; do
        if [ -x "$candidate/cts-desktop" ] && [ -d "$candidate/_internal" ]; then BUNDLE="$candidate"; break; fi
    done
fi
if [ -z "$BUNDLE" ] || [ ! -x "$BUNDLE/cts-desktop" ]; then
    echo "install.sh: no CTS Desktop bundle found; pass its folder (the one holding the cts-desktop program)" >&2
    exit 1
fi
BUNDLE="$(cd "$BUNDLE" && pwd)"

mkdir -p "$(dirname "$OPT")" "$BIN" "$APPS"
if [ "$BUNDLE" != "$OPT" ]; then
    staging="$OPT.new.$$"
    rm -rf "$staging"
    cp -a "$BUNDLE" "$staging"
    rm -rf "$OPT"
    mv "$staging" "$OPT"
fi
ln -sfn "$OPT/cts-desktop" "$BIN/cts-desktop"

ICON_SRC="$OPT/_internal/resources/icons"
for size in 16 32 48 64 128 256 512; do
    if [ -f "$ICON_SRC/cts-desktop-$size.png" ]; then
        mkdir -p "$ICONS/${size}x${size}/apps"
        cp "$ICON_SRC/cts-desktop-$size.png" "$ICONS/${size}x${size}/apps/cts-desktop.png"
    fi
done
mkdir -p "$ICONS/scalable/apps"
cp "$ICON_SRC/cts-desktop.svg" "$ICONS/scalable/apps/cts-desktop.svg"

TEMPLATE="$OPT/_internal/resources/cts-desktop.desktop"
[ -f "$TEMPLATE" ] || TEMPLATE="$HERE/cts-desktop.desktop"
sed "s|@EXEC@|$OPT/cts-desktop|g" "$TEMPLATE" > "$APPS/cts-desktop.desktop"
chmod 644 "$APPS/cts-desktop.desktop"
refresh_menus

echo "CTS Desktop installed in $OPT"
echo "  menu entry: $APPS/cts-desktop.desktop; command: $BIN/cts-desktop"
echo "  check it with: $BIN/cts-desktop --self-test"
