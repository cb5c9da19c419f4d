"""1-second frames from a price stream, and the step series the Main indications count (Part 2 §3.6).

Frames: the last price of every whole second (``floor(time / frame)``); seconds without a trade repeat the
previous price, so "per-second change" is defined for every second. Steps: whenever the price is at least
pc × level away from the last step level, ``k = floor(|price − level| / (pc × level))`` steps in that direction
are emitted and the level becomes the price. A multi-step jump counts as k steps because ranges count price
distance in position-cost units, not updates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cts_desktop.domain.bars import FloatArray


def one_second_frames(
    times: FloatArray, prices: FloatArray, frame: float = 1.0
) -> tuple[FloatArray, FloatArray]:
    """(frame start times, last price per frame) for every frame from the first tick's to the last tick's."""
    t = np.asarray(times, dtype=np.float64)
    p = np.asarray(prices, dtype=np.float64)
    if t.size == 0:
        return np.empty(0), np.empty(0)
    if np.any(np.diff(t) < 0):
        raise ValueError("ticks must be in time order")
    slot = np.floor(t / frame).astype(np.int64)
    first, last = int(slot[0]), int(slot[-1])
    # index of the last tick in or before each frame
    idx = np.searchsorted(slot, np.arange(first, last + 1), side="right") - 1
    return np.arange(first, last + 1, dtype=np.float64) * frame, p[idx]


@dataclass
class FrameBuilder:
    """Incremental :func:`one_second_frames`: push ticks, get the frames that closed (gaps forward-filled)."""

    frame: float = 1.0
    _slot: int | None = None
    _price: float = math.nan

    def push(self, time: float, price: float) -> list[tuple[float, float]]:
        slot = math.floor(time / self.frame)
        closed: list[tuple[float, float]] = []
        if self._slot is not None:
            if slot < self._slot:
                raise ValueError("ticks must be in time order")
            for s in range(self._slot, slot):
                closed.append((s * self.frame, self._price))
        self._slot = slot
        self._price = price
        return closed


@dataclass
class StepSeries:
    """Incremental step detector. ``push`` returns the signed step count of this update (0 = no step)."""

    pc: float
    level: float = math.nan
    times: list[float] = field(default_factory=list)
    signs: list[int] = field(default_factory=list)
    prices: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not 0 < self.pc < 1:
            raise ValueError("pc is a fraction of price in (0, 1)")

    def push(self, time: float, price: float) -> int:
        if math.isnan(self.level):
            self.level = price
            return 0
        unit = self.pc * self.level
        k = math.floor(abs(price - self.level) / unit)
        if k == 0:
            return 0
        sign = 1 if price > self.level else -1
        for _ in range(k):
            self.times.append(time)
            self.signs.append(sign)
            self.prices.append(price)
        self.level = price
        return sign * k

    def trim(self, keep: int) -> None:
        """Keep the newest ``keep`` steps (indications look back at most ~max range steps)."""
        if len(self.signs) > keep:
            del self.times[:-keep], self.signs[:-keep], self.prices[:-keep]


def step_series(times: FloatArray, prices: FloatArray, pc: float) -> tuple[FloatArray, np.ndarray, FloatArray]:
    """Batch form of :class:`StepSeries`: (step times, signs ±1, price at the step)."""
    s = StepSeries(pc)
    for t, p in zip(np.asarray(times, dtype=float).tolist(), np.asarray(prices, dtype=float).tolist(), strict=True):
        s.push(t, p)
    return np.array(s.times), np.array(s.signs, dtype=np.int64), np.array(s.prices)
