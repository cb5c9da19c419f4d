"""The Linux desktop bundle: size (budget 250 MB), optional build time, and cold start to the window shown (≤ 3 s).

    python bench/bundle.py [--bundle dist/cts-desktop] [--build] [--runs N] [--archive] [--drop-caches]

``--build`` rebuilds with ``packaging/build.sh`` (this interpreter needs the ``build`` extra) and times it.
Start-up is measured as bench/startup.py does for the source checkout: the bundle runs offscreen with
``--data-dir <tmp> --exit-after 0.5`` and ``CTS_LAUNCHED_AT`` set to the launch time, and prints
"window shown after X s". Run 1 uses an empty data folder (it creates and migrates the database). With
``--drop-caches`` (root only) the kernel's page cache is dropped before each run, so every run reads the bundle
from disk — a true cold start; without it runs after the first find the bundle's files in memory.
``--archive`` also reports the size of the bundle as a .tar.gz (what a user downloads).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "packaging"))
from bundle_config import SIZE_BUDGET_MB, START_BUDGET_S  # noqa: E402
from bundle_size import MB, packed_libraries, report  # noqa: E402

PATTERN = re.compile(r"window shown after ([0-9.]+) s")


def build() -> float:
    started = time.perf_counter()
    subprocess.run(["bash", "packaging/build.sh", sys.executable], cwd=ROOT, check=True)
    return time.perf_counter() - started


def drop_caches() -> bool:
    try:
        os.sync()
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def one_start(executable: Path, data_dir: str, cold: bool) -> tuple[float, float]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env.setdefault("PYTHON_KEYRING_BACKEND", "cts_desktop.storage.keyring_memory.MemoryKeyring")
    env.setdefault("DBUS_SESSION_BUS_ADDRESS", "disabled:")
    if cold and not drop_caches():
        raise SystemExit("--drop-caches needs root (writing /proc/sys/vm/drop_caches failed)")
    started = time.perf_counter()
    env["CTS_LAUNCHED_AT"] = repr(time.time())
    out = subprocess.run([str(executable), "--data-dir", data_dir, "--exit-after", "0.5"],
                         capture_output=True, text=True, env=env, timeout=120)
    wall = time.perf_counter() - started
    match = PATTERN.search(out.stdout + out.stderr)
    if out.returncode != 0 or match is None:
        raise SystemExit(f"bundle run failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return float(match.group(1)), wall


def archive_mb(bundle: Path) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "bundle.tar.gz"
        with tarfile.open(target, "w:gz", compresslevel=6) as tar:
            tar.add(bundle, arcname=bundle.name)
        return target.stat().st_size / MB


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=ROOT / "dist" / "cts-desktop")
    parser.add_argument("--build", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--archive", action="store_true")
    parser.add_argument("--drop-caches", action="store_true")
    args = parser.parse_args()

    if args.build:
        print(f"build: {build():.0f} s")
    executable = args.bundle / ("cts-desktop.exe" if sys.platform.startswith("win") else "cts-desktop")
    if not executable.exists():
        raise SystemExit(f"no bundle at {args.bundle}: run bash packaging/build.sh (or pass --build)")
    total, parts = report(args.bundle, 8)
    verdict = "ok" if total <= SIZE_BUDGET_MB else "OVER"
    print(f"size: {total:.1f} MB one-folder (target <= {SIZE_BUDGET_MB:.0f} MB: {verdict})")
    for name, size in parts:
        print(f"  {size / MB:8.1f} MB  {name}")
    for name, on_disk, unpacked in packed_libraries(args.bundle):
        print(f"  packed: {name} {on_disk / MB:.1f} MB on disk, {unpacked / MB:.1f} MB unpacked in memory at start")
    if args.archive:
        print(f"archive: {archive_mb(args.bundle):.1f} MB as .tar.gz (level 6)")

    with tempfile.TemporaryDirectory() as folder:
        runs = [one_start(executable, folder, args.drop_caches) for _ in range(args.runs)]
    kind = "page cache dropped before each run" if args.drop_caches else "run 1 cold-ish, later runs warm page cache"
    print(f"start-up ({kind}):")
    print(f"{'run':>4} {'window shown (s)':>17} {'whole process (s)':>18}")
    for i, (shown, wall) in enumerate(runs, 1):
        note = "(empty data folder: creates + migrates the DB)" if i == 1 else ""
        print(f"{i:>4} {shown:>17.2f} {wall:>18.2f}   {note}")
    shown = [r[0] for r in runs]
    verdict = "ok" if max(shown) <= START_BUDGET_S else "OVER"
    print(f"window shown: median {statistics.median(shown):.2f} s, worst {max(shown):.2f} s "
          f"(target <= {START_BUDGET_S:.1f} s: {verdict})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
