"""The packaging pieces that can be checked without building a bundle (CI builds and runs the real one in .ci/run):
the ccxt exclusion + stand-in hook on a pruned copy of ccxt, the numba cache hook, the icons, the Windows version
resource, the user-level Linux installer, and the size measures of the Linux bundle (llvmlite packed and loaded from
memory, ICU's data trimmed to what Qt reads, system libraries left to the system).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import runpy
import shutil
import struct
import subprocess
import sys
import textwrap
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
sys.path.insert(0, str(PACKAGING))
import bundle_config  # noqa: E402


def _python(code: str, *, cwd: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> str:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True, text=True,
                         cwd=cwd, env=env or dict(os.environ), timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def _pruned_ccxt(target: Path) -> Path:
    """A copy of the installed ccxt without the modules the spec excludes (what the bundle contains)."""
    spec = importlib.util.find_spec("ccxt")
    assert spec is not None and spec.origin
    source = Path(spec.origin).parent
    excluded = set(bundle_config.ccxt_excludes())
    skip_dirs = {"test", "prediction", "__pycache__"}

    def ignore(folder: str, names: list[str]) -> list[str]:
        rel = Path(folder).relative_to(source.parent).as_posix().replace("/", ".")
        return [n for n in names if n in skip_dirs or f"{rel}.{n.removesuffix('.py')}" in excluded]

    shutil.copytree(source, target / "ccxt", ignore=ignore)
    return target


def test_ccxt_keeps_only_the_shipped_exchanges_and_stands_in_for_the_rest(tmp_path: Path) -> None:
    excluded = bundle_config.ccxt_excludes()
    assert "ccxt.async_support.binance" in excluded and "ccxt.abstract.okx" in excluded
    for exchange in bundle_config.SHIPPED_EXCHANGES:
        assert not [m for m in excluded if m.rsplit(".", 1)[1] == exchange]
    site = _pruned_ccxt(tmp_path / "site")
    assert not (site / "ccxt" / "async_support" / "binance.py").exists()
    env = dict(os.environ, PYTHONPATH=str(site))
    out = _python(
        f"""
        import runpy, sys
        runpy.run_path({str(PACKAGING / "hooks" / "rthook_ccxt_stubs.py")!r})
        import ccxt, ccxt.async_support, ccxt.pro
        assert ccxt.__file__.startswith({str(site)!r}), ccxt.__file__
        for mod in (ccxt.async_support, ccxt.pro):
            for name in ("bybit", "bingx"):
                client = getattr(mod, name)({{}})
                assert client.id == name and not getattr(sys.modules[type(client).__module__], "CTS_NOT_BUNDLED", 0)
        try:
            ccxt.async_support.binance({{}})
        except RuntimeError as exc:
            print("refused:", exc)
        try:
            import ccxt.test
        except ImportError:
            print("ccxt.test: ImportError")
        """,
        cwd=tmp_path, env=env,
    )
    assert "refused: the exchange 'binance' is not included in this build of CTS Desktop" in out
    assert "ccxt.test: ImportError" in out  # only exchange modules are stood in for


@pytest.mark.parametrize("argv, expected", [(["--data-dir", "{tmp}/d"], "{tmp}/d/cache/numba"),
                                            (["--data-dir={tmp}/e", "--headless"], "{tmp}/e/cache/numba")])
def test_numba_cache_hook_follows_the_data_folder(tmp_path: Path, argv: list[str], expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    args = tuple(a.format(tmp=tmp_path) for a in argv)
    out = _python(
        f"""
        import os, runpy, sys
        runpy.run_path({str(PACKAGING / "hooks" / "rthook_numba_cache.py")!r})
        print(os.environ["NUMBA_CACHE_DIR"])
        """,
        cwd=tmp_path, env=env, args=args,
    )
    assert out.strip() == expected.format(tmp=tmp_path)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_icons_exist_in_every_size_and_container() -> None:
    svg = (ICONS / "cts-desktop.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and 'viewBox="0 0 512 512"' in svg
    for size in (16, 32, 48, 64, 128, 256, 512):
        assert _png_size((ICONS / f"cts-desktop-{size}.png").read_bytes()) == (size, size)
    ico = (ICONS / "cts-desktop.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", ico[:6])
    assert (reserved, kind) == (0, 1) and count >= 6
    sizes = set()
    for i in range(count):
        w, _h, _c, _r, _planes, _bpp, length, offset = struct.unpack("<BBBBHHII", ico[6 + 16 * i: 22 + 16 * i])
        payload = _png_size(ico[offset: offset + length])[0]
        assert (w or 256) == payload  # the directory's width byte (0 = 256) matches the embedded PNG
        sizes.add(payload)
    assert {16, 32, 48, 256} <= sizes
    icns = (ICONS / "cts-desktop.icns").read_bytes()
    assert icns[:4] == b"icns" and struct.unpack(">I", icns[4:8])[0] == len(icns)
    pos, kinds = 8, {}
    while pos < len(icns):
        kind_tag, length = icns[pos: pos + 4], struct.unpack(">I", icns[pos + 4: pos + 8])[0]
        kinds[kind_tag] = _png_size(icns[pos + 8: pos + length])[0]
        pos += length
    assert kinds[b"ic08"] == 256 and kinds[b"ic10"] == 1024 and kinds[b"icp4"] == 16


def test_windows_version_resource_carries_the_package_version(tmp_path: Path) -> None:
    target = bundle_config.render_version_info(PACKAGING / "windows" / "version_info.txt.in", tmp_path / "v.txt")
    text = target.read_text(encoding="utf-8")
    assert not re.search(r"@[A-Z_]+@", text), "a placeholder was left unfilled"
    assert f"StringStruct('ProductVersion', '{bundle_config.version()}')" in text
    # PyInstaller evaluates the file as one Python expression (its parser needs pefile, absent on Linux)
    tree = ast.parse(text, mode="eval")
    assert isinstance(tree.body, ast.Call) and ast.unparse(tree.body.func) == "VSVersionInfo"
    ffi = next(k.value for k in tree.body.keywords if k.arg == "ffi")
    filevers = next(k.value for k in ffi.keywords if k.arg == "filevers")  # type: ignore[attr-defined]
    assert ast.literal_eval(filevers) == bundle_config.version_tuple()


def test_linux_installer_puts_bundle_menu_entry_and_icons_under_the_home(tmp_path: Path) -> None:
    bundle = tmp_path / "dist" / "cts-desktop"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    shutil.copytree(ICONS, bundle / "_internal" / "resources" / "icons")
    shutil.copy(PACKAGING / "linux" / "cts-desktop.desktop", bundle / "_internal" / "resources")
    program = bundle / "cts-desktop"
    program.write_text("#!/bin/sh\necho bundled-app \"$@\"\n")
    program.chmod(0o755)
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    run = subprocess.run(["bash", str(PACKAGING / "linux" / "install.sh"), str(bundle)], capture_output=True,
                         text=True, env=env, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    installed = home / ".local" / "opt" / "cts-desktop"
    assert (installed / "cts-desktop").exists()
    launcher = home / ".local" / "bin" / "cts-desktop"
    assert subprocess.run([str(launcher), "--version"], capture_output=True, text=True).stdout.strip() == (
        "bundled-app --version")
    desktop = (home / ".local" / "share" / "applications" / "cts-desktop.desktop").read_text()
    assert f"Exec={installed}/cts-desktop\n" in desktop and "Icon=cts-desktop" in desktop and "@" not in desktop
    hicolor = home / ".local" / "share" / "icons" / "hicolor"
    assert (hicolor / "256x256" / "apps" / "cts-desktop.png").exists()
    assert (hicolor / "scalable" / "apps" / "cts-desktop.svg").exists()
    removed = subprocess.run(["bash", str(PACKAGING / "linux" / "install.sh"), "--uninstall"], capture_output=True,
                             text=True, env=env, timeout=60)
    assert removed.returncode == 0, removed.stderr
    assert not installed.exists() and not launcher.exists()
    assert not (hicolor / "256x256" / "apps" / "cts-desktop.png").exists()


# ---- size measures (issue #9): llvmlite packed, ICU data trimmed, system libraries left to the system ----------

LINUX_ONLY = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the Linux bundle's size measures")


def _hook() -> dict[str, object]:
    return runpy.run_path(str(PACKAGING / "hooks" / "rthook_llvmlite_packed.py"))


def _loaded_path(soname: str) -> Path:
    import ctypes

    ctypes.CDLL(soname)
    for line in Path("/proc/self/maps").read_text().splitlines():
        if line.rstrip().endswith("/" + soname) or f"/{soname}" in line:
            return Path(line.split()[-1])
    raise AssertionError(f"{soname} is not mapped")


@LINUX_ONLY
@pytest.mark.parametrize("memfd", [True, False], ids=["memfd", "temporary-file"])
def test_packed_library_is_unpacked_and_loaded_without_leaving_files(tmp_path: Path, memfd: bool,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    libz = _loaded_path("libz.so.1")
    packed = bundle_config.pack_file(libz, tmp_path / "libz.so.1.zlib")
    assert zlib.decompress(packed.read_bytes()) == libz.read_bytes()
    hook = _hook()
    if not memfd:
        def no_memfd(*_args: object) -> int:
            raise OSError(38, "Function not implemented")
        monkeypatch.setattr(os, "memfd_create", no_memfd)
    spare = tmp_path / "spare"
    spare.mkdir()
    lib = hook["load_packed"](str(packed), name="libz-test", fallback_dir=str(spare))  # type: ignore[operator]
    lib.zlibVersion.restype = ctypes.c_char_p
    assert lib.zlibVersion() == zlib.ZLIB_RUNTIME_VERSION.encode()
    assert list(spare.iterdir()) == []  # the fallback's file is gone as soon as the library is loaded
    if memfd:  # loaded from /proc/self/fd/N, whose descriptor stays open so that N never names another file
        assert lib._name == f"/proc/self/fd/{lib.memfd}" and os.readlink(lib._name).startswith("/memfd:libz-test")
    damaged = tmp_path / "damaged.zlib"
    damaged.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    with pytest.raises(OSError, match="truncated"):
        hook["load_packed"](str(damaged), name="libz-damaged", fallback_dir=str(spare))  # type: ignore[operator]
    assert list(spare.iterdir()) == []


@LINUX_ONLY
def test_llvmlite_loads_its_packed_library_and_numba_compiles(tmp_path: Path) -> None:
    """What the bundle does: llvmlite/binding/libllvmlite.so.zlib next to nothing else, numba compiles and runs."""
    spec = importlib.util.find_spec("llvmlite")
    assert spec is not None and spec.origin
    library = Path(spec.origin).parent / "binding" / "libllvmlite.so"
    bundle = tmp_path / "bundle"
    packed = bundle_config.pack_file(library, bundle / "llvmlite" / "binding" / "libllvmlite.so.zlib", level=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "cache")
    out = _python(
        f"""
        import runpy, sys
        hook = runpy.run_path({str(PACKAGING / "hooks" / "rthook_llvmlite_packed.py")!r})
        finder = hook["install"]({str(bundle)!r}, ["--headless"])
        assert finder is not None and finder.prefetch is not None  # unpacking started at once, in a thread
        import numba
        from llvmlite.binding import ffi

        @numba.njit(cache=False, nogil=True)
        def total(n):
            s = 0
            for i in range(n):
                s += i * i
            return s

        assert total(1000) == sum(i * i for i in range(1000))
        maps = open("/proc/self/maps").read()
        assert {str(library)!r} not in maps, "the installed libllvmlite.so was loaded"
        assert finder.prefetch.fd is None and finder.prefetch.error is None  # the loader took the unpacked file
        print("loaded from", ffi.lib._name)
        """,
        cwd=tmp_path, env=env,
    )
    assert "loaded from /proc/self/fd/" in out
    assert packed.stat().st_size < library.stat().st_size / 2


@LINUX_ONLY
def test_unpacking_starts_at_process_start_except_for_commands_that_never_load_numba(tmp_path: Path) -> None:
    hook = _hook()
    packed = tmp_path / "llvmlite" / "binding" / "libllvmlite.so.zlib"
    packed.parent.mkdir(parents=True)
    packed.write_bytes(zlib.compress(b"not a shared library"))
    assert hook["install"](str(tmp_path / "elsewhere"), ["--headless"]) is None  # nothing packed: nothing to do
    for argv, prefetches in [(["--version"], False), (["--multiprocessing-fork", "pipe_handle=5"], False),
                             (["--headless", "--data-dir", "x"], True), ([], True)]:
        finder = hook["install"](str(tmp_path), argv)  # type: ignore[operator]
        try:
            assert finder is not None and (finder.prefetch is not None) is prefetches
            if prefetches:  # the thread unpacked what it was given; loading it is the loader's job (and fails)
                fd = finder.prefetch.take()
                assert fd is not None and finder.prefetch.error is None
                with pytest.raises(OSError):
                    hook["load_packed"](str(packed), memfd=fd, fallback_dir=str(tmp_path))  # type: ignore[operator]
        finally:
            sys.meta_path.remove(finder)


def test_pack_selected_moves_only_the_listed_libraries_to_data(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "libllvmlite.so"
    library.write_bytes(b"\x7fELF" + bytes(range(256)) * 4000)
    other = ("numpy/_core/x.so", str(tmp_path / "x.so"), "BINARY")
    binaries = [("llvmlite/binding/libllvmlite.so", str(library), "BINARY"), other]
    datas = [("resources/a.png", "/a.png", "DATA")]
    monkeypatch.delenv("CTS_BUNDLE_PACK_LLVMLITE", raising=False)
    kept, new_datas, report = bundle_config.pack_selected(binaries, datas, tmp_path / "work", platform="linux")
    assert kept == [other]
    dest, src, kind = new_datas[-1]
    assert (dest, kind) == ("llvmlite/binding/libllvmlite.so.zlib", "DATA") and new_datas[:-1] == datas
    assert zlib.decompress(Path(src).read_bytes()) == library.read_bytes()
    assert report == [("llvmlite/binding/libllvmlite.so", library.stat().st_size, Path(src).stat().st_size)]
    assert bundle_config.pack_selected(binaries, datas, tmp_path, platform="win32") == (binaries, datas, [])
    monkeypatch.setenv("CTS_BUNDLE_PACK_LLVMLITE", "0")
    assert bundle_config.pack_selected(binaries, datas, tmp_path, platform="linux") == (binaries, datas, [])


def test_system_libraries_are_dropped_only_at_the_bundle_top_on_linux() -> None:
    binaries = [("libX11.so.6", "/usr/lib/libX11.so.6", "BINARY"),
                ("libdbus-1.so.3", "/usr/lib/libdbus-1.so.3", "BINARY"),
                ("PySide6/Qt/lib/libQt6Core.so.6", "/q/libQt6Core.so.6", "BINARY"),
                ("libpython3.11.so.1.0", "/p/libpython3.11.so.1.0", "BINARY"),
                ("psycopg_binary.libs/libX11.so.6", "/v/libX11.so.6", "BINARY")]
    kept, dropped = bundle_config.drop_system_libraries(binaries, platform="linux")
    assert dropped == ["libX11.so.6", "libdbus-1.so.3"]
    assert [b[0] for b in kept] == ["PySide6/Qt/lib/libQt6Core.so.6", "libpython3.11.so.1.0",
                                    "psycopg_binary.libs/libX11.so.6"]
    assert bundle_config.drop_system_libraries(binaries, platform="darwin") == (binaries, [])
    # never the interpreter, the C++ runtime or anything the README's system packages do not bring
    assert not {"libpython3.11.so.1.0", "libstdc++.so.6", "libgcc_s.so.1", "libz.so.1", "libglib-2.0.so.0",
                "libzstd.so.1", "liblzma.so.5", "libssl.so.3", "libcrypto.so.3"} & set(bundle_config.SYSTEM_LIBRARIES)


def _qt_folder() -> Path:
    spec = importlib.util.find_spec("PySide6")
    assert spec is not None and spec.origin
    return Path(spec.origin).parent


def _icu_data_library() -> Path:
    found = sorted((_qt_folder() / "Qt" / "lib").glob("libicudata.so.*"))
    assert found, "PySide6 ships no ICU data library"
    return found[0]


@LINUX_ONLY
def test_qt_calls_only_the_icu_services_whose_data_the_bundle_keeps() -> None:
    """The ICU trees the bundle drops are safe only while Qt reads none of them: Qt's libraries import collation,
    converters, calendars/time zones and case mapping from ICU and nothing else (a Qt upgrade that starts to use,
    say, ICU's break iterators fails here: then keep that tree in ICU_DROPPED_TREES' complement)."""
    version = _icu_data_library().name.rsplit(".", 1)[1]
    allowed = re.compile(rf"(ucol_\w+|ucnv_\w+|UCNV_\w+|ucal_\w+|u_strToUpper|u_strToLower)_{version}")
    imported: dict[str, set[str]] = {}
    qt = _qt_folder()
    for library in [*qt.glob("*.so*"), *(qt / "Qt" / "lib").glob("*.so*"), *(qt / "Qt" / "plugins").rglob("*.so")]:
        if library.is_symlink() or "libicu" in library.name:
            continue
        for name, offset, _size in bundle_config.elf_dynamic_symbols(library.read_bytes()):
            if offset < 0 and re.fullmatch(rf"[uU]\w*_{version}", name):
                imported.setdefault(name, set()).add(library.name)
    assert "ucol_open_" + version in imported and "ucnv_open_" + version in imported  # the scan sees ICU at all
    assert {n: sorted(libs) for n, libs in imported.items() if not allowed.fullmatch(n)} == {}


ICU_PROBE = """
import functools, json
from PySide6.QtCore import QCollator, QLocale, QStringConverter, QStringDecoder, QTimeZone
out = {}
words = ["Äpfel", "apple", "Zebra", "zebra", "ö", "o", "z", "ångström", "file10", "file2", "Ćevapi", "čaj", "中国",
         "北京", "上海", "東京", "한국", "ñandú", "nube", "ch", "cz", "ll", "İstanbul", "ılık"]
for loc in ["en_US", "de_DE", "sv_SE", "es_ES", "cs_CZ", "tr_TR", "zh_CN", "ja_JP"]:
    collator = QCollator(QLocale(loc))
    out["sort " + loc] = sorted(words, key=functools.cmp_to_key(collator.compare))
    collator.setNumericMode(True)
    out["numeric " + loc] = sorted(words, key=functools.cmp_to_key(collator.compare))
out["codecs"] = QStringConverter.availableCodecs()
for name in ["windows-1251", "KOI8-R", "Shift_JIS", "ISO-2022-JP", "GB18030", "Big5", "EUC-KR", "IBM437"]:
    out["codec " + name] = [QStringDecoder(name).isValid(), QStringDecoder(name).name()]
out["zones"] = len(QTimeZone.availableTimeZoneIds())
for zone in ["Europe/Berlin", "America/New_York", "Asia/Tokyo", "Asia/Kolkata", "Europe/Moscow"]:
    tz = QTimeZone(zone.encode())
    for loc in ["en_US", "de_DE", "ja_JP", "ru_RU", "pt_BR"]:
        out[zone + " " + loc] = [tz.displayName(t, n, QLocale(loc)) for t in QTimeZone.TimeType
                                 for n in QTimeZone.NameType]
for loc, text in [("tr_TR", "istanbul ılık İ"), ("de_DE", "straße"), ("el_GR", "άδικος"), ("lt_LT", "i̇̀")]:
    out["case " + loc] = [QLocale(loc).toUpper(text), QLocale(loc).toLower(text.upper())]
print(json.dumps(out, ensure_ascii=False, sort_keys=True))
"""


@LINUX_ONLY
@pytest.mark.skipif(not (shutil.which("as") and shutil.which("ld")), reason="binutils' as/ld rebuild ICU's data")
def test_trimmed_icu_data_gives_qt_the_same_answers(tmp_path: Path) -> None:
    source = _icu_data_library()
    data = source.read_bytes()
    symbol, offset, size = bundle_config._elf_symbol(data, re.compile(r"icudt\d+_dat"))
    package = data[offset: offset + size]
    header, items = bundle_config.icu_items(package)
    assert bundle_config.icu_package(package[:header], items) == package  # the repacker writes ICU's own layout
    trimmed_library = bundle_config.build_icu_library(source, tmp_path / source.name)
    trimmed_data = trimmed_library.read_bytes()
    name, at, length = bundle_config._elf_symbol(trimmed_data, re.compile(r"icudt\d+_dat"))
    assert name == symbol
    _header, kept = bundle_config.icu_items(trimmed_data[at: at + length])
    trees = {n.split("/")[1] for n, _ in kept if n.count("/") >= 2}
    assert {"coll", "zone"} <= trees and not trees & set(bundle_config.ICU_DROPPED_TREES)
    assert trimmed_library.stat().st_size < source.stat().st_size - 10 * 2**20
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    full = _python(ICU_PROBE, cwd=tmp_path, env=env)
    trimmed = _python(ICU_PROBE, cwd=tmp_path, env=dict(env, LD_PRELOAD=str(trimmed_library)))
    answers = json.loads(full)
    assert answers["sort sv_SE"] != answers["sort en_US"] and answers["Europe/Berlin de_DE"][0]  # locale data used
    assert trimmed == full
