"""The faster activity gate and indication engine give exactly what the previous code gave, on real prices.

The previous implementations are kept here verbatim as references (``ReferenceGate.push`` measured the whole window
every frame; ``ReferenceIndications`` recomputed the step-trim length every frame and ran the Active indication on
numpy arrays). Both run on the same real frames — BTCUSDT-perp minutes (12 h of 2022-12-13) and 5-minute bars
around the 2025 all-time high, each bar as four ticks — with the default parameters, with the gate off (every frame
live: every indication type fires), and with other gate windows; gate states and indications must be identical,
frame by frame.
"""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cts_desktop.domain.activity import ActivityGate, ActivityGateParams, MarketState, measure, next_state
from cts_desktop.domain.indications import (
    Indication,
    IndicationEngine,
    IndicationParams,
    IndicationType,
    _Run,
    last_part,
    range_ratio,
)
from cts_desktop.domain.settings import default_values
from cts_desktop.domain.steps import FrameBuilder
from cts_desktop.engine import engine_config as cfg

DATA = Path(__file__).resolve().parents[2] / "data"


class ReferenceGate(ActivityGate):
    """The gate as it was: ``measure`` over the whole window on every frame."""

    def push(self, price: float) -> MarketState:
        if not self.params.enabled:
            self.state = MarketState.ACTIVE
            return self.state
        self._window.append(price)
        while len(self._window) > self.params.calc_range_s + 1:
            self._window.popleft()
        if len(self._window) <= self.params.calc_range_s:
            return self.state
        self.state = next_state(self.state, measure(self._window), self.params)
        return self.state


class ReferenceIndications(IndicationEngine):
    """``push`` and ``_active`` as they were."""

    def push(self, time: float, price: float) -> list[Indication]:
        p = self.params
        state = self.gate.push(price)
        self._frames.append((time, price))
        self._recent.append(price)
        while self._frames and self._frames[0][0] < time - p.history_s:
            self._frames.popleft()
        live = state is MarketState.ACTIVE
        fired: list[Indication] = []
        run = self._run
        if run.sign != 0:
            run.extreme = max(run.extreme, price) if run.sign > 0 else min(run.extreme, price)
        level_before = self._steps.level
        k = self._steps.push(time, price)
        self._steps.trim(max(p.ranges, default=1) + 1)
        if k != 0:
            sign = 1 if k > 0 else -1
            if sign == run.sign:
                before = run.length
                run.length += abs(k)
                if live:
                    fired += self._move(time, price, before, run.length, sign)
            else:
                if run.sign != 0 and live:
                    fired += self._direction(time, price, run, sign)
                self._run = _Run(sign, abs(k), time, level_before, price)
                if live:
                    fired += self._move(time, price, 0, abs(k), sign)
        if live:
            fired += self._active(time, price)
        for ind in fired:
            self._last_fired[(ind.kind.value, ind.params)] = time
        return fired

    def _active(self, time: float, price: float) -> list[Indication]:
        p = self.params
        if IndicationType.ACTIVE not in p.types or len(self._recent) < p.activity_window_s + 1:
            return []
        window = np.fromiter(self._recent, dtype=np.float64)
        net = window[-1] - window[0]
        if net == 0:
            return []
        change = np.abs(np.diff(window) / window[:-1])
        tail_n = last_part(change.size, p.last_part_fraction)
        out: list[Indication] = []
        direction = 1 if net > 0 else -1
        for r in p.active_ranges:
            active = change >= range_ratio(r) * p.pc
            share = float(active.mean())
            share_last = float(active[-tail_n:].mean())
            for a in p.activity_shares:
                if share < a:
                    continue
                for b in p.activity_last_shares:
                    if share_last >= b and self._due(IndicationType.ACTIVE, (float(r), a, b), time):
                        out.append(Indication(time, IndicationType.ACTIVE, (float(r), a, b), direction, price))
        return out


def frames(name: str, bars: int) -> list[tuple[float, float]]:
    """1-s frames of real candles, each candle as four ticks spread over its first minute (as the warm-up does)."""
    with (DATA / name).open() as f:
        rows = list(csv.reader(f))[1 : bars + 1]
    builder = FrameBuilder()
    out: list[tuple[float, float]] = []
    for r in rows:
        t, (o, h, low, c) = int(r[0]) / 1000, map(float, r[1:5])
        for k, price in enumerate((o, low, h, c) if c >= o else (o, h, low, c)):
            out += builder.push(t + k * 15, price)
    return out


MINUTES = "bybit_BTCUSDT-PERP_1m_20221213.csv"
FIVE_MINUTES = "bybit_BTCUSDT-PERP_5m_20251006.csv"
DEFAULTS = default_values()
INDICATIONS = cfg.indication_params(DEFAULTS)
GATE = cfg.activity_params(DEFAULTS)


@pytest.mark.parametrize(("data", "bars", "gate"), [
    (MINUTES, 721, GATE),  # the warm-up's own case: defaults, a quiet day that wakes up
    (FIVE_MINUTES, 120, GATE),  # a busy market: the gate opens and closes
    (FIVE_MINUTES, 40, replace(GATE, enabled=False)),  # every frame live: all four indication types fire
])
def test_indications_and_gate_states_identical_to_the_previous_code(
    data: str, bars: int, gate: ActivityGateParams
) -> None:
    series = frames(data, bars)
    new = IndicationEngine(INDICATIONS, ActivityGate(gate))
    old = ReferenceIndications(INDICATIONS, ReferenceGate(gate))
    kinds: set[IndicationType] = set()
    states: set[MarketState] = set()
    fired = 0
    for t, price in series:
        got, want = new.push(t, price), old.push(t, price)
        assert got == want, f"frame {t}"
        assert new.gate.state is old.gate.state, f"frame {t}"
        kinds.update(i.kind for i in got)
        states.add(new.gate.state)
        fired += len(got)
    assert fired > 0
    if gate.enabled:
        assert states == set(MarketState), "the gate went through every state"
    else:
        assert kinds >= {IndicationType.ACTIVE, IndicationType.DIRECTION, IndicationType.MOVE}


@pytest.mark.parametrize("params", [
    ActivityGateParams(calc_range_s=2),
    ActivityGateParams(calc_range_s=30, activation=0.001, deactivation=0.0002, min_volatility=0.0001),
    ActivityGateParams(pc=0.0005, pc_ratio_index=9, min_price_change=0.003),
])
def test_gate_identical_with_other_windows_and_thresholds(params: ActivityGateParams) -> None:
    new, old = ActivityGate(params), ReferenceGate(params)
    seen = set()
    for _t, price in frames(FIVE_MINUTES, 150):
        assert new.push(price) is old.push(price)
        seen.add(new.state)
    assert len(seen) >= 2


def test_gate_with_a_zero_price_fails_where_it_always_did() -> None:
    """A zero price cannot be divided by: both raise on the same frames and agree again once it left the window."""
    prices = [100.0, 100.2, 0.0, 100.1, 100.3, 100.0, 99.8, 100.4, 100.0, 100.5, 100.1]
    new, old = ActivityGate(ActivityGateParams(calc_range_s=3)), ReferenceGate(ActivityGateParams(calc_range_s=3))
    outcomes: list[MarketState | None] = []
    for price in prices:
        results: list[MarketState | None] = []
        for gate in (new, old):
            try:
                results.append(gate.push(price))
            except ZeroDivisionError:
                results.append(None)
        assert results[0] == results[1]
        outcomes.append(results[0])
    assert None in outcomes and outcomes[-1] is not None


def test_active_with_a_zero_price_keeps_numpy_semantics() -> None:
    """(A zero price already fails in the step series; the Active indication alone still treats it as numpy did.)"""
    params = IndicationParams(types=frozenset({IndicationType.ACTIVE}), activity_window_s=4)
    gate = ActivityGateParams(enabled=False)
    new, old = IndicationEngine(params, ActivityGate(gate)), ReferenceIndications(params, ReferenceGate(gate))
    windows = ([100.0, 0.0, 100.2, 100.5, 101.0], [0.0, 100.0, 100.2, 100.5, 101.0], [100.0, 100.2, 0.0, 0.0, 0.5])
    fired = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for window in windows:
            for engine in (new, old):
                engine._recent.clear()
                engine._recent.extend(window)
            got = new._active(1.0, window[-1])
            assert got == old._active(1.0, window[-1])
            fired += len(got)
    assert fired > 0
