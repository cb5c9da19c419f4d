"""One truth: the live book fed tick by tick and the backtest sweep over the same real stream agree exactly."""

from __future__ import annotations

import numpy as np

from cts_desktop.domain.activity import ActivityGate, ActivityGateParams
from cts_desktop.domain.bars import Bars
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.indications import IndicationEngine, IndicationParams, IndicationType
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.domain.signals import entry_matrix
from cts_desktop.domain.sweep import sweep, sweep_trades


def test_book_on_ticks_equals_sweep_on_the_same_stream(btc1m: np.ndarray) -> None:
    # the real 1 m closes replayed one per second (as the simulator's accelerated replay)
    t = np.arange(btc1m.shape[0], dtype=np.float64)
    p = btc1m[:, 4].copy()
    exit_params = ExitParams(pc=0.0005, fee=0.00055, timeout_s=120.0)
    matrix = build_matrix(tp_values=(2.0, 6.0), sl_values=(0.5, 1.5))
    engine = IndicationEngine(
        IndicationParams(pc=0.0005, ranges=(2, 4), validation_timeout_s=3.0,
                         types=frozenset({IndicationType.DIRECTION, IndicationType.MOVE})),
        ActivityGate(ActivityGateParams(enabled=False)),
    )
    book = SetBook(matrix, BookParams(exit_params, max_open=2, history=1000, cooldown_s=1.0))
    fired = []
    for tt, pp in zip(t.tolist(), p.tolist(), strict=True):
        book.update_price(tt, pp)
        for ind in engine.push(tt, pp):
            fired.append(ind)
            book.on_indication(ind.variant_key, tt, pp)
    keys, entries, dirs = entry_matrix(t, fired)
    assert len(keys) == 8 and entries.sum() > 30
    bars = Bars.from_ticks(t, p)
    res = sweep(bars, entries, dirs, matrix, exit_params, max_open=2)
    for v, key in enumerate(keys):
        rows = book.variant_rows(key)
        np.testing.assert_array_equal(book.total[rows], res.trades[v])
        for c in range(len(matrix)):
            tr = sweep_trades(bars, entries[v], int(dirs[v]), matrix.config(c), exit_params, max_open=2)
            res_b, entry_t, close_t, _ = book.history(rows.start + c)
            assert sorted(zip(entry_t.tolist(), close_t.tolist(), strict=True)) == sorted(
                zip(t[tr.entry_index].tolist(), t[tr.exit_index].tolist(), strict=True))
            np.testing.assert_allclose(np.sort(res_b), np.sort(tr.result.astype(np.float32)), rtol=0, atol=0)
