"""Entry signals on candles for one indication and one parameter tuple: the input of every backtest sweep.

A configuration set carries exactly one indication (DOMAIN Part 2 §5.2). Common indicators (Part 1 §8, Part 2
§3.7) are the textbook ones of :mod:`cts_desktop.domain.indicators`; a signal fires on the bar where its
condition *becomes* true (an edge), so a condition that stays true does not re-enter after every exit:

* ``rsi(period, oversold, overbought)`` — RSI falls below oversold → long; rises above overbought → short;
* ``macd(fast, slow, signal)`` — histogram turns positive → long, negative → short;
* ``bollinger(period, sigma)`` — position in the band drops below 0.2 → long, rises above 0.8 → short;
* ``ema(short, long)`` / ``sma(short, long)`` — short average crosses above the long one → long, below → short;
* ``stochastic(k, d, slowing, oversold, overbought)`` — %K crosses above %D while %D < oversold → long,
  below %D while %D > overbought → short;
* ``adx(period, threshold)`` — +DI crosses −DI while ADX ≥ threshold → the side of the stronger DI;
* ``sar(acceleration, maximum)`` — the close crosses the SAR → the side of the close.

Main indications on candles (the "market changes only" choice of auto-optimal, and the predefined presets):
the closes become a step series of pc-sized steps (:class:`cts_desktop.domain.steps.StepSeries`, the live
rule), and ``direction(R)`` fires on the first opposite step after a run of ≥ R steps (reversal),
``move(R)`` when a run reaches R steps (continuation) — on the bar whose close made the step; ``active(r, a, b)``
counts active changes over the last 10 closes (the live 10-frame window, one frame per candle here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cts_desktop.domain import indicators as ind
from cts_desktop.domain.bars import LONG, SHORT, Bars
from cts_desktop.domain.indications import range_ratio
from cts_desktop.domain.steps import StepSeries

BoolArray = npt.NDArray[np.bool_]
Signal = tuple[BoolArray, BoolArray]  # (long entries, short entries), one flag per bar


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an indication: its name, default and the from–to/step range of Part 2 §3.7."""

    name: str
    default: float
    low: float
    high: float
    step: float
    integer: bool = True

    def values(self, low: float | None = None, high: float | None = None, step: float | None = None) -> list[float]:
        lo, hi, st = self.low if low is None else low, self.high if high is None else high, step or self.step
        if st <= 0 or hi < lo:
            raise ValueError(f"{self.name}: need step > 0 and from ≤ to")
        n = int(np.floor((hi - lo) / st + 1e-9)) + 1
        out = [round(lo + i * st, 10) for i in range(n)]
        return [float(round(v)) for v in out] if self.integer else out


INDICATIONS: dict[str, tuple[ParamSpec, ...]] = {
    "rsi": (ParamSpec("period", 14, 7, 21, 1), ParamSpec("oversold", 30, 15, 45, 5),
            ParamSpec("overbought", 70, 55, 85, 5)),
    "macd": (ParamSpec("fast", 12, 6, 18, 2), ParamSpec("slow", 26, 13, 39, 2), ParamSpec("signal", 9, 5, 13, 1)),
    "bollinger": (ParamSpec("period", 20, 10, 30, 2), ParamSpec("sigma", 2.0, 1.0, 3.0, 0.5, integer=False)),
    "ema": (ParamSpec("short", 9, 5, 13, 1), ParamSpec("long", 21, 11, 31, 2)),
    "sma": (ParamSpec("short", 10, 5, 15, 1), ParamSpec("long", 50, 25, 75, 5)),
    "stochastic": (ParamSpec("k", 14, 7, 21, 1), ParamSpec("d", 3, 2, 4, 1), ParamSpec("slowing", 3, 2, 4, 1),
                   ParamSpec("oversold", 20, 15, 25, 5), ParamSpec("overbought", 80, 75, 85, 5)),
    "adx": (ParamSpec("period", 14, 7, 21, 1), ParamSpec("threshold", 25, 13, 37, 2)),
    "sar": (ParamSpec("acceleration", 0.02, 0.01, 0.03, 0.005, integer=False),
            ParamSpec("maximum", 0.2, 0.1, 0.3, 0.05, integer=False)),
    "direction": (ParamSpec("range", 8, 3, 30, 1),),
    "move": (ParamSpec("range", 8, 3, 30, 1),),
    "active": (ParamSpec("range", 3, 1, 10, 1), ParamSpec("share", 0.5, 0.1, 0.9, 0.1, integer=False),
               ParamSpec("last_share", 0.5, 0.1, 0.9, 0.1, integer=False)),
}
ACTIVE_WINDOW = 10  # frames (here: candles) of the activity window, the live default
COMMON = ("rsi", "macd", "bollinger", "ema", "sma", "stochastic", "adx", "sar")
MAIN = ("direction", "move", "active")


def default_params(kind: str) -> tuple[float, ...]:
    return tuple(p.default for p in INDICATIONS[kind])


def _edge(cond: BoolArray) -> BoolArray:
    """True where ``cond`` becomes true (NaN comparisons are False, so warm-up bars never fire)."""
    out = np.zeros_like(cond)
    out[1:] = cond[1:] & ~cond[:-1]
    return out


def _cross(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> Signal:
    with np.errstate(invalid="ignore"):
        above = a > b
        below = a < b
    valid = ~(np.isnan(a) | np.isnan(b))
    prev_valid = np.zeros_like(valid)
    prev_valid[1:] = valid[:-1]
    return _edge(above) & prev_valid, _edge(below) & prev_valid


def _rsi(b: Bars, p: Sequence[float]) -> Signal:
    r = ind.rsi(b.close, int(p[0]))
    with np.errstate(invalid="ignore"):
        return _edge(r < p[1]), _edge(r > p[2])


def _macd(b: Bars, p: Sequence[float]) -> Signal:
    if p[0] >= p[1]:
        return _none(b)
    _line, _sig, hist = ind.macd(b.close, int(p[0]), int(p[1]), int(p[2]))
    return _cross(hist, np.zeros_like(hist))


def _bollinger(b: Bars, p: Sequence[float]) -> Signal:
    upper, _mid, lower = ind.bollinger(b.close, int(p[0]), float(p[1]), float(p[1]))
    width = upper - lower
    with np.errstate(invalid="ignore", divide="ignore"):
        pos = np.where(width > 0, (b.close - lower) / width, 0.5)
        return _edge(pos < 0.2), _edge(pos > 0.8)


def _avg_cross(fn: Callable[[npt.NDArray[np.float64], int], npt.NDArray[np.float64]]) -> Callable[..., Signal]:
    def sig(b: Bars, p: Sequence[float]) -> Signal:
        if p[0] >= p[1]:
            return _none(b)
        return _cross(fn(b.close, int(p[0])), fn(b.close, int(p[1])))

    return sig


def _stochastic(b: Bars, p: Sequence[float]) -> Signal:
    k, d = ind.stochastic(b.high, b.low, b.close, int(p[0]), int(p[2]), int(p[1]))
    up, down = _cross(k, d)
    with np.errstate(invalid="ignore"):
        return up & (d < p[3]), down & (d > p[4])


def _adx(b: Bars, p: Sequence[float]) -> Signal:
    adx, plus, minus = ind.directional(b.high, b.low, b.close, int(p[0]))
    up, down = _cross(plus, minus)
    with np.errstate(invalid="ignore"):
        strong = adx >= p[1]
    return up & strong, down & strong


def _sar(b: Bars, p: Sequence[float]) -> Signal:
    s = ind.sar(b.high, b.low, float(p[0]), float(p[1]))
    return _cross(b.close, s)


def _none(b: Bars) -> Signal:
    z = np.zeros(len(b), dtype=np.bool_)
    return z, z.copy()


def step_runs(b: Bars, pc: float) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per bar: signed steps its close made, the run length before it and the run length after it
    (the live step rule on closes; a run is consecutive steps one way)."""
    n = len(b)
    steps = np.zeros(n, dtype=np.int64)
    before = np.zeros(n, dtype=np.int64)
    after = np.zeros(n, dtype=np.int64)
    series = StepSeries(pc)
    sign, length = 0, 0
    for i, c in enumerate(b.close.tolist()):
        k = series.push(0.0, c)
        series.trim(1)
        steps[i] = k
        before[i] = length * sign
        if k != 0:
            s = 1 if k > 0 else -1
            length = length + abs(k) if s == sign else abs(k)
            sign = s
        after[i] = length * sign
    return steps, before, after


def _active(b: Bars, p: Sequence[float], pc: float) -> Signal:
    """Active(r, a, b) on closes: share of the last ``ACTIVE_WINDOW`` changes with |change| ≥ ratio(r) × pc is
    ≥ a, and ≥ b in the newest fifth; the side is the window's net change; fires when that becomes true."""
    w = ACTIVE_WINDOW
    c = b.close
    n = c.shape[0]
    long_ = np.zeros(n, dtype=np.bool_)
    short = np.zeros(n, dtype=np.bool_)
    if n <= w:
        return long_, short
    change = np.abs(np.diff(c) / c[:-1])
    active = (change >= range_ratio(p[0]) * pc).astype(np.float64)
    csum = np.concatenate([[0.0], np.cumsum(active)])
    tail = max(1, int(np.ceil(w * 0.2)))
    idx = np.arange(w, n)  # bar i sees changes i-w … i-1 (as diff index)
    share = (csum[idx] - csum[idx - w]) / w
    share_last = (csum[idx] - csum[idx - tail]) / tail
    net = c[idx] - c[idx - w]
    ok = (share >= p[1] - 1e-12) & (share_last >= p[2] - 1e-12)
    long_[idx] = ok & (net > 0)
    short[idx] = ok & (net < 0)
    return _edge(long_), _edge(short)


def _main(kind: str, b: Bars, p: Sequence[float], pc: float) -> Signal:
    if kind == "active":
        return _active(b, p, pc)
    r = int(p[0])
    steps, before, after = step_runs(b, pc)
    if kind == "direction":
        # the first opposite step after a run of at least R: a reversal in the new direction
        long_ = (steps > 0) & (before <= -r)
        short = (steps < 0) & (before >= r)
        return long_, short
    # move: the run reaches R (from below R) without an opposite step: continuation
    prev_same_long = np.where((steps > 0) & (before > 0), before, 0)
    prev_same_short = np.where((steps < 0) & (before < 0), -before, 0)
    long_ = (steps > 0) & (after >= r) & (prev_same_long < r)
    short = (steps < 0) & (-after >= r) & (prev_same_short < r)
    return long_, short


_COMMON_FN: dict[str, Callable[[Bars, Sequence[float]], Signal]] = {
    "rsi": _rsi, "macd": _macd, "bollinger": _bollinger, "ema": _avg_cross(ind.ema), "sma": _avg_cross(ind.sma),
    "stochastic": _stochastic, "adx": _adx, "sar": _sar,
}


def entries(kind: str, params: Sequence[float], bars: Bars, pc: float = 0.001) -> Signal:
    """(long entries, short entries) of one indication with one parameter tuple over ``bars``."""
    if kind in _COMMON_FN:
        if len(params) != len(INDICATIONS[kind]):
            raise ValueError(f"{kind} takes {len(INDICATIONS[kind])} parameters")
        return _COMMON_FN[kind](bars, params)
    if kind in MAIN:
        return _main(kind, bars, params, pc)
    raise ValueError(f"unknown indication {kind!r}")


def entry_matrix(
    kind: str, grid: Sequence[tuple[float, ...]], bars: Bars, pc: float, directions: Sequence[int] = (LONG, SHORT),
    check: Callable[[], None] | None = None,
) -> tuple[BoolArray, npt.NDArray[np.int64], list[tuple[tuple[float, ...], int]]]:
    """Entries (variants, bars) for every parameter tuple × direction, their directions and variant keys;
    ``check`` is called between tuples (it raises to cancel)."""
    rows: list[BoolArray] = []
    dirs: list[int] = []
    keys: list[tuple[tuple[float, ...], int]] = []
    for params in grid:
        if check is not None:
            check()
        long_, short = entries(kind, params, bars, pc)
        for d in directions:
            rows.append(long_ if d == LONG else short)
            dirs.append(d)
            keys.append((tuple(float(x) for x in params), d))
    if not rows:
        return np.zeros((0, len(bars)), dtype=np.bool_), np.zeros(0, dtype=np.int64), []
    return np.stack(rows), np.asarray(dirs, dtype=np.int64), keys


__all__ = ["COMMON", "INDICATIONS", "MAIN", "SHORT", "ParamSpec", "default_params", "entries", "entry_matrix"]
