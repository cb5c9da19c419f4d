"""Set statuses and the promotion gates Base → Main → Real → Exchange (Part 1 §4, Part 2 §2.4).

The thresholds are a plain dataclass the engine fills from settings. Status rules, evaluated for a set each
time it closes positions:

* phase 1 — when its closed count reaches ``phase1_count`` (10): win rate ≥ ``phase1_min_win_rate`` (40 %)
  or it becomes FAILED (never opens again);
* phase 2 — when it reaches ``phase2_count`` (50): win rate ≥ 45 % and avg win ÷ avg loss ≥ 1.2 → ACTIVE,
  else PAUSED;
* production (beyond ``phase2_count``), over the newest ``production_window`` results: an ACTIVE set pauses
  when win rate < 38 % or max drawdown > 30 %; a PAUSED set resumes at win rate ≥ 43 % (and drawdown within
  the limit, so it does not pause again at once).

Paused sets keep tracking Base pseudo positions (that is how they can resume) but are not promoted. Win rates
at a checkpoint are measured over the set's stored results (all of them, up to the checkpoint).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.book import SetBook, SetStatus
from cts_desktop.domain.book_stats import gate_figures, window_means

BoolArray = npt.NDArray[np.bool_]
__all__ = ["GateThresholds", "SetStatus", "evaluate", "exchange_candidates", "main_sets", "may_open", "next_status",
           "real_sets"]


@dataclass(frozen=True, slots=True)
class GateThresholds:
    phase1_count: int = 10
    phase1_min_win_rate: float = 0.40
    phase2_count: int = 50
    phase2_min_win_rate: float = 0.45
    phase2_min_win_loss: float = 1.2
    production_window: int = 50
    pause_below_win_rate: float = 0.38
    pause_above_drawdown: float = 0.30
    resume_win_rate: float = 0.43
    main_min_avg_pf: float = 0.6
    main_min_closed: int = 10
    real_window: int = 20
    real_min_avg_pf: float = 0.6
    real_max_time_in_drawdown_s: float = 12 * 3600.0
    exchange_window: int = 30
    exchange_min_avg_pf: float = 0.6

    def __post_init__(self) -> None:
        if not 0 < self.phase1_count < self.phase2_count:
            raise ValueError("phase checkpoints must satisfy 0 < phase 1 < phase 2")


def next_status(
    status: npt.NDArray[np.int8],
    prev_total: npt.NDArray[np.int64],
    total: npt.NDArray[np.int64],
    win_rate_all: npt.NDArray[np.float64],
    win_loss_all: npt.NDArray[np.float64],
    win_rate_prod: npt.NDArray[np.float64],
    drawdown_prod: npt.NDArray[np.float64],
    th: GateThresholds,
) -> npt.NDArray[np.int8]:
    """Pure transition function over arrays (one entry per set that closed something)."""
    out = status.copy()
    evaluating = status == SetStatus.EVALUATING
    hit1 = evaluating & (prev_total < th.phase1_count) & (total >= th.phase1_count)
    out[hit1 & ~(win_rate_all >= th.phase1_min_win_rate)] = SetStatus.FAILED
    hit2 = evaluating & (out != SetStatus.FAILED) & (prev_total < th.phase2_count) & (total >= th.phase2_count)
    passed2 = (win_rate_all >= th.phase2_min_win_rate) & (win_loss_all >= th.phase2_min_win_loss)
    out[hit2 & passed2] = SetStatus.ACTIVE
    out[hit2 & ~passed2] = SetStatus.PAUSED
    production = ~hit2 & (prev_total >= th.phase2_count)
    pause = (win_rate_prod < th.pause_below_win_rate) | (drawdown_prod > th.pause_above_drawdown)
    out[production & (status == SetStatus.ACTIVE) & pause] = SetStatus.PAUSED
    resume = (win_rate_prod >= th.resume_win_rate) & ~(drawdown_prod > th.pause_above_drawdown)
    out[production & (status == SetStatus.PAUSED) & resume] = SetStatus.ACTIVE
    return out


def evaluate(book: SetBook, th: GateThresholds) -> npt.NDArray[np.int64]:
    """Apply :func:`next_status` to the sets that closed positions in the book's last update; returns the rows
    whose status changed."""
    rows = np.flatnonzero(book.closed_now).astype(np.int64)
    if rows.size == 0:
        return rows
    total = book.total[rows]
    prev = total - book.closed_now[rows]
    # only checkpoint crossings and production sets can change status
    crossing = ((prev < th.phase1_count) & (total >= th.phase1_count)) | (
        (prev < th.phase2_count) & (total >= th.phase2_count)
    )
    todo = crossing | (prev >= th.phase2_count)
    rows = np.asarray(rows[todo], dtype=np.int64)
    total, prev = total[todo], prev[todo]
    if rows.size == 0:
        return rows
    wr_all, wl_all, _ = gate_figures(book, min(th.phase2_count, book.params.capacity), rows)
    wr_prod, _, dd_prod = gate_figures(book, th.production_window, rows)
    new = next_status(book.status[rows], prev, total, wr_all, wl_all, wr_prod, dd_prod, th)
    changed: npt.NDArray[np.int64] = rows[new != book.status[rows]]
    book.status[rows] = new
    return changed


def may_open(book: SetBook) -> BoolArray:
    """Sets that take new Base pseudo positions: every set that has not failed."""
    return np.asarray(book.status != SetStatus.FAILED)


def _rows(book: SetBook, rows: npt.NDArray[np.int64] | None) -> npt.NDArray[np.int64]:
    return np.arange(len(book), dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)


def main_sets(book: SetBook, th: GateThresholds, rows: npt.NDArray[np.int64] | None = None) -> BoolArray:
    """Main: ACTIVE, at least ``main_min_closed`` closed, avg_pf over the stored history ≥ threshold.

    One flag per entry of ``rows`` (every set of the book without it). The cheap status and count tests run
    first so the history statistics are only gathered for the sets that can still pass."""
    idx = _rows(book, rows)
    out = (book.status[idx] == SetStatus.ACTIVE) & (book.total[idx] >= th.main_min_closed)
    if out.any():
        out[out] = window_means(book, book.params.capacity, idx[out])[0] >= th.main_min_avg_pf
    return np.asarray(out)


def real_sets(book: SetBook, th: GateThresholds, rows: npt.NDArray[np.int64] | None = None) -> BoolArray:
    """Real: Main, and over the newest ``real_window`` results avg_pf ≥ threshold and mean time in drawdown
    within the limit."""
    idx = _rows(book, rows)
    out = main_sets(book, th, idx)
    if out.any():
        avg_pf, time_in_drawdown_s = window_means(book, th.real_window, idx[out])
        out[out] = (avg_pf >= th.real_min_avg_pf) & (time_in_drawdown_s <= th.real_max_time_in_drawdown_s)
    return out


def exchange_candidates(book: SetBook, th: GateThresholds, rows: npt.NDArray[np.int64] | None = None) -> BoolArray:
    """Real sets whose newest ``exchange_window`` results have avg_pf ≥ threshold. The engine adds the rest of
    the Exchange gate (live trading on, under the exchange's max open positions, no open live position)."""
    idx = _rows(book, rows)
    out = real_sets(book, th, idx)
    if out.any():
        out[out] = window_means(book, th.exchange_window, idx[out])[0] >= th.exchange_min_avg_pf
    return out
