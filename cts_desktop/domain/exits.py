"""The one exit simulator: take profit, stop loss, trailing with an arming threshold, optional timeout.

Every caller — the live pseudo-position book (tick by tick), the backtest and auto-optimal (candles, through
:mod:`cts_desktop.domain.sweep`) — moves a position through :func:`bar_step`. That is the single statement of the
rules of DOMAIN Part 1 §1:

* units: d = TP factor × pc × entry; the stop loss sits SL ratio × d beyond the entry;
* **trailing replaces the take profit**: it arms once the best price since entry is start × d beyond the entry,
  then the stop follows the best price at stop × d; the fixed stop stays until then (afterwards the higher of
  the two, for a long);
* each bar is walked adverse extreme first: (1) the stop with the state of earlier bars — exit at the open if the
  bar opens beyond it, else at the stop if the low reaches it (so the stop wins when stop and target are both
  touched); (2) without trailing the take profit — at the open if it opens beyond, else at the level; (3) with
  trailing the bar's high updates the best price and may arm trailing, effective from the next bar;
  (4) the optional timeout closes at the bar's close once ``time - entry_time >= timeout``;
* long and short are mirrors: kernels work in "signed space" (a short sees negated prices, see
  :mod:`cts_desktop.domain.bars`), so both follow literally the same code;
* fees are charged on entry and exit notional; results are reported as a fraction of the entry notional and
  in position-cost (pc) units, so a pseudo result compares with a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cts_desktop.domain.bars import Bars, FloatArray
from cts_desktop.domain.jit import kernel


class ExitReason(IntEnum):
    """Why a position closed; ``OPEN`` means it did not (end of data)."""

    OPEN = 0
    STOP_LOSS = 1
    TAKE_PROFIT = 2
    TRAILING = 3
    TIMEOUT = 4


@dataclass(frozen=True, slots=True)
class ExitConfig:
    """One exit variant of a configuration set. ``trail_stop == 0`` means trailing off."""

    tp: float
    sl: float
    trail_start: float = 0.0
    trail_stop: float = 0.0

    def __post_init__(self) -> None:
        if self.tp <= 0 or self.sl <= 0:
            raise ValueError("TP factor and SL ratio must be positive")
        if self.trail_stop < 0 or self.trail_start < 0:
            raise ValueError("trailing start/stop must not be negative")

    @property
    def trailing(self) -> bool:
        return self.trail_stop > 0.0


@dataclass(frozen=True, slots=True)
class ExitParams:
    """Parameters shared by all configurations of one run."""

    pc: float
    fee: float
    timeout_s: float = 0.0  # <= 0: no timeout

    def __post_init__(self) -> None:
        if not 0 < self.pc < 1:
            raise ValueError("position cost pc is a fraction of price in (0, 1)")
        if not 0 <= self.fee < 1:
            raise ValueError("fee is a fraction of notional in [0, 1)")


@dataclass(frozen=True, slots=True)
class ExitResult:
    """A closed (or still open) position in real prices."""

    exit_index: int  # -1 while open
    exit_price: float
    reason: ExitReason
    result: float  # fraction of entry notional, fees included
    result_pc: float  # the same in position-cost units


@kernel()
def level(entry: float, offset: float) -> float:
    """Signed-space price ``offset`` (a fraction of the entry, negative = adverse) away from ``entry``.

    Written as |entry| × (1 ± offset) so a level is the same float a percentage-stop backtester
    (vectorbt: ``entry * (1 - stop)``) computes; that makes the W1 comparison exact, not approximate.
    """
    if entry >= 0.0:
        return entry * (1.0 + offset)
    return -(-entry * (1.0 - offset))


@kernel()
def levels(
    entry: float, tp: float, sl: float, trail_start: float, trail_stop: float, pc: float
) -> tuple[float, float, float, float]:
    """Signed-space levels of a new position: (stop, take profit, arming level, trailing distance)."""
    d = tp * pc
    return level(entry, -(sl * tp * pc)), level(entry, d), level(entry, trail_start * d), trail_stop * d * abs(entry)


@kernel()
def bar_step(
    o: float,
    h: float,
    low: float,
    c: float,
    elapsed: float,
    stop: float,
    best: float,
    armed: bool,
    tp_level: float,
    trailing: bool,
    arm_level: float,
    trail_dist: float,
    timeout: float,
) -> tuple[int, float, float, float, bool]:
    """Walk one bar in signed space. Returns (reason, exit price, stop, best, armed) — reason 0 = still open."""
    if o <= stop:
        return (3 if armed else 1), o, stop, best, armed
    if low <= stop:
        return (3 if armed else 1), stop, stop, best, armed
    if not trailing:
        if o >= tp_level:
            return 2, o, stop, best, armed
        if h >= tp_level:
            return 2, tp_level, stop, best, armed
    else:
        if h > best:
            best = h
        if not armed and best >= arm_level:
            armed = True
        if armed:
            trail = best - trail_dist
            if trail > stop:
                stop = trail
    if timeout > 0.0 and elapsed >= timeout:
        return 4, c, stop, best, armed
    return 0, 0.0, stop, best, armed


@kernel()
def result_fraction(entry: float, exit_price: float, fee: float) -> float:
    """Signed-space result as a fraction of entry notional, entry and exit fee included."""
    base = abs(entry)
    return (exit_price - entry) / base - fee * (base + abs(exit_price)) / base


@kernel()
def walk_position(
    o: FloatArray,
    h: FloatArray,
    low: FloatArray,
    c: FloatArray,
    t: FloatArray,
    entry_index: int,
    tp: float,
    sl: float,
    trail_start: float,
    trail_stop: float,
    pc: float,
    timeout: float,
) -> tuple[int, int, float]:
    """One position from the close of ``entry_index`` until it exits: (exit index or -1, reason, exit price)."""
    entry = c[entry_index]
    stop, tp_level, arm_level, trail_dist = levels(entry, tp, sl, trail_start, trail_stop, pc)
    trailing = trail_stop > 0.0
    best = entry
    armed = False
    t0 = t[entry_index]
    for j in range(entry_index + 1, o.shape[0]):
        reason, price, stop, best, armed = bar_step(
            o[j], h[j], low[j], c[j], t[j] - t0, stop, best, armed, tp_level, trailing, arm_level, trail_dist,
            timeout,
        )
        if reason != 0:
            return j, reason, price
    return -1, 0, 0.0


def simulate_exit(
    bars: Bars, entry_index: int, direction: int, config: ExitConfig, params: ExitParams
) -> ExitResult:
    """Exit of one position entered at the close of ``bars[entry_index]`` (reference path; sweeps use kernels)."""
    if not 0 <= entry_index < len(bars):
        raise IndexError("entry_index outside the bars")
    s = bars.signed(direction)
    j, reason, price = walk_position(
        s.open, s.high, s.low, s.close, s.time, entry_index, config.tp, config.sl, config.trail_start,
        config.trail_stop, params.pc, params.timeout_s,
    )
    if j < 0:
        return ExitResult(-1, float("nan"), ExitReason.OPEN, float("nan"), float("nan"))
    frac = float(result_fraction(s.close[entry_index], price, params.fee))
    return ExitResult(int(j), float(direction * price), ExitReason(reason), frac, frac / params.pc)


def result_pc(entry: float, exit_price: float, direction: int, params: ExitParams) -> float:
    """Result of a closed position in position-cost units (real prices, fees included)."""
    return float(result_fraction(direction * entry, direction * exit_price, params.fee)) / params.pc
