"""Workload W1 (bench/W1.md): the project's sweep vs vectorbt on real Bybit BTCUSDT-perp 5 m candles.

Run from the repository root:  /work/venv/bin/python bench/sweep.py [--no-vectorbt] [--repeat 7]

Our timing covers signal construction, the sweep of all 7,392 configurations and the derived statistics
(avg_pf, gross_pf, win rate), after one warm-up call (numba compile or cache load, reported separately).
vectorbt runs the no-trailing subset (1,848 configurations), which it can express exactly with percentage
SL/TP stops, after a warm-up on a small slice; trade counts and summed returns are compared per configuration.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numba
import numpy as np
import platformdirs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Same place the application uses: the user cache folder, never the repository.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(platformdirs.user_cache_dir("cts-desktop")) / "numba"))

from cts_desktop.domain.bars import LONG, SHORT, Bars  # noqa: E402
from cts_desktop.domain.exits import ExitParams  # noqa: E402
from cts_desktop.domain.matrix import build_matrix  # noqa: E402
from cts_desktop.domain.sweep import PreparedBars, SweepResult, sweep  # noqa: E402

CANDLES = ROOT.parent / "shared" / "data" / "candles" / "bybit_BTCUSDT-PERP_5m.csv"
RANGES = (3, 5, 8, 13)
PARAMS = ExitParams(pc=0.001, fee=0.00055)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_lengths(flags: np.ndarray) -> np.ndarray:
    """Length of the run of True ending at each index (0 where False)."""
    idx = np.arange(flags.shape[0])
    last_false = np.maximum.accumulate(np.where(flags, -1, idx))
    return idx - last_false


def w1_entries(close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries (8, bars) for R in RANGES × (long, short) and their directions, exactly as W1.md defines."""
    diff = np.diff(close, prepend=close[0])
    down, up = diff < 0, diff > 0
    run_down, run_up = run_lengths(down), run_lengths(up)
    rows, dirs = [], []
    for r in RANGES:
        long_ = np.zeros_like(down)
        short = np.zeros_like(down)
        long_[1:] = (run_down[:-1] >= r) & up[1:]
        short[1:] = (run_up[:-1] >= r) & down[1:]
        rows += [long_, short]
        dirs += [LONG, SHORT]
    return np.stack(rows), np.array(dirs)


def run_ours(bars: Bars, prep: PreparedBars) -> tuple[SweepResult, dict[str, np.ndarray]]:
    entries, dirs = w1_entries(bars.close)
    res = sweep(prep, entries, dirs, build_matrix(), PARAMS)
    stats = {"avg_pf": res.avg_pf, "gross_pf": res.gross_pf, "win_rate": res.win_rate}
    return res, stats


def run_vectorbt(bars: Bars, entries: np.ndarray, dirs: np.ndarray, plain: np.ndarray) -> tuple[np.ndarray, ...]:
    """vectorbt on the no-trailing configurations: per (variant, config) closed-trade count and summed return."""
    import vectorbt as vbt

    matrix = build_matrix()
    sl_frac = matrix.sl[plain] * matrix.tp[plain] * PARAMS.pc  # same float as the kernel's level()
    tp_frac = matrix.tp[plain] * PARAMS.pc
    counts = np.zeros((entries.shape[0], plain.size), dtype=np.int64)
    sums = np.zeros((entries.shape[0], plain.size), dtype=np.float64)
    ohlc = {
        "open": bars.open[:, None], "high": bars.high[:, None], "low": bars.low[:, None],
    }
    for v in range(entries.shape[0]):
        ent = np.repeat(entries[v][:, None], plain.size, axis=1)
        pf = vbt.Portfolio.from_signals(
            bars.close[:, None], ent, np.zeros_like(ent), sl_stop=sl_frac[None, :], tp_stop=tp_frac[None, :],
            fees=PARAMS.fee, direction="longonly" if dirs[v] == LONG else "shortonly", **ohlc,
        )
        closed = pf.trades.closed
        col = closed.col_arr
        counts[v] = np.bincount(col, minlength=plain.size)
        sums[v] = np.bincount(col, weights=closed.returns.values, minlength=plain.size)
    return counts, sums


def warm_vectorbt(bars: Bars, entries: np.ndarray, dirs: np.ndarray, plain: np.ndarray) -> float:
    t0 = time.perf_counter()
    small = bars.slice(0, 2000)
    run_vectorbt(small, entries[:2, :2000], dirs[:2], plain[:4])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-vectorbt", action="store_true")
    args = ap.parse_args()

    raw = np.loadtxt(CANDLES, delimiter=",", skiprows=1)
    bars = Bars.from_columns(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3], raw[:, 4])
    n = len(bars)
    matrix = build_matrix()
    n_cfg = 2 * len(RANGES) * len(matrix)

    t0 = time.perf_counter()
    prep = PreparedBars.build(bars)
    run_ours(bars, prep)
    warm = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        prep = PreparedBars.build(bars)
        res, _stats = run_ours(bars, prep)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ours = float(np.median(times))
    ours_rss = peak_rss_mb()
    entries, dirs = w1_entries(bars.close)
    plain = np.flatnonzero(~matrix.trailing)

    rows = [("ours, all", n_cfg, ours, ours_rss, int(res.trades.sum()), float(res.total.sum()))]
    rows.append(("ours, no-trailing subset (same run)", plain.size * entries.shape[0], None, None,
                 int(res.trades[:, plain].sum()), float(res.total[:, plain].sum())))
    verdict = ""
    if not args.no_vectorbt:
        vwarm = warm_vectorbt(bars, entries, dirs, plain)
        t0 = time.perf_counter()
        counts, sums = run_vectorbt(bars, entries, dirs, plain)
        vbt_time = time.perf_counter() - t0
        rows.append(("vectorbt, no-trailing subset", plain.size * entries.shape[0], vbt_time, peak_rss_mb(),
                     int(counts.sum()), float(sums.sum())))
        ratio = (vbt_time / (n * rows[-1][1])) / (ours / (n * n_cfg))
        same_counts = bool(np.array_equal(counts, res.trades[:, plain]))
        diff = float(np.max(np.abs(sums - res.total[:, plain])))
        verdict = (
            f"vectorbt warm-up (its compile, not timed): {vwarm:.1f} s\n"
            f"speed ratio per configuration-bar (vectorbt ÷ ours): {ratio:.0f}×\n"
            f"no-trailing subset: trade counts identical for every configuration: {same_counts}; largest "
            f"|Δ summed return| of a configuration: {diff:.1e}; identical (counts equal, Δ ≤ 1e-9): "
            f"{same_counts and diff <= 1e-9}"
        )

    print(f"W1: {n:,} bars; numba threads {numba.get_num_threads()}; our warm-up (compile or cache load) "
          f"{warm:.2f} s; load average {os.getloadavg()[0]:.2f}")
    print(f"ours: median of {args.repeat} runs {ours:.3f} s (min {min(times):.3f} s), CPU time of all threads "
          f"{float(np.median(cpu)):.3f} s per run (≈ the wall time ÷ threads on an idle machine)")
    head = ("", "configurations", "time s", "config-bars/s", "ns/config-bar", "peak RSS MB", "trades", "Σ returns")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name, cfgs, secs, rss, trades, total in rows:
        cells = [name, f"{cfgs:,}"]
        if secs is None:
            cells += ["—", "—", "—", "—"]
        else:
            cells += [f"{secs:.3f}", f"{n * cfgs / secs / 1e9:.3f} G", f"{secs / (n * cfgs) * 1e9:.2f}",
                      f"{rss:.0f}"]
        cells += [f"{trades:,}", f"{total:.6f}"]
        print("| " + " | ".join(cells) + " |")
    if verdict:
        print(verdict)


if __name__ == "__main__":
    main()
