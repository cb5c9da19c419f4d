"""OHLC bars as plain float64 arrays, and their mirror image that lets one kernel serve both directions.

A short position on prices p behaves exactly like a long position on -p with high and low swapped. Negation
is exact in floating point, so mirroring keeps long and short bit-for-bit symmetric and every exit rule is
written once, for the long side ("signed space").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
LONG = 1
SHORT = -1


@dataclass(frozen=True, slots=True)
class Bars:
    """Bars in time order. ``time`` is the bar open time in seconds; a tick stream is bars with o = h = l = c."""

    time: FloatArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    def __post_init__(self) -> None:
        n = self.time.shape[0]
        for name in ("open", "high", "low", "close"):
            if getattr(self, name).shape != (n,):
                raise ValueError(f"bars: {name} must have shape ({n},)")

    def __len__(self) -> int:
        return int(self.time.shape[0])

    @classmethod
    def from_columns(
        cls,
        time_ms: npt.ArrayLike,
        open_: npt.ArrayLike,
        high: npt.ArrayLike,
        low: npt.ArrayLike,
        close: npt.ArrayLike,
    ) -> Bars:
        """Bars from exchange columns (open time in epoch milliseconds)."""

        def f64(values: npt.ArrayLike) -> FloatArray:
            return np.ascontiguousarray(values, dtype=np.float64)

        return cls(f64(time_ms) / 1000.0, f64(open_), f64(high), f64(low), f64(close))

    @classmethod
    def from_ticks(cls, time_s: npt.ArrayLike, price: npt.ArrayLike) -> Bars:
        """A price stream as one-tick bars, so the live book walks ticks by the same rules as candles."""
        p = np.ascontiguousarray(price, dtype=np.float64)
        return cls(np.ascontiguousarray(time_s, dtype=np.float64), p, p, p, p)

    def signed(self, direction: int) -> Bars:
        """The bars as seen by a position of ``direction``: unchanged for long, mirrored for short."""
        if direction == LONG:
            return self
        if direction != SHORT:
            raise ValueError("direction must be +1 (long) or -1 (short)")
        return Bars(self.time, -self.open, -self.low, -self.high, -self.close)

    def slice(self, start: int, stop: int) -> Bars:
        return Bars(
            self.time[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
        )
