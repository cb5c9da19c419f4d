"""The global market-activity gate with hysteresis (Part 2 §3.5, Part 1 §7): no Main indication fires unless
the symbol's market is ACTIVE.

Measured over the last ``calc_range_s`` one-second frames (relative 1-s changes Δ):

* movement = Σ|Δ| (fraction of price) — the quantity the activation / deactivation thresholds apply to;
* pre-checks for activation: mean |Δ| ≥ 0.05 × ``pc_ratio_index`` × pc (the original compared a raw fraction,
  a unit bug), σ(Δ) ≥ ``min_volatility`` and the window's high−low range ≥ ``min_price_change`` × price.

States: movement < deactivation → PAUSED; movement ≥ activation and the pre-checks pass → ACTIVE; an ACTIVE
market stays ACTIVE while movement ≥ deactivation (hysteresis); anything else → MONITORING. Disabled gate →
always ACTIVE.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from dataclasses import dataclass, field
from enum import Enum


class MarketState(Enum):
    PAUSED = "paused"
    MONITORING = "monitoring"
    ACTIVE = "active"


@dataclass(frozen=True, slots=True)
class ActivityGateParams:
    """Defaults of /settings/indications/main (Part 2 §3.5), fractions of price."""

    pc: float = 0.001
    enabled: bool = True
    calc_range_s: int = 10
    pc_ratio_index: int = 2
    min_price_change: float = 0.001
    min_volatility: float = 0.0005
    activation: float = 0.002
    deactivation: float = 0.0005

    def __post_init__(self) -> None:
        if self.calc_range_s < 2:
            raise ValueError("the activity window needs at least 2 frames")
        if self.deactivation > self.activation:
            raise ValueError("deactivation threshold must not exceed activation threshold")

    @property
    def required_mean_change(self) -> float:
        return 0.05 * self.pc_ratio_index * self.pc


@dataclass(frozen=True, slots=True)
class ActivityReading:
    movement: float
    mean_change: float
    volatility: float
    range_fraction: float


def measure(prices: list[float] | deque[float]) -> ActivityReading:
    """Activity figures of a window of consecutive 1-s frame prices."""
    p = list(prices)
    changes = [(b - a) / a for a, b in itertools.pairwise(p)]
    if not changes:
        return ActivityReading(0.0, 0.0, 0.0, 0.0)
    absolute = [abs(c) for c in changes]
    mean = sum(changes) / len(changes)
    var = sum((c - mean) ** 2 for c in changes) / len(changes)
    return ActivityReading(
        movement=sum(absolute),
        mean_change=sum(absolute) / len(absolute),
        volatility=math.sqrt(var),
        range_fraction=(max(p) - min(p)) / p[-1],
    )


@dataclass
class ActivityGate:
    """Per-symbol gate fed with 1-s frame prices.

    :meth:`push` gives exactly ``next_state(state, measure(window), params)`` without measuring every frame: the
    relative changes are kept as the window slides (each computed once, by the same expression ``measure`` uses),
    the movement is summed in the same order, and the other figures are computed only when they can decide the
    state (movement ≥ activation); below the deactivation threshold the market is PAUSED whatever they are."""

    params: ActivityGateParams
    state: MarketState = MarketState.PAUSED
    _window: deque[float] = field(default_factory=deque)
    _changes: deque[float | None] = field(default_factory=deque)  # pairwise over _window; None: divide by zero
    _absolute: deque[float] = field(default_factory=deque)
    _undefined: int = 0  # Nones in _changes (a zero price): such windows go through ``measure`` itself

    def push(self, price: float) -> MarketState:
        p = self.params
        if not p.enabled:
            self.state = MarketState.ACTIVE
            return self.state
        window, changes, absolute = self._window, self._changes, self._absolute
        if window:
            previous = window[-1]
            if previous == 0:
                changes.append(None)
                absolute.append(0.0)
                self._undefined += 1
            else:
                change = (price - previous) / previous
                changes.append(change)
                absolute.append(abs(change))
        window.append(price)
        while len(window) > p.calc_range_s + 1:  # n frames give n changes
            window.popleft()
            if changes:
                if changes.popleft() is None:
                    self._undefined -= 1
                absolute.popleft()
        if len(window) <= p.calc_range_s:
            return self.state  # not enough history yet: keep the current state
        if self._undefined:
            self.state = next_state(self.state, measure(window), p)  # raises as it always did
        else:
            self.state = self._next_state()
        return self.state

    def _next_state(self) -> MarketState:
        """``next_state(state, measure(window), params)``, computed from the kept changes."""
        p = self.params
        absolute = list(self._absolute)
        movement = sum(absolute)
        if movement < p.deactivation:
            return MarketState.PAUSED
        if movement >= p.activation:
            changes: list[float] = list(self._changes)  # type: ignore[arg-type]  # no None here (_undefined == 0)
            n = len(changes)
            mean = sum(changes) / n
            var = sum((c - mean) ** 2 for c in changes) / n
            prices = self._window
            reading = ActivityReading(movement, sum(absolute) / len(absolute), math.sqrt(var),
                                      (max(prices) - min(prices)) / prices[-1])
            return next_state(self.state, reading, p)
        return MarketState.ACTIVE if self.state is MarketState.ACTIVE else MarketState.MONITORING


def next_state(current: MarketState, r: ActivityReading, p: ActivityGateParams) -> MarketState:
    if r.movement < p.deactivation:
        return MarketState.PAUSED
    checks = (
        r.mean_change >= p.required_mean_change
        and r.volatility >= p.min_volatility
        and r.range_fraction >= p.min_price_change
    )
    if r.movement >= p.activation and checks:
        return MarketState.ACTIVE
    if current is MarketState.ACTIVE:
        return MarketState.ACTIVE
    return MarketState.MONITORING
