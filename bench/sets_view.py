"""How long a refresh of the Sets tab takes with thousands of configuration sets (issue 17), measured, never a
timed test.

A symbol pipeline is built with the default exit matrix (settings' defaults) and ``--variants`` indication
variants (each holds every set of the matrix), its result rings filled with ``--results`` random results per set
(statuses spread over evaluating / active / paused / failed). Reported: sets, the application's read
(``pipeline_rows``: layers, one window's figures, why paused, one row object per set — in the worker thread in the
app), and the Qt model's update (``RowTableModel.set_rows`` with the same keys — the 2-second refresh — and
after a sort by a column), medians of ``--repeat`` runs.

Usage: ``python bench/sets_view.py [--variants 30] [--results 60] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np


def build(variants: int, results: int):  # type: ignore[no-untyped-def]
    from cts_desktop.domain.book import SetStatus
    from cts_desktop.domain.book_layout import R_RESULT, R_UW, T_CLOSE, T_ENTRY
    from cts_desktop.domain.settings import default_values
    from cts_desktop.engine import engine_config as cfg
    from cts_desktop.engine.pipeline import SymbolPipeline

    values = default_values()
    pipeline = SymbolPipeline("BTC/USDT:USDT", cfg.indication_params(values), cfg.exit_matrix(values),
                              cfg.book_params(values), cfg.gate_thresholds(values), variants)
    book = pipeline.book
    for v in range(variants):
        book.add_variant(("direction", (float(3 + v),), 1 if v % 2 else -1))
    rng = np.random.default_rng(17)
    n = len(book)
    filled = min(results, book.ring_r.shape[1])
    book.ring_r[:, :filled, R_RESULT] = rng.normal(0.0005, 0.004, (n, filled))
    book.ring_r[:, :filled, R_UW] = rng.uniform(0, 3600, (n, filled))
    start = 1_790_000_000
    book.ring_t[:, :filled, T_ENTRY] = start + np.arange(filled) * 600
    book.ring_t[:, :filled, T_CLOSE] = start + np.arange(filled) * 600 + 300
    book.count[:] = filled
    book.total[:] = filled
    book.status[:] = rng.choice([s.value for s in SetStatus], n)
    return pipeline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=30)
    parser.add_argument("--results", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from cts_desktop.application.sets import pipeline_rows
    from cts_desktop.ui.table import RowTableModel
    from cts_desktop.ui.tabs.sets import SET_COLUMNS

    QApplication([])
    pipeline = build(args.variants, args.results)
    pipeline_rows("bench", pipeline, 20)  # compiles the numba kernels once
    model = RowTableModel(SET_COLUMNS, key="key", cap=500_000)
    read, update, sorted_update = [], [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        rows = pipeline_rows("bench", pipeline, 20)
        read.append(time.perf_counter() - started)
        started = time.perf_counter()
        model.set_rows(rows)
        update.append(time.perf_counter() - started)
    model.sort([c.header for c in SET_COLUMNS].index("avg PF"), Qt.SortOrder.DescendingOrder)
    for _ in range(args.repeat):
        rows = pipeline_rows("bench", pipeline, 20)
        started = time.perf_counter()
        model.set_rows(rows)
        sorted_update.append(time.perf_counter() - started)
    ms = lambda xs: f"{statistics.median(xs) * 1000:.0f} ms"  # noqa: E731
    print(f"{len(rows):,} sets ({args.variants} variants × {len(pipeline.book.matrix)} exits, {args.results} "
          f"results each): read {ms(read)} (worker thread), model update {ms(update)}, sorted by avg PF "
          f"{ms(sorted_update)} (GUI thread)")


if __name__ == "__main__":
    main()
