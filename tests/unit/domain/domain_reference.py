"""Plain, obviously-correct reference implementations the compiled code is checked against."""

from __future__ import annotations

import numpy as np

from cts_desktop.domain.bars import Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams, simulate_exit


def reversal_entries(close: np.ndarray, r: int, direction: int) -> np.ndarray:
    """W1's signal: r consecutive closes against ``direction``, then one close with it."""
    step = np.sign(np.diff(close)) * direction
    out = np.zeros(close.shape[0], dtype=bool)
    run = 0
    for i in range(1, close.shape[0]):
        if step[i - 1] > 0 and run >= r:
            out[i] = True
        run = run + 1 if step[i - 1] < 0 else 0
    return out


def reference_trades(
    bars: Bars, entries: np.ndarray, direction: int, cfg: ExitConfig, params: ExitParams, max_open: int
) -> list[tuple[int, int, float]]:
    """Signals in order; each open position is walked alone by ``simulate_exit``. (entry, exit, result)."""
    open_exits: list[int] = []
    out: list[tuple[int, int, float]] = []
    for j in np.flatnonzero(entries):
        if j in open_exits:  # a signal on a bar where this configuration exits is ignored
            open_exits = [x for x in open_exits if x > j]
            continue
        open_exits = [x for x in open_exits if x > j]
        if len(open_exits) >= max_open:
            continue
        r = simulate_exit(bars, int(j), direction, cfg, params)
        if r.exit_index < 0:
            open_exits.append(len(bars) + 1)
            continue
        open_exits.append(r.exit_index)
        out.append((int(j), r.exit_index, r.result))
    return sorted(out)
