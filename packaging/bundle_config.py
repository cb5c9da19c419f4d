"""What goes into the desktop bundles and what stays out — shared by the PyInstaller spec, CI and bench/bundle.py.

Why a module and not constants in the spec: the same choices (shipped exchanges, size budget, names) are checked by
tests and reported by the benchmark, and a .spec file cannot be imported.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "cts-desktop"
DISPLAY_NAME = "CTS Desktop"
BUNDLE_ID = "io.cts.desktop"
DESCRIPTION = "CTS Desktop: a desktop trading system for USDT-perpetual futures on Bybit and BingX"
COPYRIGHT = "Copyright (c) 2026 CTS Desktop authors"

# The exchanges the bundles ship (their sync, async and pro classes plus the abstract API table each needs).
SHIPPED_EXCHANGES = ("bybit", "bingx")
SIZE_BUDGET_MB = 250.0
START_BUDGET_S = 3.0

# Packages the app never imports at run time but which the analysis would drag in from the shared venv
# (bench / test extras, optional back-ends of libraries).
EXCLUDED_PACKAGES = [
    "tkinter", "_tkinter", "IPython", "ipykernel", "jupyter_client", "matplotlib", "pandas", "scipy", "vectorbt",
    "talib", "pytest", "_pytest", "hypothesis", "pytestqt", "mypy", "ruff", "setuptools", "pkg_resources",
    "PyQt5", "PyQt6", "PySide2", "numba.tests", "numba.cuda.tests", "numpy.tests", "llvmlite.tests",
    "ccxt.test", "ccxt.pro.test", "ccxt.prediction", "cts_desktop.tests",
    # optional imports of the libraries we ship: syntax colouring (numba), image I/O (pygments), gunicorn worker
    # (aiohttp), ahead-of-time compilation (numba.pycc), Fortran wrappers (numpy.f2py), build tooling
    "pygments", "PIL", "uvloop", "aiohttp.worker", "numba.pycc", "numba.misc.dump_style", "numpy.f2py",
    "numpy.distutils", "distutils", "lib2to3", "pydoc_data",
]

# Qt plugins left out (paths under PySide6/Qt/plugins/): kiosk/embedded platforms, rarely needed image formats,
# and the GTK3 platform theme, which alone drags ~20 MB of GTK/cairo/pango from the build machine into the bundle
# (Qt falls back to its own Fusion look + the xdg-desktop-portal theme for native dialogs). On Linux the shared
# libraries that only those plugins needed are pruned too (see prune_binaries).
DROPPED_QT_PLUGINS = [
    "platformthemes/libqgtk3", "platforms/libqvnc", "platforms/libqlinuxfb", "platforms/libqeglfs",
    "platforms/libqvkkhrdisplay", "platforms/libqminimalegl", "egldeviceintegrations/", "imageformats/libqtiff",
    "imageformats/libqwebp", "imageformats/libqtga", "imageformats/libqwbmp", "imageformats/libqicns",
    "imageformats/libqpdf", "imageformats/libqgif", "generic/libqevdev", "generic/libqtuiotouch",
]
# Qt's own translations (~7 MB): the app's UI is English and Qt's built-in strings default to English.
DROPPED_DATA_PREFIXES = ["PySide6/Qt/translations/"]
# Qt modules the app does not use (PySide6-Essentials ships them; the PySide6 hook would collect their libraries).
EXCLUDED_QT = ["QtQml", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest", "QtPdf", "QtPdfWidgets",
               "QtDesigner", "QtHelp", "QtUiTools", "QtSql", "QtXml", "QtConcurrent", "QtNetwork", "QtTest",
               "QtPrintSupport", "QtStateMachine", "QtSvgWidgets", "QtOpenGL", "QtOpenGLWidgets"]


def version() -> str:
    text = (ROOT / "cts_desktop" / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"', text, re.M)
    assert match, "no __version__ in cts_desktop/__init__.py"
    return match.group(1)


def version_tuple() -> tuple[int, int, int, int]:
    parts = [int(p) for p in re.findall(r"\d+", version())[:4]]
    return tuple([*parts, 0, 0, 0, 0][:4])  # type: ignore[return-value]


def ccxt_exchange_ids() -> list[str]:
    """Every exchange module name in the installed ccxt (read from files: importing ccxt costs ~1 s)."""
    spec = importlib.util.find_spec("ccxt")
    assert spec is not None and spec.origin, "ccxt is not installed"
    init = Path(spec.origin).read_text(encoding="utf-8")
    block = init.split("exchanges = [", 1)[1].split("]", 1)[0]
    return re.findall(r"'([a-z0-9_]+)'", block)


def ccxt_excludes(shipped: tuple[str, ...] = SHIPPED_EXCHANGES) -> list[str]:
    """Module names of the exchanges not shipped, in all four ccxt trees (sync, async, pro, abstract).

    The bundle's runtime hook (hooks/rthook_ccxt_stubs.py) stands in for them so ``import ccxt`` still works.
    """
    spec = importlib.util.find_spec("ccxt")
    assert spec is not None and spec.origin
    base = Path(spec.origin).parent
    names = set(ccxt_exchange_ids()) - set(shipped)
    out: list[str] = []
    for package, folder in (("ccxt", base), ("ccxt.async_support", base / "async_support"),
                            ("ccxt.pro", base / "pro"), ("ccxt.abstract", base / "abstract")):
        out += [f"{package}.{p.stem}" for p in sorted(folder.glob("*.py")) if p.stem in names]
    return out


def qt_excludes() -> list[str]:
    return [f"PySide6.{m}" for m in EXCLUDED_QT]


def excludes() -> list[str]:
    return EXCLUDED_PACKAGES + qt_excludes() + ccxt_excludes()


def keyring_hiddenimports(platform: str = sys.platform) -> list[str]:
    """keyring finds its back-ends through entry points; name the ones of each OS so they are bundled."""
    common = ["keyring.backends.fail", "keyring.backends.null", "keyring.backends.chainer",
              "cts_desktop.storage.keyring_memory"]
    if platform.startswith("win"):
        return [*common, "keyring.backends.Windows", "win32ctypes.core", "win32ctypes.pywin32.win32cred"]
    if platform == "darwin":
        return [*common, "keyring.backends.macOS", "keyring.backends.macOS.api"]
    return [*common, "keyring.backends.SecretService", "keyring.backends.libsecret", "keyring.backends.kwallet",
            "secretstorage", "jeepney", "jeepney.io.blocking"]


def render_version_info(template: Path, target: Path) -> Path:
    """The Windows VERSIONINFO resource from packaging/windows/version_info.txt.in (version from the package)."""
    text = template.read_text(encoding="utf-8")
    values = {
        "VERSION_TUPLE": repr(version_tuple()),
        "VERSION": version(),
        "DESCRIPTION": DESCRIPTION,
        "DISPLAY_NAME": DISPLAY_NAME,
        "APP_NAME": APP_NAME,
        "COPYRIGHT": COPYRIGHT,
    }
    for key, value in values.items():
        text = text.replace("@" + key + "@", value)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return target


def _dest(entry: tuple[str, ...]) -> str:
    return entry[0].replace("\\", "/")


def dropped_plugin(dest: str) -> bool:
    return "PySide6/Qt/plugins/" in dest and any(f"/plugins/{d}" in dest for d in DROPPED_QT_PLUGINS)


def prune_datas(datas: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    return [d for d in datas if not any(_dest(d).startswith(p) for p in DROPPED_DATA_PREFIXES)]


def prune_binaries(binaries: list[tuple[str, str, str]]) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Drop the unwanted Qt plugins and (Linux) the libraries nothing else needs; returns (kept, dropped names).

    ``ldd`` lists a library's whole dependency closure, so a library is pruned when a dropped plugin needs it and
    no kept binary's closure contains it. Libraries loaded with ctypes (e.g. llvmlite) are never candidates.
    """
    dropped = [b for b in binaries if dropped_plugin(_dest(b))]
    kept = [b for b in binaries if not dropped_plugin(_dest(b))]
    names = [_dest(b).rsplit("/", 1)[-1] for b in dropped]
    if not sys.platform.startswith("linux") or not dropped:
        return kept, names
    from PyInstaller.depend.bindepend import get_imports

    def closure(src: str) -> set[str]:
        try:
            return {Path(name).name for name, _path in get_imports(src)}
        except Exception:
            return set()

    candidates: set[str] = set()
    for entry in dropped:
        candidates |= closure(entry[1])
    used: set[str] = set()
    for entry in kept:
        if Path(_dest(entry)).name not in candidates:
            used |= closure(entry[1])
    unused = candidates - used
    names += sorted(unused)
    return [b for b in kept if Path(_dest(b)).name not in unused], names


# PyInstaller's strip=True strips every binary, which breaks the libraries auditwheel patched with patchelf (numpy's
# OpenBLAS then fails with "ELF load command address/offset not page-aligned"). So on Linux the spec strips the
# binaries itself and leaves out the vendored ``<pkg>.libs/`` folders and the packages that own one (their
# extension modules were patched too). Unstripped, the bundle is ~50 MB larger (libpython alone 22 MB vs 5.5 MB).


def _strippable(dest: str, vendored: set[str]) -> bool:
    top = dest.split("/", 1)[0]
    return ".so" in dest.rsplit("/", 1)[-1] and not top.endswith(".libs") and top not in vendored


def strip_selected(binaries: list[tuple[str, str, str]], workdir: Path) -> list[tuple[str, str, str]]:
    """Replace strippable entries by copies stripped of symbols in ``workdir`` (Linux with binutils only)."""
    import shutil
    import subprocess

    tool = shutil.which("strip")
    if not sys.platform.startswith("linux") or tool is None:
        return binaries
    vendored = {_dest(b).split("/", 1)[0][: -len(".libs")] for b in binaries if ".libs/" in _dest(b)}
    out = []
    for entry in binaries:
        dest, src, kind = entry
        if _strippable(_dest(entry), vendored):
            target = workdir / "stripped" / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
            if subprocess.run([tool, "--strip-unneeded", str(target)], capture_output=True).returncode == 0:
                entry = (dest, str(target), kind)
        out.append(entry)
    return out
