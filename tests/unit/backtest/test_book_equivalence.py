"""A backtest of fixed configurations on real candles gives the same trade list as the live book (SetBook)
replaying the same candles bar by bar — entries at the signal bar's close, exits by the one exit simulator."""

from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.backtest.runner import FixedSet, run_backtest
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.exits import ExitConfig, ExitParams
from cts_desktop.domain.matrix import build_matrix

SETS = [
    (FixedSet("rsi", (14.0, 30.0, 70.0), LONG, ExitConfig(4.0, 1.0)), 0.0, 1),
    (FixedSet("rsi", (9.0, 35.0, 65.0), SHORT, ExitConfig(6.0, 0.5)), 0.0, 2),
    (FixedSet("bollinger", (20.0, 2.0), LONG, ExitConfig(8.0, 0.8, 0.6, 0.2)), 0.0, 2),
    (FixedSet("macd", (12.0, 26.0, 9.0), SHORT, ExitConfig(10.0, 0.4, 1.0, 0.3)), 0.0, 1),
    (FixedSet("sar", (0.02, 0.2), LONG, ExitConfig(22.0, 1.5)), 3600.0, 2),  # timeout closes most of them
    (FixedSet("direction", (3.0,), SHORT, ExitConfig(4.0, 1.2, 0.3, 0.1)), 0.0, 2),
    (FixedSet("stochastic", (14.0, 3.0, 3.0, 20.0, 80.0), LONG, ExitConfig(2.0, 2.2)), 7200.0, 1),
]


def book_replay(bars: Bars, fixed: FixedSet, params: ExitParams, max_open: int) -> list[tuple[float, float, float]]:
    """The live path: every candle moves the book, then a fired signal opens positions at the close."""
    matrix = build_matrix((fixed.exit.tp,), (fixed.exit.sl,),
                          ((fixed.exit.trail_start, fixed.exit.trail_stop),) if fixed.exit.trailing else (None,))
    book = SetBook(matrix, BookParams(exit=params, max_open=max_open, history=5000, cooldown_s=0.0))
    long_, short = entries(fixed.indication, fixed.params, bars, params.pc)
    sig = long_ if fixed.direction == LONG else short
    key = (fixed.indication, fixed.params, fixed.direction)
    book.add_variant(key)
    for i in range(len(bars)):
        book.update_bar(float(bars.time[i]), float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                        float(bars.close[i]))
        if sig[i]:
            book.on_indication(key, float(bars.time[i]), float(bars.close[i]))
    result, entry_t, close_t, _uw = book.history(0)
    return sorted(zip(entry_t.tolist(), close_t.tolist(), result.tolist(), strict=True))


@pytest.mark.parametrize(("fixed", "timeout", "max_open"), SETS, ids=[s[0].label for s in SETS])
def test_backtest_trades_equal_the_live_book(bars: Bars, fixed: FixedSet, timeout: float, max_open: int) -> None:
    params = ExitParams(pc=0.001, fee=0.00055, timeout_s=timeout)
    report = run_backtest([fixed], {"BTCUSDT": bars}, params, max_open=max_open)
    ours = sorted((t.entry_time, t.exit_time, t.result) for t in report.trades)
    live = book_replay(bars, fixed, params, max_open)
    assert len(ours) >= 3, "the case must produce trades to compare"
    assert [(e, x) for e, x, _ in ours] == [(e, x) for e, x, _ in live]
    # the book's ring stores results as float32
    np.testing.assert_allclose([r for *_, r in ours], [r for *_, r in live], rtol=0, atol=1e-7)
    assert report.metrics is not None and report.metrics.trades == len(live)
