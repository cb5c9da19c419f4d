"""The packaging pieces that can be checked without building a bundle (CI builds and runs the real one in .ci/run):
the ccxt exclusion + stand-in hook on a pruned copy of ccxt, the numba cache hook, the icons, the Windows version
resource and the user-level Linux installer.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap
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
