"""Start-up time of the GUI: process start → main window shown (as the app itself measures and prints it).

Runs ``cts-desktop --data-dir <tmp> --exit-after 0.5`` N times offscreen (first run on an empty data folder, so it
includes creating and migrating the SQLite database) and prints a table. Usage: ``python bench/startup.py [N]``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

PATTERN = re.compile(r"window shown after ([0-9.]+) s")


def one_run(data_dir: str) -> tuple[float, float]:
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    env.setdefault("PYTHON_KEYRING_BACKEND", "cts_desktop.storage.keyring_memory.MemoryKeyring")
    started = time.perf_counter()
    env["CTS_LAUNCHED_AT"] = repr(time.time())
    out = subprocess.run(
        [sys.executable, "-m", "cts_desktop", "--data-dir", data_dir, "--exit-after", "0.5"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    wall = time.perf_counter() - started
    match = PATTERN.search(out.stdout + out.stderr)
    if out.returncode != 0 or match is None:
        raise SystemExit(f"run failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return float(match.group(1)), wall


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as folder:
        results = [one_run(folder) for _ in range(runs)]
    shown = [r[0] for r in results]
    print(f"{'run':>4} {'window shown (s)':>17} {'whole process (s)':>18}")
    for i, (s, w) in enumerate(results, 1):
        print(f"{i:>4} {s:>17.2f} {w:>18.2f}   {'(empty data folder: creates + migrates the DB)' if i == 1 else ''}")
    print(f"median window shown: {statistics.median(shown):.2f} s; worst: {max(shown):.2f} s; target <= 2.00 s")


if __name__ == "__main__":
    main()
