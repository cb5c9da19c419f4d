"""Why no Real set took an indication: the sentence the decision log shows ("no Real set for BTC long (best avg
PF 0.93 < 1.20)"), measured on the sets of the variant that opened a pseudo position on it."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from cts_desktop.domain import gates
from cts_desktop.domain.book import SetBook, SetStatus
from cts_desktop.domain.book_stats import window_means
from cts_desktop.domain.gates import GateThresholds


def no_real_set(book: SetBook, th: GateThresholds, symbol: str, direction: str,
                opened: npt.NDArray[np.int64]) -> str:
    """The reason no set of ``opened`` (rows that opened now) passed the Exchange gate."""
    base = symbol.split("/")[0]
    what = f"{base} {direction}"
    if opened.size == 0:
        return f"no set took the {what} indication (every set busy or in its cooldown)"
    main = gates.main_sets(book, th, opened)
    if not main.any():
        statuses = np.bincount(book.status[opened], minlength=len(SetStatus))
        counts = ", ".join(f"{s.name.lower()} {int(statuses[s.value])}" for s in SetStatus if statuses[s.value])
        return f"no Main set for {what} yet: none of its {opened.size} sets passed the gates ({counts})"
    main_rows = opened[main]
    real = gates.real_sets(book, th, main_rows)
    if not real.any():
        pf, _ = window_means(book, th.real_window, main_rows)
        best = float(np.nanmax(pf)) if np.isfinite(pf).any() else float("nan")
        return (f"no Real set for {what} (best avg PF {best:.2f} < {th.real_min_avg_pf:.2f} over "
                f"{th.real_window}, or too long in drawdown; {int(main.sum())} Main)")
    pf, _ = window_means(book, th.exchange_window, main_rows[real])
    best = float(np.nanmax(pf)) if np.isfinite(pf).any() else float("nan")
    return (f"no Real set for {what} passed the Exchange gate (best avg PF {best:.2f} < "
            f"{th.exchange_min_avg_pf:.2f} over {th.exchange_window}; {int(real.sum())} Real)")
