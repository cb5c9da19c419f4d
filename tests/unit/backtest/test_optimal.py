"""Auto-optimal: a grid cell equals the backtest of that configuration, validity rules, a seeded run gives the
same ranking twice, and cancel stops the run within a second."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from cts_desktop.backtest.jobs import Cancelled, CancelToken, ProgressInfo
from cts_desktop.backtest.optimal import OptimalRequest, run_optimal
from cts_desktop.backtest.presets import ConfigurationSetDef
from cts_desktop.backtest.runner import FixedSet, run_backtest
from cts_desktop.domain.bars import Bars
from cts_desktop.domain.exits import ExitParams

PARAMS = ExitParams(pc=0.001, fee=0.00055)


def rsi_set(**kw: object) -> ConfigurationSetDef:
    base: dict[str, object] = dict(
        name="rsi", indication="rsi", param_values=((9.0, 14.0, 21.0), (25.0, 30.0, 35.0), (65.0, 70.0)),
        tp_values=(2.0, 4.0, 8.0, 12.0), sl_values=(0.4, 0.8, 1.2), trailing=((0.6, 0.2),), trades_per_48h_min=1.0,
    )
    base.update(kw)
    return ConfigurationSetDef(**base)  # type: ignore[arg-type]


def tail_pf(results: np.ndarray, n: int) -> float:
    tail = results[-n:]
    loss = -tail[tail <= 0].sum()
    win = tail[tail > 0].sum()
    return math.inf if loss == 0 and win > 0 else (math.nan if loss == 0 else win / loss)


def test_every_cell_equals_the_backtest_of_its_configuration(bars: Bars) -> None:
    definition = rsi_set(eval_count_1=5, eval_count_2=10)
    result = run_optimal(OptimalRequest((definition,), PARAMS), {"BTC": bars})
    assert result.evaluated == definition.size() == len(result.rows)
    rng = np.random.default_rng(3)
    picked = [result.rows[i] for i in rng.choice(len(result.rows), 12, replace=False)]
    for row in picked:
        fixed = FixedSet(row.indication, row.params, row.direction, row.exit)
        rep = run_backtest([fixed], {"BTC": bars}, PARAMS)
        assert rep.metrics is not None
        assert row.trades == rep.metrics.trades
        assert row.net_pct == pytest.approx(rep.metrics.net_pct, abs=1e-9)
        assert row.max_drawdown_pct == pytest.approx(rep.metrics.max_drawdown_pct, abs=1e-9)
        assert row.drawdown_time_h == pytest.approx(rep.metrics.max_drawdown_hours, abs=1e-9)
        res = np.array([t.result for t in rep.trades])
        if row.trades:
            assert row.pf_a == pytest.approx(tail_pf(res, 5), nan_ok=True)
            assert row.pf_b == pytest.approx(tail_pf(res, 10), nan_ok=True)


def test_validity_rules_and_ranking(bars: Bars) -> None:
    definition = rsi_set(pf_min=1.2, trades_per_48h_min=2.0, drawdown_time_max_h=24.0)
    ranked = run_optimal(OptimalRequest((definition,), PARAMS), {"BTC": bars}).ranked()
    valid = [r for r in ranked if r.valid]
    invalid = [r for r in ranked if not r.valid]
    assert valid and invalid
    assert ranked[: len(valid)] == valid  # valid first
    for r in valid:
        assert r.gross_pf >= 1.2 and r.per_48h >= 2.0 and r.drawdown_time_h <= 24.0
    for r in invalid:
        assert r.trades == 0 or r.gross_pf < 1.2 or r.per_48h < 2.0 or r.drawdown_time_h > 24.0 or not (
            r.pf_a > 0 or r.pf_b > 0)
        assert r.reason != "valid"
    keys = [(-min(r.pf_a, 1e12), -min(r.pf_b, 1e12)) for r in valid]
    assert keys == sorted(keys)


def _key(value: float) -> float | None:
    return None if math.isnan(value) else value


def test_seeded_run_gives_the_same_ranking_twice(bars: Bars) -> None:
    definition = rsi_set(param_values=((7.0, 9.0, 11.0, 14.0, 17.0, 21.0), (20.0, 25.0, 30.0), (65.0, 70.0, 75.0)),
                         tp_values=(2.0, 4.0, 6.0, 8.0), sl_values=(0.4, 0.8))

    def ranking(seed: int) -> list[tuple[object, ...]]:
        res = run_optimal(OptimalRequest((definition,), PARAMS, max_configs=300, seed=seed), {"BTC": bars})
        assert res.evaluated == 300
        return [(r.params, r.direction, r.exit, r.trades, r.net_pct, _key(r.pf_a), _key(r.pf_b), r.valid)
                for r in res.ranked()]

    first, second = ranking(11), ranking(11)
    assert first == second
    assert ranking(12) != first  # the seed really chooses the sample


def test_cancel_stops_within_a_second(bars: Bars) -> None:
    long_bars = Bars(*(np.concatenate([getattr(bars, f)] * 4) for f in ("time", "open", "high", "low", "close")))
    long_bars = Bars(np.arange(len(long_bars)) * 300.0, long_bars.open, long_bars.high, long_bars.low,
                     long_bars.close)
    definition = ConfigurationSetDef(  # ~3 million cells: many seconds of work
        name="rsi", indication="rsi", param_values=(tuple(float(x) for x in range(5, 31)),
                                                    tuple(float(x) for x in range(10, 46, 5)),
                                                    tuple(float(x) for x in range(55, 95, 5))),
        tp_values=tuple(float(x) for x in range(2, 23, 2)), sl_values=tuple(round(0.2 + 0.1 * i, 1) for i in range(21)),
        trailing=((0.3, 0.1), (0.6, 0.2), (1.0, 0.3)),
    )
    seen: list[ProgressInfo] = []
    token = CancelToken()
    timers: list[threading.Timer] = []

    def progress(info: ProgressInfo) -> None:
        seen.append(info)
        if info.done > 0 and not timers:  # the grid is running: cancel 0.3 s later
            timers.append(threading.Timer(0.3, token.cancel))
            timers[0].start()

    started = time.monotonic()
    with pytest.raises(Cancelled):
        run_optimal(OptimalRequest((definition,), PARAMS), {"BTC": long_bars}, token, progress)
    stopped = time.monotonic()
    assert token.cancelled_at is not None
    assert stopped - token.cancelled_at < 1.0
    assert seen and 0 < seen[-1].done < seen[-1].total  # it was really running, and not finished
    assert stopped - started < 0.5 * (stopped - started) * seen[-1].total / seen[-1].done  # far from the end
    assert seen[-1].eta_s is not None and seen[-1].eta_s > 0


@pytest.mark.parametrize("max_open", [1, 2])
def test_block_and_dca_axes_and_their_cells_equal_backtests(bars: Bars, max_open: int) -> None:
    """Block and DCA on: the grid doubles per adjustment; every cell equals the backtest of its fixed set (one
    and two positions at a time: different kernel paths for Block); the adjustments really change results."""
    definition = rsi_set(param_values=((9.0, 14.0), (30.0,), (70.0,)), tp_values=(4.0, 10.0), sl_values=(0.6, 1.2),
                         block=True, dca=True, eval_count_1=5, eval_count_2=10)
    assert definition.size() == 2 * 2 * 2 * 2 * 2 * 4  # params × TP × SL × (off + trailing) × directions × 4
    only = rsi_set(block=True, block_only=True, dca=True)
    assert [a.label for a in only.adjust_variants()] == ["block 2×2", "block 2×2 DCA 4"]
    result = run_optimal(OptimalRequest((definition,), PARAMS, max_open=max_open), {"BTC": bars})
    assert result.evaluated == definition.size()
    by_cell: dict[tuple[object, ...], dict[str, float]] = {}
    for row in result.rows:
        fixed = FixedSet(row.indication, row.params, row.direction, row.exit, row.adjust)
        rep = run_backtest([fixed], {"BTC": bars}, PARAMS, max_open=max_open)
        assert rep.metrics is not None
        assert row.trades == rep.metrics.trades
        assert row.net_pct == pytest.approx(rep.metrics.net_pct, abs=1e-9)
        assert row.max_drawdown_pct == pytest.approx(rep.metrics.max_drawdown_pct, abs=1e-9)
        assert row.drawdown_time_h == pytest.approx(rep.metrics.max_drawdown_hours, abs=1e-9)
        res = np.array([t.result for t in rep.trades])
        if row.trades:
            assert row.pf_a == pytest.approx(tail_pf(res, 5), nan_ok=True)
        by_cell.setdefault((row.params, row.direction, row.exit), {})[row.adjust.label] = row.net_pct
    changed = {label for cell in by_cell.values() for label, net in cell.items() if net != cell[""]}
    assert changed == {"block 2×2", "DCA 4", "block 2×2 DCA 4"}
