"""Preset-mode settings (Settings › Strategy › Block, DCA, Preset trailing; Overall › Position cost) change what
the Preset engine's coordination backtests on real candles (Bybit BTCUSDT-perp, 5 minutes): the set's grid is
built from the stored values the way the Preset engine and "Backtest preset" build it, backtested, and the rows
the Strategies tab lists — exit variants, trades and net result of the Block and DCA variants — change as each
setting's label says. Every value is checked against the settings store's validation first.
"""

from __future__ import annotations

from functools import cache

import pytest

from cts_desktop.backtest.optimal import OptimalRequest, OptimalRow, run_optimal
from cts_desktop.backtest.presets import ConfigurationSetDef, exit_params_from, for_preset_mode
from cts_desktop.domain.settings import default_values, validate_many
from tests.unit.backtest.conftest import load_bars

SET = ConfigurationSetDef(name="sma", indication="sma", param_values=((3.0,), (8.0,)), tp_values=(4.0,),
                          sl_values=(8.0,), trades_per_48h_min=0.0, pf_min=0.0, drawdown_time_max_h=1000.0,
                          block=True, dca=True)
ON = {"strategy.preset_block_enabled": True, "strategy.preset_dca_enabled": True,
      "strategy.preset_trailing_enabled": True, "strategy.dca_max_steps": 2,
      "strategy.dca_step_distances": [0.5, 1.0], "strategy.dca_step_sizes": [1.5, 2.0]}

Rows = dict[tuple[object, ...], tuple[int, float]]


@cache
def _backtest(changes: tuple[tuple[str, object], ...]) -> Rows:
    values = {**default_values(), **validate_many({**ON, **dict(changes)})}
    grid = for_preset_mode(SET, {"trailing": True}, values)
    result = run_optimal(OptimalRequest((grid,), exit_params_from(values)), {"BTC": load_bars()})
    return {_key(r): (r.trades, round(r.net_pct, 9)) for r in result.rows}


def _key(row: OptimalRow) -> tuple[object, ...]:
    return (row.params, row.direction, row.exit.tp, row.exit.sl, row.exit.trail_start, row.exit.trail_stop,
            row.adjust.label)


def backtest(changes: dict[str, object]) -> Rows:
    return _backtest(tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in changes.items())))


def trailing_pairs(rows: Rows) -> set[tuple[object, object]]:
    return {(k[4], k[5]) for k in rows if k[4]}


@pytest.mark.parametrize(("key", "index", "value"), [
    ("strategy.preset_trailing_starts", 0, [0.8]),
    ("strategy.preset_trailing_stops", 1, [0.3]),
])
def test_preset_trailing_values_are_the_exit_variants_backtested(key: str, index: int, value: list[float]) -> None:
    before, after = trailing_pairs(backtest({})), trailing_pairs(backtest({key: value}))
    assert before and {p[index] for p in after} == set(value)
    assert value[0] not in {p[index] for p in before}


def adjusted(rows: Rows, word: str) -> Rows:
    """The results of the variants with ``word`` in their label (its numbers may change), trailing off."""
    return {(*k[:6], word): v for k, v in rows.items() if word in str(k[6]) and not k[4]}


@pytest.mark.parametrize(("key", "word", "a", "b"), [
    ("strategy.dca_step_distances", "DCA", [0.5, 1.0], [0.2, 0.4]),
    ("strategy.dca_step_sizes", "DCA", [1.5, 2.0], [3.0, 5.0]),
    ("strategy.block_neutral_wait", "block", 0, 3),
    ("strategy.block_auto_disable", "block", False, True),
    ("strategy.block_disable_win_rate", "block", 0, 70),
    ("strategy.block_enable_win_rate", "block", 100, 61),
])
def test_block_and_dca_settings_change_their_variants_results(key: str, word: str, a: object, b: object) -> None:
    base = {"strategy.block_auto_disable": True, "strategy.block_disable_win_rate": 60,
            "strategy.block_enable_win_rate": 80, "strategy.block_size": 2}
    first, second = adjusted(backtest({**base, key: a}), word), adjusted(backtest({**base, key: b}), word)
    assert first and first.keys() == second.keys()
    assert any(v[0] for v in first.values()), "the variants traded"
    assert first != second, (key, first)
    plain = {k: v for k, v in backtest({**base, key: a}).items() if k[6] == "" and not k[4]}
    assert plain == {k: v for k, v in backtest({**base, key: b}).items() if k[6] == "" and not k[4]}


def test_position_cost_scales_the_exits_backtested() -> None:
    """TP and SL are multiples of the position cost: a larger cost means wider exits, so other trades."""
    a, b = backtest({"overall.position_cost": 0.1}), backtest({"overall.position_cost": 0.3})
    assert a.keys() == b.keys() and a != b
