"""Live book update cost: 50 symbols × 4 indication variants × 924 sets, one price update per symbol per second.

Run from the repository root:  /work/venv/bin/python bench/live_tick.py [--seconds 900]

Prices are real: the eight Bybit 5 m series in ../shared/data/candles, replayed one close per second (symbol k
uses series k % 8 from a different starting bar, so the 50 paths differ). Indications are W1's reversal rule
(R = 3 and 5, long and short → 4 variants per symbol) on that path. One update of one symbol =
``book.update_price`` (all 3,696 sets, exits and rings) + gate evaluation of the sets that closed + opening
positions for the variants that fired. Timed on one thread after a warm-up minute; p50/p99/max are printed.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import platformdirs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(platformdirs.user_cache_dir("cts-desktop")) / "numba"))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from cts_desktop.domain.book import BookParams, SetBook  # noqa: E402
from cts_desktop.domain.book_stats import gate_figures  # noqa: E402
from cts_desktop.domain.exits import ExitParams  # noqa: E402
from cts_desktop.domain.gates import GateThresholds, evaluate, may_open  # noqa: E402
from cts_desktop.domain.matrix import build_matrix  # noqa: E402

CANDLES = ROOT.parent / "shared" / "data" / "candles"
SERIES = ("BTC", "ETH", "SOL", "BNB", "ADA", "AVAX", "AAVE", "APE")
SYMBOLS = 50
WARMUP_S = 60


def load_close(base: str) -> np.ndarray:
    plain = CANDLES / f"bybit_{base}USDT-PERP_5m.csv"
    if plain.exists():
        return np.loadtxt(plain, delimiter=",", skiprows=1, usecols=4)
    with gzip.open(CANDLES / f"bybit_{base}USDT-PERP_5m.csv.gz", "rt") as fh:
        return np.loadtxt(fh, delimiter=",", skiprows=1, usecols=4)


def reversal(close: np.ndarray, r: int, direction: int) -> np.ndarray:
    step = np.sign(np.diff(close, prepend=close[0])) * direction
    run = np.zeros(close.shape[0], dtype=np.int64)
    for i in range(1, close.shape[0]):
        run[i] = run[i - 1] + 1 if step[i] < 0 else 0
    out = np.zeros(close.shape[0], dtype=bool)
    out[1:] = (run[:-1] >= r) & (step[1:] > 0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=int, default=900)
    args = ap.parse_args()
    n = args.seconds + WARMUP_S
    closes = {b: load_close(b) for b in SERIES}
    matrix = build_matrix()
    params = BookParams(ExitParams(pc=0.001, fee=0.00055), max_open=2, history=250, trim_threshold=0.2)
    th = GateThresholds()
    variants = [("direction", (float(r),), d) for r in (3, 5) for d in (1, -1)]

    paths, signals, books = [], [], []
    for k in range(SYMBOLS):
        c = closes[SERIES[k % len(SERIES)]]
        start = (k // len(SERIES)) * 12_000
        path = c[start : start + n]
        paths.append(path)
        signals.append([reversal(path, int(v[1][0]), v[2]) for v in variants])
        book = SetBook(matrix, params)
        for v in variants:
            book.add_variant(v)
        books.append(book)

    gate_figures(books[0], 10, np.arange(1))  # compile / load every kernel before timing
    samples: list[float] = []
    opened = closed = 0
    for sec in range(n):
        for k in range(SYMBOLS):
            book, price = books[k], float(paths[k][sec])
            t0 = time.perf_counter()
            closed += book.update_price(float(sec), price)
            evaluate(book, th)
            allowed = None
            for v, sig in zip(variants, signals[k], strict=True):
                if sig[sec]:
                    if allowed is None:
                        allowed = may_open(book)
                    opened += book.on_indication(v, float(sec), price, allowed)
            dt = time.perf_counter() - t0
            if sec >= WARMUP_S:
                samples.append(dt)
    s = np.array(samples) * 1e3
    sets = len(books[0])
    print(f"{SYMBOLS} symbols × {len(variants)} variants × {len(matrix)} sets = {sets:,} sets per symbol; "
          f"{args.seconds} s of updates after {WARMUP_S} s warm-up; one thread")
    print(f"per update of one symbol: p50 {np.percentile(s, 50):.3f} ms, p99 {np.percentile(s, 99):.3f} ms, "
          f"max {s.max():.3f} ms, mean {s.mean():.3f} ms  ({s.size:,} updates)")
    print(f"per second for all {SYMBOLS} symbols: mean {s.mean() * SYMBOLS:.1f} ms; positions opened {opened:,}, "
          f"closed {closed:,}; open now {sum(int(b.open_count().sum()) for b in books):,}")
    full = sum(b.ring_r.nbytes + b.ring_t.nbytes + b.slot_f.nbytes + b.slot_b.nbytes for b in books) / 2**20
    held = sum(b.memory() for b in books) / 2**20
    print(f"book arrays for all symbols: {held:.0f} MB held (rings at full capacity would take {full:.0f} MB); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
