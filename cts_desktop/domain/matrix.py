"""The configuration matrix: every TP factor × SL ratio × trailing variant, held as parallel arrays.

Arrays (not objects) because the book and the sweep address a configuration by its index and hand the arrays
to compiled kernels. Order: trailing variant outermost, then TP, then SL — so "trailing off" is the leading
block and a subset by trailing variant is a contiguous slice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.exits import ExitConfig

DEFAULT_TP: tuple[float, ...] = tuple(float(v) for v in range(2, 23, 2))
DEFAULT_SL: tuple[float, ...] = tuple(round(0.2 + 0.1 * i, 10) for i in range(21))
DEFAULT_TRAILING: tuple[tuple[float, float] | None, ...] = (None, (0.3, 0.1), (0.6, 0.2), (1.0, 0.3))


@dataclass(frozen=True, slots=True)
class ExitMatrix:
    """Parallel float64 arrays, one entry per configuration; ``trail_stop == 0`` is trailing off."""

    tp: FloatArray
    sl: FloatArray
    trail_start: FloatArray
    trail_stop: FloatArray

    def __len__(self) -> int:
        return int(self.tp.shape[0])

    def config(self, index: int) -> ExitConfig:
        return ExitConfig(
            float(self.tp[index]), float(self.sl[index]), float(self.trail_start[index]),
            float(self.trail_stop[index]),
        )

    def take(self, indices: Sequence[int] | np.ndarray) -> ExitMatrix:
        idx = np.asarray(indices, dtype=np.int64)
        return ExitMatrix(self.tp[idx], self.sl[idx], self.trail_start[idx], self.trail_stop[idx])

    @property
    def trailing(self) -> np.ndarray:
        return self.trail_stop > 0.0

    def same_as(self, other: ExitMatrix) -> bool:
        """The same configurations in the same order."""
        pairs = ((self.tp, other.tp), (self.sl, other.sl), (self.trail_start, other.trail_start),
                 (self.trail_stop, other.trail_stop))
        return len(self) == len(other) and all(np.array_equal(a, b) for a, b in pairs)


def build_matrix(
    tp_values: Sequence[float] = DEFAULT_TP,
    sl_values: Sequence[float] = DEFAULT_SL,
    trailing: Sequence[tuple[float, float] | None] = DEFAULT_TRAILING,
) -> ExitMatrix:
    """The product of the three axes (defaults: 11 × 21 × 4 = 924, DOMAIN Part 1 §3)."""
    if not tp_values or not sl_values or not trailing:
        raise ValueError("every matrix axis needs at least one value")
    rows: list[tuple[float, float, float, float]] = []
    for variant in trailing:
        start, stop = (0.0, 0.0) if variant is None else variant
        if variant is not None and stop <= 0:
            raise ValueError("a trailing variant needs a positive stop")
        for tp in tp_values:
            for sl in sl_values:
                rows.append((float(tp), float(sl), float(start), float(stop)))
    arr = np.array(rows, dtype=np.float64)
    return ExitMatrix(*(np.ascontiguousarray(arr[:, k]) for k in range(4)))
