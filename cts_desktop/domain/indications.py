"""Main-engine indications on the step series of 1-s frames (Part 1 §7, Part 2 §3.6): Direction, Move, Active,
Optimal — deterministic functions of the frame stream.

* **Direction(R)**: a run of at least R steps one way, then the first opposite step → signal in the new
  (opposite) direction (a reversal).
* **Move(R)**: the run reaches R steps with no opposite step (flat time allowed) → continuation signal, once
  per run.
* **Optimal(R, d, v, l)**: Direction(R) that also passes, for the run that just ended,
  the *market-change filter* — per-second changes over the run up to the frame before the reversal (at least
  ``min_calc_time_s`` seconds), signed in
  the run's direction: mean ≥ ratio(v) × pc and mean of the newest ``last_part_fraction`` ≥ l × overall mean —
  and the *drawdown filter* — the retracement from the run's extreme to the signal price ≤ d × the run's size.
* **Active(r, a, b)**: over the last ``activity_window_s`` frames the share of frames with |change| ≥
  ratio(r) × pc is ≥ a, and ≥ b within the newest ``last_part_fraction``; direction = net change's sign.

ratio(x) = 0.1 + (x − 1) × 0.1556 (Part 2 §3.5). Every (type, parameter tuple) has its own validation timeout,
and nothing fires unless the market-activity gate is ACTIVE.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from cts_desktop.domain.activity import ActivityGate, ActivityGateParams, MarketState
from cts_desktop.domain.steps import StepSeries


class IndicationType(Enum):
    DIRECTION = "direction"
    MOVE = "move"
    ACTIVE = "active"
    OPTIMAL = "optimal"


def range_ratio(value: float) -> float:
    """Market-change / active range value (1…10) → multiple of pc (0.1 … 1.5)."""
    return 0.1 + (value - 1.0) * 0.1556


@dataclass(frozen=True, slots=True)
class IndicationParams:
    """Variants evaluated per symbol; defaults are the full ranges of Part 2 §3.5. Every (type, parameter
    tuple, direction) that fires becomes one variant of the book, i.e. one row per exit configuration (924 by
    default) with its own ring: the full Active grid alone is 10 × 9 × 9 tuples, so the engine narrows these
    axes from settings rather than running the whole product on every symbol."""

    pc: float = 0.001
    ranges: tuple[int, ...] = tuple(range(3, 31))
    drawdowns: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5)
    market_changes: tuple[int, ...] = (1, 3, 5, 7, 9)
    last_part_ratios: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5)
    last_part_fraction: float = 0.2
    min_calc_time_s: float = 3.0
    active_ranges: tuple[int, ...] = tuple(range(1, 11))
    activity_shares: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 10))
    activity_last_shares: tuple[float, ...] = tuple(round(0.1 * k, 1) for k in range(1, 10))
    activity_window_s: int = 10
    validation_timeout_s: float = 15.0
    history_s: int = 3600
    types: frozenset[IndicationType] = frozenset(IndicationType)
    # each step-count type's own ranges (Direction, Move, Optimal settings), all within ``ranges`` (the union the
    # step run is tracked over); a type not listed fires for every value of ``ranges``
    type_ranges: tuple[tuple[IndicationType, tuple[int, ...]], ...] = ()

    def ranges_of(self, kind: IndicationType) -> tuple[int, ...]:
        """The step counts ``kind`` fires for."""
        for listed, ranges in self.type_ranges:
            if listed is kind:
                return ranges
        return self.ranges

    def allows(self, kind: IndicationType, params: tuple[float, ...]) -> bool:
        """Whether a variant of ``kind`` with ``params`` is one the settings ask for (its range is the first)."""
        return kind is IndicationType.ACTIVE or int(params[0]) in self.ranges_of(kind)

    def __post_init__(self) -> None:
        if not 0 < self.pc < 1:
            raise ValueError("pc is a fraction of price in (0, 1)")
        if not 0 < self.last_part_fraction <= 1:
            raise ValueError("last part fraction must be in (0, 1]")
        if self.activity_window_s < 2:
            raise ValueError("activity window needs at least 2 frames")


@dataclass(frozen=True, slots=True)
class Indication:
    time: float
    kind: IndicationType
    params: tuple[float, ...]
    direction: int  # +1 long, -1 short
    price: float

    @property
    def key(self) -> tuple[IndicationType, tuple[float, ...]]:
        """The validation-timeout key (type, parameter tuple)."""
        return self.kind, self.params

    @property
    def variant_key(self) -> tuple[str, tuple[float, ...], int]:
        """The book's variant key (type, parameter tuple, direction): see ``SetBook.on_indication``."""
        return self.kind.value, self.params, self.direction


def last_part(n: int, fraction: float) -> int:
    """Number of newest samples forming the "last part" of ``n`` (at least one)."""
    return max(1, math.ceil(n * fraction))


@dataclass
class _Run:
    sign: int = 0
    length: int = 0
    start_time: float = math.nan
    start_price: float = math.nan
    extreme: float = math.nan


@dataclass
class IndicationEngine:
    """One symbol's indication state. Feed 1-s frames in time order with :meth:`push`."""

    params: IndicationParams
    gate: ActivityGate = field(default_factory=lambda: ActivityGate(ActivityGateParams()))
    _steps: StepSeries = field(init=False)
    _run: _Run = field(default_factory=_Run)
    _frames: deque[tuple[float, float]] = field(default_factory=deque)
    _recent: deque[float] = field(init=False)
    _last_fired: dict[tuple[str, tuple[float, ...]], float] = field(default_factory=dict)

    _keep_steps: tuple[IndicationParams, int] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._steps = StepSeries(self.params.pc)
        self._recent = deque(maxlen=self.params.activity_window_s + 1)

    @property
    def market_state(self) -> MarketState:
        return self.gate.state

    def push(self, time: float, price: float) -> list[Indication]:
        p = self.params
        state = self.gate.push(price)
        frames = self._frames
        frames.append((time, price))
        self._recent.append(price)
        oldest = time - p.history_s
        while frames and frames[0][0] < oldest:
            frames.popleft()
        # the step run is tracked in every market state; indications are only built when the gate is ACTIVE,
        # and only for variants out of their validation timeout (checked before an Indication is created)
        live = state is MarketState.ACTIVE
        fired: list[Indication] = []
        run = self._run
        if run.sign != 0:
            run.extreme = max(run.extreme, price) if run.sign > 0 else min(run.extreme, price)
        level_before = self._steps.level
        k = self._steps.push(time, price)
        keep = self._keep_steps
        if keep is None or keep[0] is not p:  # the longest range + 1, per parameter set (not every frame)
            keep = self._keep_steps = (p, max(p.ranges, default=1) + 1)
        self._steps.trim(keep[1])
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

    def _due(self, kind: IndicationType, params: tuple[float, ...], time: float) -> bool:
        last = self._last_fired.get((kind.value, params))
        return last is None or time - last >= self.params.validation_timeout_s

    def _move(self, time: float, price: float, before: int, after: int, sign: int) -> list[Indication]:
        if IndicationType.MOVE not in self.params.types:
            return []
        kind = IndicationType.MOVE
        return [
            Indication(time, kind, (float(r),), sign, price)
            for r in self.params.ranges_of(kind)
            if before < r <= after and self._due(kind, (float(r),), time)
        ]

    def _direction(self, time: float, price: float, run: _Run, new_sign: int) -> list[Indication]:
        p = self.params
        fired_ranges = [r for r in p.ranges if run.length >= r]
        out: list[Indication] = []
        if IndicationType.DIRECTION in p.types:
            kind = IndicationType.DIRECTION
            own = p.ranges_of(kind)
            out += [
                Indication(time, kind, (float(r),), new_sign, price)
                for r in fired_ranges
                if r in own and self._due(kind, (float(r),), time)
            ]
        optimal = [r for r in fired_ranges if r in p.ranges_of(IndicationType.OPTIMAL)]
        if IndicationType.OPTIMAL in p.types and optimal:
            out += self._optimal(time, price, run, new_sign, optimal)
        return out

    def _optimal(
        self, time: float, price: float, run: _Run, new_sign: int, fired_ranges: list[int]
    ) -> list[Indication]:
        p = self.params
        start = min(run.start_time, time - p.min_calc_time_s)
        prices = [fp for ft, fp in self._frames if start <= ft < time]  # the run, without the reversal frame
        if len(prices) < 2:
            return []
        changes = [run.sign * (b - a) / a for a, b in itertools.pairwise(prices)]
        overall = sum(changes) / len(changes)
        tail = changes[-last_part(len(changes), p.last_part_fraction) :]
        tail_mean = sum(tail) / len(tail)
        size = abs(run.extreme - run.start_price)
        retrace = abs(run.extreme - price)
        out: list[Indication] = []
        for v in p.market_changes:
            if overall < range_ratio(v) * p.pc:
                continue
            for lp in p.last_part_ratios:
                if tail_mean < lp * overall:
                    continue
                for d in p.drawdowns:
                    if retrace > d * size:
                        continue
                    for r in fired_ranges:
                        key = (float(r), d, float(v), lp)
                        if self._due(IndicationType.OPTIMAL, key, time):
                            out.append(Indication(time, IndicationType.OPTIMAL, key, new_sign, price))
        return out

    def _active(self, time: float, price: float) -> list[Indication]:
        p = self.params
        if IndicationType.ACTIVE not in p.types or len(self._recent) < p.activity_window_s + 1:
            return []
        window = [float(x) for x in self._recent]
        net = window[-1] - window[0]
        if net == 0:
            return []
        # |per-frame change| as floats (a few values: plain Python beats numpy's per-call cost); a zero price keeps
        # numpy's semantics (inf/nan with its warning) instead of raising
        if 0.0 in window[:-1]:
            prices = np.asarray(window, dtype=np.float64)
            change: list[float] = np.abs(np.diff(prices) / prices[:-1]).tolist()
        else:
            change = [abs((y - x) / x) for x, y in itertools.pairwise(window)]
        size = len(change)
        tail_n = last_part(size, p.last_part_fraction)
        tail = change[-tail_n:]
        out: list[Indication] = []
        direction = 1 if net > 0 else -1
        for r in p.active_ranges:
            threshold = range_ratio(r) * p.pc
            # shares of frames at or above the threshold: count / n, exactly what numpy's mean of the flags gives
            share = sum(1 for c in change if c >= threshold) / size
            share_last = sum(1 for c in tail if c >= threshold) / tail_n
            for a in p.activity_shares:
                if share < a:
                    continue
                for b in p.activity_last_shares:
                    if share_last >= b and self._due(IndicationType.ACTIVE, (float(r), a, b), time):
                        out.append(Indication(time, IndicationType.ACTIVE, (float(r), a, b), direction, price))
        return out


def run_indications(
    times: np.ndarray, prices: np.ndarray, params: IndicationParams, gate: ActivityGateParams
) -> list[Indication]:
    """Batch helper (backtests, tests): every indication fired over a frame series."""
    engine = IndicationEngine(params, ActivityGate(gate))
    out: list[Indication] = []
    for t, price in zip(times.tolist(), prices.tolist(), strict=True):
        out += engine.push(t, price)
    return out
