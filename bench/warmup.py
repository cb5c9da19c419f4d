"""The history warm-up's replay itself, batch kernels against the tick-by-tick replay, in one run.

Each symbol's prehistory is the Replay simulator's 1-minute candles of the shipped real series (BTC, ETH, SOL in
turn, as ``bench/engine_lag.py`` repeats them), ``--days`` of them; both paths run on the same candles at the
default settings (``--set key=value`` changes one) in this process, one symbol after the other, and must leave
equal books (checked). Printed per path: wall and CPU time (the batch path walks the sets on every core), the
ratio, and what ``--symbols`` symbols would cost. The exchange's answers and the database writes of a real start
are not part of it (``bench/engine_lag.py`` and ``bench/soak.py`` time the whole start).

Usage: ``python bench/warmup.py [--symbols 3] [--days 5] [--set key=JSON ...]``
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--symbols", type=int, default=3)
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=JSON")
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
    tw, tc = totals["ticks"]
    bw, bc = totals["batch"]
    print(f"{args.symbols} symbols x {args.days} d: ticks wall {tw:.1f} s (CPU {tc:.1f} s), batch wall {bw:.1f} s "
          f"(CPU {bc:.1f} s): {tw / bw:.1f}x wall, {tc / bc:.1f}x CPU; books equal; {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
