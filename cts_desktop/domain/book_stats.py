"""Per-set statistics over the newest N closed results of a :class:`~cts_desktop.domain.book.SetBook`.

Windows 10/20/25/30/50 are the ones the gates and the UI read (Part 2 §2.4). All figures are vectorised over
every set of the book; a set with fewer than N results is measured on what it has (``n`` says how many).

* ``avg_pf`` — mean result in position-cost units (Part 1 §2, gates Base/Main/Real);
* ``gross_pf`` — Σ wins ÷ |Σ losses| (inf with wins and no losses, NaN without results);
* ``win_rate``, ``avg_win``, ``avg_loss`` (positive number), ``win_loss_ratio`` = avg_win ÷ avg_loss (inf
  without losses, 0 without wins);
* ``max_drawdown`` — peak-to-trough of the cumulative result (fraction of notional, 0.30 = 30 %),
  the running peak starting at 0;
* ``time_in_drawdown_s`` — mean seconds a position spent on the losing side of its entry;
* ``per_24h`` — positions closed in the window per 24 h of the window's span (first entry → last close).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.book import SetBook
from cts_desktop.domain.book_layout import R_RESULT, R_UW, T_CLOSE, T_ENTRY, ring_at
from cts_desktop.domain.jit import kernel

WINDOWS: tuple[int, ...] = (10, 20, 25, 30, 50)
# the figures :func:`stored_figures` gives per window, in this order
FIGURE_NAMES: tuple[str, ...] = ("avg_pf", "gross_pf", "win_rate", "max_drawdown", "time_in_drawdown_s", "per_24h",
                                 "avg_win", "avg_loss")


@dataclass(frozen=True, slots=True)
class WindowStats:
    window: int
    n: npt.NDArray[np.int64]
    avg_pf: FloatArray
    gross_pf: FloatArray
    win_rate: FloatArray
    avg_win: FloatArray
    avg_loss: FloatArray
    win_loss_ratio: FloatArray
    max_drawdown: FloatArray
    time_in_drawdown_s: FloatArray
    per_24h: FloatArray


def last_n(book: SetBook, window: int, rows: npt.NDArray[np.int64] | None = None) -> tuple[FloatArray, ...]:
    """The newest ``window`` ring entries of each set (rows), right-aligned, NaN-padded: (result, entry time,
    close time, time in drawdown), each of shape (sets, window)."""
    idx_rows = np.arange(len(book)) if rows is None else rows
    count = book.count[idx_rows]
    col = count[:, None] - window + np.arange(window)[None, :]
    valid = col >= 0
    safe = np.where(valid, col, 0)
    ring_r, ring_t = book.entries(idx_rows[:, None], safe)
    r = np.where(valid[:, :, None], ring_r.astype(np.float64), np.nan)
    t = np.where(valid[:, :, None], ring_t.astype(np.float64), np.nan)
    return r[:, :, R_RESULT], t[:, :, T_ENTRY], t[:, :, T_CLOSE], r[:, :, R_UW]


def window_stats(book: SetBook, window: int, rows: npt.NDArray[np.int64] | None = None) -> WindowStats:
    return _stats(window, book.params.exit.pc, *last_n(book, window, rows))


def window_means(book: SetBook, window: int, rows: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
    """(``avg_pf``, ``time_in_drawdown_s``) of :func:`window_stats`, bit for bit, for the promotion gates (the Main
    gate reads the whole stored history of every set it checks). One compiled pass without the gathered copies:
    numpy's sums are pairwise over the NaN-padded window, so :func:`_padded_pairwise_sum` adds in that order
    (float64 sums of float32 results are mostly exact in any order, but not for every mix of magnitudes)."""
    return _window_means(book.pool_r, book.chunks, book.count, np.ascontiguousarray(rows, dtype=np.int64), window,
                         book.params.exit.pc)


@kernel()
def _padded_block_sum(pool_r: npt.NDArray[np.float32], chunks: npt.NDArray[np.int32], s: int, field: int, lo: int,
                      pad: int, start: int, n: int) -> float:
    """One leaf of numpy's pairwise summation (``n`` ≤ 128): under 8 elements added in turn, else eight
    interleaved sums combined as ((0+1)+(2+3))+((4+5)+(6+7)), then the rest in turn. Element ``i`` of the row is
    0.0 below ``pad`` (``np.nansum``'s NaN padding), else ``pool_r[ring_at(chunks, s, lo + i - pad), field]``."""
    if n < 8:
        res = 0.0
        for i in range(start, start + n):
            res += 0.0 if i < pad else np.float64(pool_r[ring_at(chunks, s, lo + i - pad), field])
        return res
    r = np.empty(8)
    for j in range(8):
        i = start + j
        r[j] = 0.0 if i < pad else np.float64(pool_r[ring_at(chunks, s, lo + i - pad), field])
    k = 8
    while k < n - (n % 8):
        for j in range(8):
            i = start + k + j
            r[j] += 0.0 if i < pad else np.float64(pool_r[ring_at(chunks, s, lo + i - pad), field])
        k += 8
    res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while k < n:
        i = start + k
        res += 0.0 if i < pad else np.float64(pool_r[ring_at(chunks, s, lo + i - pad), field])
        k += 1
    return float(res)


@kernel()
def _padded_pairwise_sum(pool_r: npt.NDArray[np.float32], chunks: npt.NDArray[np.int32], s: int, field: int, lo: int,
                         pad: int, n: int) -> float:
    """numpy's pairwise summation of a float64 row of ``n`` elements (see :func:`_padded_block_sum`): runs longer
    than 128 split in halves rounded down to a multiple of eight, each half summed the same way, then added.
    Written with an explicit stack: numba's cache loads self-recursive functions badly (a segfault)."""
    starts = np.empty(32, dtype=np.int64)
    sizes = np.empty(32, dtype=np.int64)
    stages = np.empty(32, dtype=np.int64)
    values = np.empty(32)
    top = 0
    nv = 0
    starts[0], sizes[0], stages[0] = 0, n, 0
    while top >= 0:
        start, size = starts[top], sizes[top]
        if size <= 128:
            values[nv] = _padded_block_sum(pool_r, chunks, s, field, lo, pad, start, size)
            nv += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stages[top] == 0:  # the left half first
            stages[top] = 1
            top += 1
            starts[top], sizes[top], stages[top] = start, half, 0
        elif stages[top] == 1:  # then the right half
            stages[top] = 2
            top += 1
            starts[top], sizes[top], stages[top] = start + half, size - half, 0
        else:  # both done: left + right
            nv -= 1
            values[nv - 1] = values[nv - 1] + values[nv]
            top -= 1
    return float(values[0])


@kernel()
def _window_means(pool_r: npt.NDArray[np.float32], chunks: npt.NDArray[np.int32], count: npt.NDArray[np.int64],
                  rows: npt.NDArray[np.int64], window: int, pc: float) -> tuple[FloatArray, FloatArray]:
    avg_pf = np.empty(rows.shape[0])
    uw = np.empty(rows.shape[0])
    for k in range(rows.shape[0]):
        s = rows[k]
        hi = count[s]
        lo = max(0, hi - window)
        n = hi - lo
        pad = window - n
        if n == 0:
            avg_pf[k] = np.nan
            uw[k] = np.nan
            continue
        avg_pf[k] = _padded_pairwise_sum(pool_r, chunks, s, R_RESULT, lo, pad, window) / n / pc
        uw[k] = _padded_pairwise_sum(pool_r, chunks, s, R_UW, lo, pad, window) / n
    return avg_pf, uw


def _stats(window: int, pc: float, res: FloatArray, entry_t: FloatArray, close_t: FloatArray,
           uw: FloatArray) -> WindowStats:
    with np.errstate(invalid="ignore", divide="ignore"):
        n = np.sum(~np.isnan(res), axis=1).astype(np.int64)
        wins = np.where(res > 0, res, 0.0)
        losses = np.where(res <= 0, -res, 0.0)
        n_win = np.sum(res > 0, axis=1)
        n_loss = n - n_win
        gross_win = np.nansum(wins, axis=1)
        gross_loss = np.nansum(losses, axis=1)
        avg = np.nansum(res, axis=1) / n
        avg_win = np.where(n_win > 0, gross_win / n_win, np.nan)
        avg_loss = np.where(n_loss > 0, gross_loss / n_loss, np.nan)
        curve = np.nancumsum(res, axis=1)
        peak = np.maximum.accumulate(np.maximum(curve, 0.0), axis=1)
        max_dd = np.where(n > 0, np.max(peak - curve, axis=1), np.nan)
        span = np.fmax.reduce(close_t, axis=1) - np.fmin.reduce(entry_t, axis=1)
        per_24h = np.where(span > 0, n * 86400.0 / span, np.nan)
        return WindowStats(
            window=window,
            n=n,
            avg_pf=avg / pc,
            gross_pf=np.where(n > 0, gross_win / gross_loss, np.nan),
            win_rate=n_win / n,
            avg_win=avg_win,
            avg_loss=avg_loss,
            win_loss_ratio=np.where(
                n == 0, np.nan, np.where(n_win == 0, 0.0, np.where(n_loss == 0, np.inf, avg_win / avg_loss))
            ),
            max_drawdown=max_dd,
            time_in_drawdown_s=np.nansum(uw, axis=1) / n,
            per_24h=per_24h,
        )


def all_windows(book: SetBook) -> dict[int, WindowStats]:
    return {w: window_stats(book, w) for w in WINDOWS}


@kernel(inline=True)
def set_gate_figures(pool_r: npt.NDArray[np.float32], chunks: npt.NDArray[np.int32], count: npt.NDArray[np.int64],
                     s: int, window: int) -> tuple[float, float, float]:
    """(win rate, avg win ÷ avg loss, max drawdown) over the newest ``window`` results of set ``s`` (NaN without
    any) — for the gates of the live book and of the batch warm-up alike."""
    hi = count[s]
    lo = max(0, hi - window)
    if hi == lo:
        return np.nan, np.nan, np.nan
    wins = 0
    gw = 0.0
    gl = 0.0
    curve = 0.0
    peak = 0.0
    dd = 0.0
    for j in range(lo, hi):
        r = np.float64(pool_r[ring_at(chunks, s, j), R_RESULT])
        if r > 0.0:
            wins += 1
            gw += r
        else:
            gl -= r
        curve += r
        peak = max(peak, curve)
        dd = max(dd, peak - curve)
    n = hi - lo
    if wins == 0:
        wl = 0.0
    elif wins == n or gl == 0.0:
        wl = np.inf  # nothing lost: the ratio passes any threshold
    else:
        wl = (gw / wins) / (gl / (n - wins))
    return wins / n, wl, dd


@kernel()
def _gate_figures(
    pool_r: npt.NDArray[np.float32], chunks: npt.NDArray[np.int32], count: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64], window: int,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    n_rows = rows.shape[0]
    win_rate = np.empty(n_rows)
    win_loss = np.empty(n_rows)
    max_dd = np.empty(n_rows)
    for i in range(n_rows):
        win_rate[i], win_loss[i], max_dd[i] = set_gate_figures(pool_r, chunks, count, rows[i], window)
    return win_rate, win_loss, max_dd


def gate_figures(book: SetBook, window: int, rows: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(win rate, avg win ÷ avg loss, max drawdown) over the newest ``window`` results of ``rows`` — the three
    figures the status rules read, computed in one compiled pass (the gates run after every update)."""
    return _gate_figures(book.pool_r, book.chunks, book.count, np.ascontiguousarray(rows, dtype=np.int64), window)


@kernel()
def _figures(
    pool_r: npt.NDArray[np.float32], pool_t: npt.NDArray[np.uint32], chunks: npt.NDArray[np.int32],
    count: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64], windows: npt.NDArray[np.int64], pc: float,
) -> FloatArray:
    n_fig = 8
    out = np.full((rows.shape[0], windows.shape[0] * n_fig), np.nan)
    for i in range(rows.shape[0]):
        s = rows[i]
        hi = count[s]
        for k in range(windows.shape[0]):
            lo = max(0, hi - windows[k])
            n = hi - lo
            if n == 0:
                continue
            total = gw = gl = uw = curve = peak = dd = 0.0
            wins = 0
            first = np.inf
            last = -np.inf
            for j in range(lo, hi):
                a = ring_at(chunks, s, j)
                r = np.float64(pool_r[a, R_RESULT])
                total += r
                if r > 0.0:
                    wins += 1
                    gw += r
                else:
                    gl -= r
                uw += np.float64(pool_r[a, R_UW])
                curve += r
                peak = max(peak, curve)
                dd = max(dd, peak - curve)
                first = min(first, np.float64(pool_t[a, T_ENTRY]))
                last = max(last, np.float64(pool_t[a, T_CLOSE]))
            base = k * n_fig
            out[i, base] = total / n / pc
            if gl > 0.0:
                out[i, base + 1] = gw / gl
            elif gw > 0.0:
                out[i, base + 1] = np.inf
            out[i, base + 2] = wins / n
            out[i, base + 3] = dd
            out[i, base + 4] = uw / n
            span = last - first
            if span > 0.0:
                out[i, base + 5] = n * 86400.0 / span
            if wins > 0:
                out[i, base + 6] = gw / wins
            if n > wins:
                out[i, base + 7] = gl / (n - wins)
    return out


def stored_figures(book: SetBook, rows: npt.NDArray[np.int64], windows: tuple[int, ...] = WINDOWS) -> FloatArray:
    """The :data:`FIGURE_NAMES` of :func:`window_stats` for every window, one row per set of ``rows`` (shape
    (rows, windows × figures), NaN/inf as there) — what the engine stores for each changed set. One compiled pass
    per set instead of ~20 vectorised steps per window: the engine computes this between price updates on its
    event loop, where every numpy call that lets another thread take the GIL can cost that thread's whole time
    slice. Sums run in ring order (``window_stats`` sums pairwise), so figures may differ in the last bits."""
    return _figures(book.pool_r, book.pool_t, book.chunks, book.count, np.ascontiguousarray(rows, dtype=np.int64),
                    np.asarray(windows, dtype=np.int64), book.params.exit.pc)
