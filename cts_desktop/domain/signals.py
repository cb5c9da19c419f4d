"""Indications → entry matrices for the sweep, so a backtest replays exactly what the live book would open.

The book opens at the price of the update that fired an indication; on bars that is the close of the bar whose
time span contains the indication's time. Variants are keyed like the book's (type, parameter tuple,
direction), in first-fired order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.book import VariantKey
from cts_desktop.domain.indications import Indication


def entry_matrix(
    bar_times: FloatArray, indications: Iterable[Indication]
) -> tuple[list[VariantKey], npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """(variant keys, entries bool (variants, bars), direction per variant). Indications before the first bar
    are dropped; several indications of one variant in one bar are one entry."""
    times = np.asarray(bar_times, dtype=np.float64)
    keys: dict[VariantKey, int] = {}
    hits: list[tuple[int, int]] = []
    for ind in indications:
        j = int(np.searchsorted(times, ind.time, side="right")) - 1
        if j < 0:
            continue
        v = keys.setdefault(ind.variant_key, len(keys))
        hits.append((v, j))
    entries = np.zeros((len(keys), times.shape[0]), dtype=np.bool_)
    for v, j in hits:
        entries[v, j] = True
    ordered = list(keys)
    return ordered, entries, np.array([k[2] for k in ordered], dtype=np.int64)
