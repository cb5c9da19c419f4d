"""Preset engine core on real 1-minute candles replayed as prices: the candles it builds equal the resampled
candles, every set fires exactly where the backtest's signal rule fires, live entry signals go out only for
qualifying sets without trailing or DCA; the preset type's limits and timeouts hold; the set evaluator disables a
losing set; coordination turns an auto-optimal run into ranked per-symbol candidates; preset-mode grids follow
the type's toggles and the settings."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest

from cts_desktop.backtest.history import resample
from cts_desktop.backtest.optimal import OptimalRequest, run_optimal
from cts_desktop.backtest.presets import ConfigurationSetDef, fixed_set_problem, for_preset_mode
from cts_desktop.backtest.runner import FixedSet
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.adjust import Adjust, BlockParams, DcaParams
from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams
from cts_desktop.domain.settings import default_values
from cts_desktop.engine.preset_runner import LiveSet, PresetLimits, PresetRunner, choose_candidates
from tests.unit.backtest.conftest import load_bars

PARAMS = ExitParams(pc=0.001, fee=0.00055)
FREE = PresetLimits(per_indication=50, per_direction=50, per_range=1, indication_timeout_s=0.0, cooldown_s=0.0)
SETS = [
    LiveSet(1, FixedSet("rsi", (7.0, 35.0, 65.0), LONG, ExitConfig(4.0, 1.0)), 1.0, 25, True),
    LiveSet(2, FixedSet("sma", (3.0, 8.0), SHORT, ExitConfig(6.0, 0.5)), 1.0, 25, True),
    LiveSet(3, FixedSet("sma", (3.0, 8.0), LONG, ExitConfig(6.0, 0.5, 0.6, 0.2)), 1.0, 25, True),  # trailing
    LiveSet(4, FixedSet("macd", (6.0, 13.0, 5.0), LONG, ExitConfig(2.0, 1.0)), 1.0, 25, False),  # failed backtest
    LiveSet(5, FixedSet("sma", (3.0, 8.0), SHORT, ExitConfig(8.0, 1.5), Adjust(dca=DcaParams())), 1.0, 25, True),
    LiveSet(6, FixedSet("rsi", (7.0, 35.0, 65.0), SHORT, ExitConfig(4.0, 1.0), Adjust(BlockParams())), 1.0, 25,
            True),
]


def ticks(bars: Bars) -> Iterator[tuple[float, float]]:
    """Each 1-minute candle as four prices 15 s apart: open, the adverse extreme first, the other, close."""
    for i in range(len(bars)):
        t = float(bars.time[i])
        o, h, lo, c = (float(x[i]) for x in (bars.open, bars.high, bars.low, bars.close))
        for k, price in enumerate((o, lo, h, c) if c >= o else (o, h, lo, c)):
            yield t + 15.0 * k, price


@pytest.fixture(scope="module")
def one_min() -> Bars:
    return load_bars("bybit_BTCUSDT-PERP_1m_20221213.csv")


def test_candles_signals_and_live_entries(one_min: Bars) -> None:
    runner = PresetRunner(SETS, PARAMS, candle_s=300.0, limits=FREE)
    fired: dict[int, list[float]] = {s.set_id: [] for s in SETS}
    sent = []
    for t, price in ticks(one_min):
        before = runner.evaluations
        out = runner.on_price("BTC", t, price)
        if runner.evaluations != before:
            candles = runner.candles["BTC"]
            for s in SETS:
                f = s.fixed
                long_, short = entries(f.indication, f.params, candles.bars(), PARAMS.pc)
                if (long_ if f.direction == LONG else short)[-1]:
                    fired[s.set_id].append(candles.time[-1])
        sent += out
    expected = resample(one_min, 300.0)
    built = runner.candles["BTC"].bars()
    n = len(built)
    assert n == len(expected) - 1  # the last candle is still open
    for name in ("time", "open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(built, name), getattr(expected, name)[:n])
    for s in SETS:
        f = s.fixed
        long_, short = entries(f.indication, f.params, expected.slice(0, n), PARAMS.pc)
        sig = long_ if f.direction == LONG else short
        want = [float(expected.time[j]) for j in np.flatnonzero(sig) if j >= 2]
        assert fired[s.set_id] == want
    assert sum(len(v) for v in fired.values()) == runner.fired > 3
    # signals: not for trailing (3), a failed backtest (4) or DCA (5); Block (6) carries its factor
    labels = {sig.label.split(":")[0] for sig in sent}
    assert labels <= {"preset set 1", "preset set 2", "preset set 6"} and "preset set 1" in labels
    by_id = {s.set_id: s for s in SETS}
    for sig in sent:
        s = by_id[int(sig.label.split(":")[0].split()[-1])]
        assert sig.take_profit_frac == s.fixed.exit.tp * PARAMS.pc
        assert sig.stop_loss_frac == s.fixed.exit.sl * s.fixed.exit.tp * PARAMS.pc
        assert sig.direction == ("long" if s.fixed.direction == LONG else "short")
        if s.set_id == 6:
            assert sig.label.endswith(("×1", "×2"))
    assert runner.opened >= len(sent) and runner.closed_pseudo() > 0
    dca_book = runner.books[("BTC", SETS[4].key)]
    assert dca_book.total_closed > 0


def test_limits_and_indication_timeout(one_min: Bars) -> None:
    """Six sets of one indication and direction (different exits): never more than ``per_direction`` open
    positions of that indication and direction, never more than ``per_range`` per set; a fire within the
    indication timeout of the previous one opens nothing."""
    exits = [ExitConfig(tp, sl) for tp in (10.0, 20.0) for sl in (1.0, 1.5, 2.0)]
    sets = [LiveSet(i, FixedSet("sma", (2.0, 5.0), LONG, e), 1.0, 25, True, rank=i) for i, e in enumerate(exits)]
    limits = PresetLimits(per_indication=10, per_direction=4, per_range=2, indication_timeout_s=0.0, cooldown_s=0.0)
    runner = PresetRunner(sets, PARAMS, candle_s=60.0, limits=limits)
    most = 0
    for t, price in ticks(one_min):
        runner.on_price("BTC", t, price)
        _kind, side = runner.open_counts("BTC")
        most = max(most, side[("sma", LONG)])
        assert all(b.n_open <= 2 for b in runner.books.values())
    assert most == 4 and runner.skipped_limit > 0
    # higher-ranked sets are served first: the best-ranked set opened at least as often as the last
    opened = [runner.books[("BTC", s.key)].total_closed + runner.books[("BTC", s.key)].n_open
              for s in sets if ("BTC", s.key) in runner.books]
    assert opened[0] >= opened[-1]

    timed = PresetRunner(sets[:1], PARAMS, candle_s=60.0, limits=replace(limits, indication_timeout_s=3600.0))
    passed: list[float] = []  # fires outside the timeout of the previous passed fire
    for t, price in ticks(one_min):
        before = (timed.fired, timed.skipped_timeout)
        timed.on_price("BTC", t, price)
        if timed.fired != before[0] and timed.skipped_timeout == before[1]:
            passed.append(t)
    assert timed.skipped_timeout > 0 and len(passed) >= 3
    assert all(b - a >= 3600.0 for a, b in itertools.pairwise(passed))
    assert timed.opened <= len(passed)


def test_set_evaluator_disables_a_losing_set(one_min: Bars) -> None:
    losing = LiveSet(7, FixedSet("sma", (2.0, 5.0), LONG, ExitConfig(2.0, 0.3)), 5.0, 3, True)  # needs PF ≥ 5
    runner = PresetRunner([losing], PARAMS, candle_s=60.0, limits=FREE)
    disabled = []
    for t, price in ticks(one_min):
        runner.on_price("BTC", t, price)
        if not disabled:
            disabled = runner.evaluate_sets()
            if disabled:
                at = runner.opened
    assert disabled and disabled[0][0] == losing and "below 5" in disabled[0][1]
    assert runner.opened == at  # nothing opened after the verdict
    assert not runner.live_ok("BTC", losing)
    assert runner.evaluate_sets() == []  # reported once


def test_coordination_candidates_are_ranked_per_set_and_symbol() -> None:
    bars = load_bars()
    d = ConfigurationSetDef(name="rsi", indication="rsi", param_values=((9.0, 14.0), (30.0, 35.0), (65.0, 70.0)),
                            tp_values=(2.0, 4.0, 8.0), sl_values=(0.5, 1.0), trades_per_48h_min=1.0, pf_min=0.5,
                            drawdown_time_max_h=96.0)
    half = Bars(*(getattr(bars, f)[:600] for f in ("time", "open", "high", "low", "close")))
    result = run_optimal(OptimalRequest((d,), PARAMS), {"BTC": bars, "ETH": half})
    chosen = choose_candidates(result, [42], limit=5)
    assert set(chosen) <= {(42, "BTC"), (42, "ETH")} and (42, "BTC") in chosen
    valid = result.valid()
    for (sid, symbol), sets in chosen.items():
        want = [r for r in valid if r.symbol == symbol][:5]
        assert [(s.fixed.params, s.fixed.direction, s.fixed.exit) for s in sets] == [
            (r.params, r.direction, r.exit) for r in want]
        assert all(s.symbol == symbol and s.set_id == sid and s.backtest_ok for s in sets)
    ranks = [s.rank for sets in chosen.values() for s in sets]
    assert len(set(ranks)) == len(ranks)
    # a candidate trades only on its symbol
    runner = PresetRunner(chosen[(42, "BTC")], PARAMS, candle_s=300.0, limits=FREE)
    assert all(s.applies("BTC") and not s.applies("ETH") for s in runner.sets)


def test_preset_mode_grid_follows_type_and_settings() -> None:
    values = dict(default_values())
    d = ConfigurationSetDef(name="x", indication="direction", param_values=((3.0, 5.0),), tp_values=(2.0,),
                            sl_values=(0.5,), block=True)
    # Preset Block is off by default: no Block axis; no trailing either (Preset trailing off)
    off = for_preset_mode(d, {"trailing": True}, values)
    assert [a.label for a in off.adjust_variants()] == [""] and off.trailing == ()
    values.update({"strategy.preset_block_enabled": True, "strategy.preset_dca_enabled": True,
                   "strategy.preset_trailing_enabled": True, "strategy.block_size": 3,
                   "strategy.block_adjustment_ratio": 0.5, "strategy.dca_max_steps": 2})
    on = for_preset_mode(d, {"trailing": True, "dca": True, "dca_only": True}, values)
    assert [a.label for a in on.adjust_variants()] == ["DCA 2", "block 3×1.5 DCA 2"]
    assert len(on.trailing) == 9 and not on.trailing_only  # 3 starts × 3 stops
    assert len(on.matrix()) == 10
    only = for_preset_mode(d, {"trailing_only": True}, values)
    assert only.trailing_only and len(only.matrix()) == 9
    none = for_preset_mode(d, {"trailing": False}, values)
    assert none.trailing == () and len(none.matrix()) == 1
    fixed = replace(d, fixed=True)
    assert for_preset_mode(fixed, {}, values) is fixed
    assert fixed_set_problem(True, False, dict(default_values())) is not None
    assert fixed_set_problem(True, True, values) is None
