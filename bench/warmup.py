"""The history warm-up's replay itself, batch kernels against the tick-by-tick replay, in one run.

Each symbol's prehistory is the Replay simulator's 1-minute candles of the shipped real series (BTC, ETH, SOL in
turn, as ``bench/engine_lag.py`` repeats them), ``--days`` of them; both paths run on the same candles at the
default settings (``--set key=value`` changes one) in this process, one symbol after the other, and must leave
equal books (checked). Printed per path: wall and CPU time (the batch path walks the sets on every core), the
ratio, and what ``--symbols`` symbols would cost. The exchange's answers and the database writes of a real start
are not part of it (``bench/engine_lag.py`` and ``bench/soak.py`` time the whole start).

``--fields`` runs the batch path only and prints what the book's ring entries hold (issue 18's format question):
results stored, the distinct values of each field (result, time in drawdown, entry and close time), the share of
16-entry chunks whose times span more than 65,535 s and of positions open longer than that.

Usage: ``python bench/warmup.py [--symbols 3] [--days 5] [--fields] [--set key=JSON ...]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def candles(base: str, days: int) -> list[tuple[int, float, float, float, float, float]]:
    from cts_desktop.exchanges.simulator.replay import PricePath, load_dataset

    path = PricePath(load_dataset(), 0, 0)
    t0 = path.origin_ms + 30 * 86_400_000
    out = []
    for k in range(days * 1440):
        bar = path.bar(base, t0 + k * 60_000, t0 + (k + 1) * 60_000)
        out.append((bar.ts, bar.open, bar.high, bar.low, bar.close, bar.volume))
    return out


def ring_fields(book: object) -> str:
    """Results stored, distinct values per ring field, and how far 16-bit time offsets from a per-chunk base
    would reach (chunks spanning more than 65,535 s; positions open longer)."""
    import numpy as np

    from cts_desktop.domain.book import SetBook
    from cts_desktop.domain.book_layout import CHUNK, R_RESULT, R_UW, T_CLOSE, T_ENTRY
    from cts_desktop.domain.book_snapshot import distinct

    assert isinstance(book, SetBook)
    count = np.asarray(book.count, dtype=np.int64)
    rows = np.repeat(np.arange(len(book)), count)
    cols = np.concatenate([np.arange(n) for n in count.tolist()]) if count.sum() else np.zeros(0, dtype=np.int64)
    ring_r, ring_t = book.entries(rows, cols)
    entry, close = ring_t[:, T_ENTRY].astype(np.int64), ring_t[:, T_CLOSE].astype(np.int64)
    chunk = rows * 10_000 + cols // CHUNK  # each set's chunks
    _, first = np.unique(chunk, return_index=True)
    lo = np.minimum.reduceat(np.minimum(entry, close), first)
    hi = np.maximum.reduceat(np.maximum(entry, close), first)
    wide = float(np.mean(hi - lo > 65_535)) if first.size else 0.0
    long = float(np.mean(close - entry > 65_535)) if entry.size else 0.0
    kinds = {"result": ring_r[:, R_RESULT], "drawdown": ring_r[:, R_UW], "entry": ring_t[:, T_ENTRY],
             "close": ring_t[:, T_CLOSE]}
    values = ", ".join(f"{name} {distinct(np.ascontiguousarray(v).view(np.uint32))[0].size:,}"
                       for name, v in kinds.items())
    return (f"results {int(count.sum()):,}; distinct: {values}; chunks spanning > 65,535 s {wide:.1%}, "
            f"positions open > 65,535 s {long:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=3)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
    parser.add_argument("--fields", action="store_true", help="batch path only: what the ring entries hold")
    args = parser.parse_args()
    import numpy as np

    from cts_desktop.domain.book import SetBook
    from cts_desktop.domain.settings import default_values
    from cts_desktop.engine import engine_config as cfg
    from cts_desktop.engine.batch_warmup import replay_batch
    from cts_desktop.engine.pipeline import SymbolPipeline
    from cts_desktop.engine.warmup import replay_candles

    values = default_values()
    for item in args.set:
        key, _, text = item.partition("=")
        values[key] = json.loads(text)

    def pipeline() -> SymbolPipeline:
        return SymbolPipeline("X/USDT:USDT", cfg.indication_params(values), cfg.exit_matrix(values),
                              cfg.book_params(values), cfg.gate_thresholds(values),
                              int(cfg.number(values, "indications.max_variants_per_symbol")),
                              gate_params=cfg.activity_params(values))

    warm = pipeline()  # compile / load the kernels before timing
    replay_batch(warm, candles("BTC", 1)[:60], lambda _u: None, lambda: False, False)
    totals = {"ticks": [0.0, 0.0], "batch": [0.0, 0.0]}
    for k in range(args.symbols):
        base = ("BTC", "ETH", "SOL")[k % 3]
        series = candles(base, args.days)
        books = {}
        if args.fields:
            p = pipeline()
            assert replay_batch(p, series, lambda _u: None, lambda: False, False)
            print(f"{base} {args.days} d  {ring_fields(p.book)}", flush=True)
            continue
        for name in ("batch", "ticks"):
            p = pipeline()
            wall, cpu = time.perf_counter(), time.process_time()
            if name == "batch":
                assert replay_batch(p, series, lambda _u: None, lambda: False, False)
            else:
                replay_candles(p, series, lambda _u: None, lambda: False)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            totals[name][0] += wall
            totals[name][1] += cpu
            books[name] = p.book
            print(f"{base} {args.days} d  {name:5s}  wall {wall:7.2f} s  CPU {cpu:7.2f} s  sets {len(p.book)}",
                  flush=True)
        equal = all(np.array_equal(getattr(books["batch"], a), getattr(books["ticks"], a), equal_nan=True)
                    for a in SetBook.ARRAYS)
        assert equal, f"{base}: the paths disagree"
    if args.fields:
        return
    tw, tc = totals["ticks"]
    bw, bc = totals["batch"]
    print(f"{args.symbols} symbols x {args.days} d: ticks wall {tw:.1f} s (CPU {tc:.1f} s), batch wall {bw:.1f} s "
          f"(CPU {bc:.1f} s): {tw / bw:.1f}x wall, {tc / bc:.1f}x CPU; books equal; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
