"""The compiled sweep against a plain per-configuration loop over the one-position exit simulator."""

from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.matrix import build_matrix
from cts_desktop.domain.sweep import PreparedBars, sweep, sweep_trades
from tests.unit.domain.domain_reference import reference_trades, reversal_entries

PARAMS = ExitParams(pc=0.001, fee=0.00055)
TIMED = ExitParams(pc=0.001, fee=0.00055, timeout_s=3600.0)
MATRIX = build_matrix(tp_values=(2.0, 8.0, 22.0), sl_values=(0.2, 1.0, 2.2))  # 36 configurations


@pytest.mark.parametrize("direction", [LONG, SHORT])
@pytest.mark.parametrize("max_open", [1, 2])
@pytest.mark.parametrize("params", [PARAMS, TIMED], ids=["no-timeout", "timeout"])
def test_sweep_equals_per_config_loop(
    btc5m_bars: Bars, direction: int, max_open: int, params: ExitParams
) -> None:
    entries = reversal_entries(btc5m_bars.close, 2, direction)
    res = sweep(btc5m_bars, entries[None, :], [direction], MATRIX, params, max_open=max_open)
    for k in range(len(MATRIX)):
        ref = reference_trades(btc5m_bars, entries, direction, MATRIX.config(k), params, max_open)
        got = sweep_trades(btc5m_bars, entries, direction, MATRIX.config(k), params, max_open=max_open)
        mine = sorted(zip(got.entry_index.tolist(), got.exit_index.tolist(), got.result.tolist(), strict=True))
        assert [(a, b) for a, b, _ in mine] == [(a, b) for a, b, _ in ref]
        assert np.allclose([x for *_, x in mine], [x for *_, x in ref], rtol=0, atol=1e-15)
        assert res.trades[0, k] == len(ref)
        assert res.total[0, k] == pytest.approx(sum(x for *_, x in ref), abs=1e-12)
    assert res.trades.sum() > 100  # the slice really exercises the exits


@pytest.mark.parametrize("params", [PARAMS, TIMED], ids=["no-timeout", "timeout"])
def test_block_skipping_changes_nothing(btc5m_bars: Bars, params: ExitParams) -> None:
    full = build_matrix()
    entries = np.stack([reversal_entries(btc5m_bars.close, 3, d) for d in (LONG, SHORT)])
    plain = sweep(PreparedBars.build(btc5m_bars, 0, 0), entries, [LONG, SHORT], full, params, max_open=2)
    for block, coarse in ((4, 0), (16, 0), (2, 8), (16, 4)):
        r = sweep(PreparedBars.build(btc5m_bars, block, coarse), entries, [LONG, SHORT], full, params, max_open=2)
        assert np.array_equal(r.trades, plain.trades)
        assert np.array_equal(r.total, plain.total)
        assert np.array_equal(r.max_drawdown, plain.max_drawdown)
        assert np.array_equal(r.still_open, plain.still_open)


def test_statistics_follow_the_trades(btc5m_bars: Bars) -> None:
    entries = reversal_entries(btc5m_bars.close, 2, LONG)
    res = sweep(btc5m_bars, entries[None, :], [LONG], MATRIX, PARAMS)
    checked = [k for k in range(len(MATRIX)) if res.trades[0, k] >= 5 and res.wins[0, k] < res.trades[0, k]]
    assert len(checked) >= 10
    for k in checked:
        tr = sweep_trades(btc5m_bars, entries, LONG, MATRIX.config(k), PARAMS)
        wins = tr.result[tr.result > 0]
        losses = tr.result[tr.result <= 0]
        curve = np.cumsum(tr.result)
        assert res.wins[0, k] == wins.size
        assert res.gross_pf[0, k] == pytest.approx(wins.sum() / -losses.sum())
        assert res.avg_pf[0, k] == pytest.approx(tr.result.mean() / PARAMS.pc)
        equity = np.r_[0.0, curve]
        assert res.max_drawdown[0, k] == pytest.approx(np.max(np.maximum.accumulate(equity) - equity))
