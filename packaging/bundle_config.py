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
# QtOpenGL and QtOpenGLWidgets stay: pyqtgraph (the Strategies tab's charts) imports both when it is imported.
EXCLUDED_QT = ["QtQml", "QtQuick", "QtQuickWidgets", "QtQuickControls2", "QtQuickTest", "QtPdf", "QtPdfWidgets",
               "QtDesigner", "QtHelp", "QtUiTools", "QtSql", "QtXml", "QtConcurrent", "QtNetwork", "QtTest",
               "QtPrintSupport", "QtStateMachine", "QtSvgWidgets"]

# Linux: desktop libraries the bundle takes from the system instead of from the build machine. Each comes with a
# package the README's Set-up already requires for the window (libdbus-1-3, libfontconfig1, libxkbcommon-x11-0,
# libxcb-cursor0, libgl1/libegl1 -> libx11-6) or is a dependency of one of them, and each is tied to the running
# system (the D-Bus daemon, the fonts configuration, the X keymaps), which is why AppImage's exclude list leaves most
# of them out too. PyInstaller already leaves out libxcb, libGL/libEGL and libwayland-* for the same reason.
SYSTEM_LIBRARIES = [
    # libdbus-1-3 and what it links (libsystemd0 -> libgcrypt20, libgpg-error0, liblz4-1, libcap2)
    "libdbus-1.so.3", "libsystemd.so.0", "libgcrypt.so.20", "libgpg-error.so.0", "liblz4.so.1", "libcap.so.2",
    # libfontconfig1 -> libfreetype6 (-> libpng16-16, libbrotli1), libexpat1
    "libfontconfig.so.1", "libfreetype.so.6", "libpng16.so.16", "libbrotlidec.so.1", "libbrotlicommon.so.1",
    "libexpat.so.1",
    # libxkbcommon-x11-0 -> libxkbcommon0, libxcb-xkb1
    "libxkbcommon-x11.so.0", "libxkbcommon.so.0", "libxcb-xkb.so.1",
    # libxcb-cursor0 -> libxcb-image0 (-> libxcb-shm0, libxcb-util1), libxcb-render0, libxcb-render-util0
    "libxcb-cursor.so.0", "libxcb-image.so.0", "libxcb-shm.so.0", "libxcb-util.so.1", "libxcb-render.so.0",
    "libxcb-render-util.so.0",
    # libgl1 -> libglx0 -> libx11-6, and libxcb1's libxau6/libxdmcp6 (-> libbsd0 -> libmd0); libxcb itself is never
    # bundled (PyInstaller's exclude list)
    "libX11.so.6", "libXau.so.6", "libXdmcp.so.6", "libbsd.so.0", "libmd.so.0",
]

# Linux: shared libraries shipped zlib-compressed and unpacked into memory when first loaded
# (hooks/rthook_llvmlite_packed.py). Only llvmlite's LLVM: ~150 MB stripped, ~52 MB packed, loaded by numba after
# the window is up. CTS_BUNDLE_PACK_LLVMLITE=0 builds it unpacked (the bundle is then ~100 MB over the budget).
PACKED_LIBRARIES = {"llvmlite/binding/libllvmlite.so": "llvmlite/binding/libllvmlite.so.zlib"}
PACK_LEVEL = 6  # zlib: level 9 saves 0.2 MB for twice the build time; decompression speed is the same


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


def drop_system_libraries(binaries: list[tuple[str, str, str]],
                          platform: str = sys.platform) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Linux: leave out the bundle-level copies of SYSTEM_LIBRARIES (the system's are used); returns (kept, dropped)."""
    if not platform.startswith("linux"):
        return binaries, []
    names = set(SYSTEM_LIBRARIES)
    kept = [b for b in binaries if _dest(b) not in names]
    return kept, sorted(_dest(b) for b in binaries if _dest(b) in names)


def pack_enabled(platform: str = sys.platform) -> bool:
    import os

    return platform.startswith("linux") and os.environ.get("CTS_BUNDLE_PACK_LLVMLITE", "1") != "0"


def pack_file(source: Path, target: Path, level: int = PACK_LEVEL) -> Path:
    """zlib-compress ``source`` into ``target`` (streamed: the 150 MB library is never held twice in memory)."""
    import zlib

    target.parent.mkdir(parents=True, exist_ok=True)
    deflater = zlib.compressobj(level)
    with source.open("rb") as src, target.open("wb") as out:
        while chunk := src.read(1 << 22):
            out.write(deflater.compress(chunk))
        out.write(deflater.flush())
    return target


def pack_selected(binaries: list[tuple[str, str, str]], datas: list[tuple[str, str, str]], workdir: Path,
                  platform: str = sys.platform) -> tuple[list, list, list[tuple[str, int, int]]]:
    """Move the PACKED_LIBRARIES out of ``binaries`` into ``datas`` as zlib files made in ``workdir``.

    Returns (binaries, datas, [(dest, bytes before, bytes after)]). Call it after strip_selected (it packs the
    stripped copy). Does nothing unless pack_enabled().
    """
    if not pack_enabled(platform):
        return binaries, datas, []
    kept, added, report = [], list(datas), []
    for entry in binaries:
        src = entry[1]
        packed_dest = PACKED_LIBRARIES.get(_dest(entry))
        if packed_dest is None:
            kept.append(entry)
            continue
        target = pack_file(Path(src), workdir / "packed" / packed_dest)
        added.append((packed_dest, str(target), "DATA"))
        report.append((_dest(entry), Path(src).stat().st_size, target.stat().st_size))
    return kept, added, report


# ICU's data (PySide6/Qt/lib/libicudata.so.NN, ~30 MB) holds far more than Qt reads: Qt 6 calls only ucol_* (QCollator),
# ucnv_* (QStringConverter), ucal_* (QTimeZone ids and display names) and u_strToUpper/Lower (QLocale) — the ICU
# symbols its libraries import (tests/e2e/test_bundle.py checks that list against the installed Qt). None of those
# reads the trees below (word/line break rules and dictionaries, currency/language/region/unit display names,
# transliterators, spelled-out number rules), so they are left out of the bundle's copy (~14 MB). Kept: the locale
# tree, collation, converters and their aliases, time zones and their names, normalization.
ICU_DROPPED_TREES = ("brkitr", "curr", "lang", "rbnf", "region", "translit", "unit")


def elf_dynamic_symbols(data: bytes) -> list[tuple[str, int, int]]:
    """[(name, file offset or -1 when undefined, size)] of the dynamic symbols of a little-endian ELF64 file."""
    import struct

    assert data[:4] == b"\x7fELF" and data[4] == 2 and data[5] == 1, "not a little-endian ELF64 file"
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    out = []
    for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
        if kind != 11:  # SHT_DYNSYM
            continue
        strtab = sections[link][4]
        for pos in range(offset + entsize, offset + size, entsize):
            st_name, _st_info, _other, st_shndx, st_value, st_size = struct.unpack_from("<IBBHQQ", data, pos)
            name = data[strtab + st_name: data.index(b"\0", strtab + st_name)].decode()
            if st_shndx == 0 or st_shndx >= len(sections):  # undefined (or absolute/common: no bytes of its own)
                out.append((name, -1, st_size))
            else:
                home = sections[st_shndx]
                out.append((name, st_value - home[3] + home[4], st_size))
    return out


def _elf_symbol(data: bytes, wanted: re.Pattern[str]) -> tuple[str, int, int]:
    """(name, file offset, size) of the first defined dynamic symbol matching ``wanted``."""
    for name, offset, size in elf_dynamic_symbols(data):
        if offset >= 0 and wanted.fullmatch(name):
            return name, offset, size
    raise ValueError(f"no dynamic symbol matching {wanted.pattern}")


def icu_items(package: bytes) -> tuple[int, list[tuple[str, bytes]]]:
    """(header size, [(item name, item bytes)] in table order) of an ICU common data package ("CmnD")."""
    import struct

    header, = struct.unpack_from("<H", package, 0)
    assert package[2:4] == b"\xda\x27" and package[12:16] == b"CmnD", "not an ICU common data package"
    count, = struct.unpack_from("<I", package, header)
    toc = [struct.unpack_from("<II", package, header + 4 + 8 * i) for i in range(count)]
    starts = [*sorted(header + data_offset for _n, data_offset in toc), len(package)]
    end_of = {start: starts[i + 1] for i, start in enumerate(starts[:-1])}
    items = []
    for name_offset, data_offset in toc:
        at = header + name_offset
        name = package[at: package.index(b"\0", at)].decode("ascii")
        items.append((name, package[header + data_offset: end_of[header + data_offset]]))
    return header, items


def icu_package(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    """An ICU common data package of ``items`` (kept in the given, sorted order: ICU binary-searches the names)."""
    import struct

    names = b"".join(name.encode("ascii") + b"\0" for name, _ in items)
    table_size = 4 + 8 * len(items)
    offset = table_size + len(names)
    offset += -offset % 16
    toc, blobs, name_at = [], [], table_size
    for name, blob in items:
        toc.append(struct.pack("<II", name_at, offset))
        name_at += len(name) + 1
        padded = blob + b"\xaa" * (-len(blob) % 16)  # ICU's own tools pad with 0xaa
        blobs.append(padded)
        offset += len(padded)
    body = struct.pack("<I", len(items)) + b"".join(toc) + names
    body += b"\xaa" * (-len(body) % 16)
    return header + body + b"".join(blobs)


def trim_icu_package(package: bytes, dropped: tuple[str, ...] = ICU_DROPPED_TREES) -> bytes:
    header, items = icu_items(package)
    kept = [(n, b) for n, b in items if n.split("/")[1] not in dropped or n.count("/") < 2]
    return icu_package(package[:header], kept)


def build_icu_library(source: Path, target: Path, dropped: tuple[str, ...] = ICU_DROPPED_TREES) -> Path:
    """A copy of ICU's data library ``source`` without the ``dropped`` trees, linked with binutils (as, ld)."""
    import shutil
    import subprocess

    data = source.read_bytes()
    symbol, offset, size = _elf_symbol(data, re.compile(r"icudt\d+_dat"))
    trimmed = trim_icu_package(data[offset: offset + size], dropped)
    work = target.parent
    work.mkdir(parents=True, exist_ok=True)
    (work / f"{symbol}.dat").write_bytes(trimmed)  # (icupkg -l wants it named icudtNNl.dat to list it)
    (work / f"{symbol}.S").write_text(
        f'\t.section .rodata\n\t.globl {symbol}\n\t.type {symbol}, @object\n\t.balign 16\n{symbol}:\n'
        f'\t.incbin "{symbol}.dat"\n\t.size {symbol}, . - {symbol}\n\t.section .note.GNU-stack,"",@progbits\n',
        encoding="utf-8")
    assembler, linker = shutil.which("as"), shutil.which("ld")
    if assembler is None or linker is None:
        raise FileNotFoundError("binutils' as and ld are needed to rebuild ICU's data library")
    subprocess.run([assembler, "--64", "-o", f"{symbol}.o", f"{symbol}.S"], cwd=work, check=True)
    subprocess.run([linker, "-shared", "-soname", source.name, "--hash-style=gnu", "-z", "noexecstack",
                    "-o", str(target), f"{symbol}.o"], cwd=work, check=True)
    return target


def trim_icu_selected(binaries: list[tuple[str, str, str]], workdir: Path,
                      platform: str = sys.platform) -> tuple[list[tuple[str, str, str]], list[tuple[str, int, int]]]:
    """Linux: swap PySide6's ICU data library for the trimmed one; returns (binaries, [(dest, before, after)])."""
    if not platform.startswith("linux"):
        return binaries, []
    out, report = [], []
    for entry in binaries:
        dest, src, kind = entry
        if re.fullmatch(r"libicudata\.so\.\d+", Path(_dest(entry)).name):
            target = workdir / "icu" / Path(_dest(entry)).name
            try:
                build_icu_library(Path(src), target)
            except (OSError, ValueError, AssertionError) as exc:  # keep the full data rather than fail the build
                print(f"cts-desktop spec: WARNING: ICU data not trimmed ({exc})")
            else:
                report.append((_dest(entry), Path(src).stat().st_size, target.stat().st_size))
                entry = (dest, str(target), kind)
        out.append(entry)
    return out, report
