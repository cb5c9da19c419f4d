"""Indication and market-activity settings decide which indications fire: the Main pipeline the engine runs per
symbol, built from the stored setting values, replays real candles (the shared data folder's BTCUSDT minutes)
once with each value, and the indications it fired — type and parameters, the variants the Sets tab lists —
change as each setting's label says. A parameter range bounds the variants of its own type only (Direction's
range does not widen Move or Optimal); a type switched off fires nothing; a stricter activity gate lets fewer
indications through. The compiled batch warm-up fires exactly the same indications (one combined check).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache

import pytest

from cts_desktop.engine.warmup import Candle
from tests.helpers.shared_data import candle_files, missing_reason
from tests.integration.engine.test_batch_warmup import both_paths, pipeline, read_candles

Fired = Counter[tuple[str, tuple[float, ...]]]  # (type, parameters) → how often it fired

BASE: dict[str, object] = {  # every type on, the gate off, a small exit matrix: only the indications matter here
    "indications.activity.enabled": False, "indications.optimal.enabled": True,
    "indications.max_variants_per_symbol": 400, "strategy.validation_timeout_s": 0, "overall.position_cost": 0.02,
    "strategy.tp_factors": [2], "strategy.sl_ratios": [1.0], "strategy.trailing_enabled": False,
    "indications.direction.range_min": 3, "indications.direction.range_max": 6,
    "indications.move.range_min": 3, "indications.move.range_max": 6,
    "indications.optimal.range_min": 3, "indications.optimal.range_max": 6,
}


CANDLES = 600  # minutes, each replayed in LEG × 3 one-second prices (faster than real time, as Replay does)
LEG = 5


@cache
def candles() -> tuple[Candle, ...]:
    found = [p for p in candle_files() if p.name.startswith("bybit_BTCUSDT-PERP_1m_20221213")]
    if not found:
        pytest.skip(missing_reason("the BTCUSDT minute candles"))
    return tuple(read_candles(found[0]))


@cache
def seconds() -> tuple[tuple[float, float], ...]:
    """Each minute candle as one price a second: open → the adverse extreme → the other extreme → close, in
    straight lines of LEG seconds."""
    out: list[tuple[float, float]] = []
    for n, (_ts, o, h, low, c, _v) in enumerate(candles()[:CANDLES]):
        start = 1_670_889_600.0 + n * 3 * LEG
        corners = (o, low, h, c) if c >= o else (o, h, low, c)
        for leg in range(3):
            a, b = corners[leg], corners[leg + 1]
            out += [(start + leg * LEG + k, a + (b - a) * k / LEG) for k in range(LEG)]
    return tuple(out)


@cache
def _fired(changes: tuple[tuple[str, object], ...]) -> Fired:
    out: Fired = Counter()
    line = pipeline({**BASE, **dict(changes)})
    for t, price in seconds():
        out.update((i.kind.value, i.params) for i in line.on_price(t, price, entries_allowed=False).indications)
    return out


def fired(changes: dict[str, object]) -> Fired:
    """What the Main pipeline fires over the prices with BASE and ``changes`` stored."""
    return _fired(tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in changes.items())))


def values_of(found: Fired, kind: str, index: int) -> set[float]:
    return {round(params[index], 6) for k, params in found if k == kind}


@dataclass(frozen=True)
class Span:
    """A from/to setting of one parameter of one type: the values it fires with stay inside the span, and a
    wider span brings variants with the newly allowed value."""

    kind: str
    index: int  # into the indication's parameter tuple
    narrow: dict[str, object]
    wide: dict[str, object]
    new_value: float  # allowed by ``wide`` only
    scale: float = 1.0  # setting unit → parameter unit (percent → fraction)


SPANS: dict[str, Span] = {
    "indications.direction.range_min": Span("direction", 0, {"indications.direction.range_min": 4},
                                            {"indications.direction.range_min": 3}, 3),
    "indications.direction.range_max": Span("direction", 0, {"indications.direction.range_max": 4},
                                            {"indications.direction.range_max": 5}, 5),
    "indications.move.range_min": Span("move", 0, {"indications.move.range_min": 4},
                                       {"indications.move.range_min": 3}, 3),
    "indications.move.range_max": Span("move", 0, {"indications.move.range_max": 4},
                                       {"indications.move.range_max": 5}, 5),
    "indications.optimal.range_min": Span("optimal", 0, {"indications.optimal.range_min": 4},
                                          {"indications.optimal.range_min": 3}, 3),
    "indications.optimal.range_max": Span("optimal", 0, {"indications.optimal.range_max": 4},
                                          {"indications.optimal.range_max": 5}, 5),
    "indications.optimal.drawdown_ratio_min": Span(
        "optimal", 1, {"indications.optimal.drawdown_ratio_min": 0.5},
        {"indications.optimal.drawdown_ratio_min": 0.4}, 0.4),
    "indications.optimal.drawdown_ratio_max": Span(
        "optimal", 1, {"indications.optimal.drawdown_ratio_max": 0.1},
        {"indications.optimal.drawdown_ratio_max": 0.2}, 0.2),
    "indications.optimal.market_change_min": Span(
        "optimal", 2, {"indications.optimal.market_change_min": 3},
        {"indications.optimal.market_change_min": 1}, 1),
    "indications.optimal.market_change_max": Span(
        "optimal", 2, {"indications.optimal.market_change_max": 1},
        {"indications.optimal.market_change_max": 3}, 3),
    "indications.optimal.last_part_ratio_min": Span(
        "optimal", 3, {"indications.optimal.last_part_ratio_min": 1.5},
        {"indications.optimal.last_part_ratio_min": 1.0}, 1.0),
    "indications.optimal.last_part_ratio_max": Span(
        "optimal", 3, {"indications.optimal.last_part_ratio_max": 1.0},
        {"indications.optimal.last_part_ratio_max": 1.5}, 1.5),
    "indications.active.range_min": Span("active", 0, {"indications.active.range_min": 2},
                                         {"indications.active.range_min": 1}, 1),
    "indications.active.range_max": Span("active", 0, {"indications.active.range_max": 1},
                                         {"indications.active.range_max": 2}, 2),
    "indications.active.calculated_pct_min": Span(
        "active", 1, {"indications.active.calculated_pct_min": 20},
        {"indications.active.calculated_pct_min": 10}, 10, 0.01),
    "indications.active.calculated_pct_max": Span(
        "active", 1, {"indications.active.calculated_pct_max": 10},
        {"indications.active.calculated_pct_max": 20}, 20, 0.01),
    "indications.active.last_part_pct_min": Span(
        "active", 2, {"indications.active.last_part_pct_min": 20},
        {"indications.active.last_part_pct_min": 10}, 10, 0.01),
    "indications.active.last_part_pct_max": Span(
        "active", 2, {"indications.active.last_part_pct_max": 10},
        {"indications.active.last_part_pct_max": 20}, 20, 0.01),
}


def _bounds(key: str, changes: dict[str, object]) -> tuple[float, float]:
    prefix = key.rsplit("_", 1)[0]
    from cts_desktop.domain.settings import default_values

    v = {**default_values(), **BASE, **changes}
    return float(v[f"{prefix}_min"]), float(v[f"{prefix}_max"])  # type: ignore[arg-type]


@pytest.mark.parametrize("key", sorted(SPANS))
def test_a_parameter_span_bounds_the_variants_of_its_own_type(key: str) -> None:
    span = SPANS[key]
    narrow, wide = fired(span.narrow), fired(span.wide)
    low, high = _bounds(key, span.narrow)
    seen = values_of(narrow, span.kind, span.index)
    assert seen, f"{span.kind} fired nothing with {span.narrow}"
    assert all(low * span.scale - 1e-9 <= x <= high * span.scale + 1e-9 for x in seen), (key, seen)
    assert round(span.new_value * span.scale, 6) not in seen
    assert round(span.new_value * span.scale, 6) in values_of(wide, span.kind, span.index), (key, wide)
    if span.index == 0 and span.kind != "active":  # a step-count range is its own type's: the others keep theirs
        for other in {"direction", "move", "optimal"} - {span.kind}:
            assert values_of(narrow, other, 0) == values_of(wide, other, 0), (key, other)


@pytest.mark.parametrize("key", ["indications.direction.enabled", "indications.move.enabled"])
def test_a_type_switched_off_fires_nothing(key: str) -> None:
    kind = key.split(".")[1]
    on, off = fired({key: True}), fired({key: False})
    assert any(k == kind for k, _ in on)
    assert not any(k == kind for k, _ in off)
    others = {k for k, _ in on} - {kind, "optimal"}  # Optimal follows the reversals Direction reads
    assert others and others <= {k for k, _ in off}


EASY_GATE: dict[str, object] = {
    "indications.activity.enabled": True, "indications.activity.calculation_range_s": 10,
    "indications.activity.pc_ratio_index": 1, "indications.activity.min_volatility_pct": 0.01,
    "indications.activity.min_price_change_pct": 0.01, "indications.activity.activation_pct": 0.01,
    "indications.activity.deactivation_pct": 0.01,
}
STRICT_GATE: dict[str, object] = {  # each alone keeps the market from being ACTIVE far more often
    "indications.activity.pc_ratio_index": 20, "indications.activity.min_volatility_pct": 1.0,
    "indications.activity.min_price_change_pct": 1.0, "indications.activity.activation_pct": 2.0,
}


@pytest.mark.parametrize("key", sorted(STRICT_GATE))
def test_a_stricter_activity_gate_lets_fewer_indications_fire(key: str) -> None:
    easy = sum(fired(EASY_GATE).values())
    strict = sum(fired({**EASY_GATE, key: STRICT_GATE[key]}).values())
    assert easy > 0 and strict < easy / 2, (key, easy, strict)


def test_the_deactivation_threshold_keeps_an_active_market_active() -> None:
    """Hysteresis: an ACTIVE market stays ACTIVE while its movement is above the deactivation threshold, so a
    deactivation as high as the activation lets fewer indications fire than a low one."""
    gate = {**EASY_GATE, "indications.activity.activation_pct": 0.3}
    low = sum(fired({**gate, "indications.activity.deactivation_pct": 0.01}).values())
    high = sum(fired({**gate, "indications.activity.deactivation_pct": 0.3}).values())
    assert high < low, (low, high)


def test_the_activity_window_changes_when_the_market_counts_as_active() -> None:
    """Calculation range: the movement is summed over this many seconds, so a longer window reaches the activation
    threshold more often."""
    gate = {**EASY_GATE, "indications.activity.activation_pct": 0.3}
    short = sum(fired({**gate, "indications.activity.calculation_range_s": 5}).values())
    long = sum(fired({**gate, "indications.activity.calculation_range_s": 20}).values())
    assert long > short, (short, long)


@pytest.mark.parametrize(("key", "values"), [
    ("indications.min_calculation_time_s", (1, 60)),  # the Optimal filter's measuring window
    ("indications.last_part_pct", (10, 50)),  # the newest part Optimal and Active compare
])
def test_the_measuring_window_changes_which_variants_fire(key: str, values: tuple[int, int]) -> None:
    kinds = ("optimal", "active") if key == "indications.last_part_pct" else ("optimal",)
    first, second = (fired({key: v}) for v in values)
    for kind in kinds:
        a = Counter({k: n for k, n in first.items() if k[0] == kind})
        b = Counter({k: n for k, n in second.items() if k[0] == kind})
        assert a and a != b, (key, kind)


def test_the_batch_warm_up_fires_what_the_ticks_fire_with_own_ranges() -> None:
    own = {"indications.direction.range_min": 4, "indications.direction.range_max": 4,
           "indications.move.range_max": 5, "indications.optimal.range_min": 5}
    by_ticks, _, _ = both_paths(list(candles()), {**BASE, **own})  # every book array and fired key compared
    ranges = {kind: {params[0] for k, params, _ in by_ticks.book.variants if k == kind}
              for kind in ("direction", "move", "optimal")}
    assert ranges["direction"] == {4.0} and ranges["move"] <= {3.0, 4.0, 5.0} and ranges["optimal"] <= {5.0, 6.0}

