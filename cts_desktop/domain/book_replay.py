"""A configuration-set book moved through a whole tick series at once, set by set: the state (rings, counts,
statuses, open pseudo positions) and the closed results equal what :meth:`SetBook.update_price`,
:func:`~cts_desktop.domain.gates.evaluate` and :meth:`SetBook.on_indication` give tick by tick, bit for bit.

Sets never read each other: a set's positions move by its own exit rule, its status follows its own results and
it opens on its variant's indications. So each set walks the ticks on its own — from its variant's first
indication, jumping over ticks while it holds no position, and over whole blocks of ticks whose lowest and
highest price prove that none of its open positions can exit or arm trailing in them (the block's effect — best
price, trailing stop, time in drawdown — is applied at once; tick times are whole seconds, so the summed time in
drawdown is exact in any order). Per tick it runs the same statements as :func:`cts_desktop.domain.book._update`
(through the one exit rule, :func:`~cts_desktop.domain.exits.bar_step`), then the status rule of
:func:`cts_desktop.domain.gates.next_status` when it closed something, then the openings of ``_open``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.book import SetBook, SetStatus
from cts_desktop.domain.book_layout import (
    B_ARMED,
    B_OPEN,
    F_ARM,
    F_BEST,
    F_ENTRY,
    F_LAST,
    F_STOP,
    F_T0,
    F_TDIST,
    F_TP,
    F_UW,
    R_RESULT,
    R_UW,
    S_LAST_ENTRY,
    S_LAST_EXIT,
    T_CLOSE,
    T_ENTRY,
    open_slot,
    ring_cut,
    ring_put,
)
from cts_desktop.domain.book_stats import set_gate_figures
from cts_desktop.domain.exits import bar_step, result_fraction
from cts_desktop.domain.gates import GateThresholds
from cts_desktop.domain.jit import kernel

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
# ticks per block of each level a walk tries, largest first: 32 candles, 4 candles, one candle
LEVELS = (128, 16, 4)
N_LEVELS = len(LEVELS)

EVALUATING, ACTIVE, PAUSED, FAILED = (int(SetStatus.EVALUATING), int(SetStatus.ACTIVE), int(SetStatus.PAUSED),
                                      int(SetStatus.FAILED))
# closed-result record fields (float64): tick, row, result, result / pc, entry time, close time, time in drawdown
N_REC = 7
RECORDS_AHEAD = 1 << 16  # rows of the first result buffer of a recording walk (it grows when a set might not fit)


@kernel(inline=True)
def _next_status(status: int, prev: int, total: int, wr_all: float, wl_all: float, wr_prod: float, dd_prod: float,
                 th: FloatArray) -> int:
    """``gates.next_status`` for one set (``th``: see :func:`thresholds_array`)."""
    p1, p1_wr, p2, p2_wr, p2_wl = th[0], th[1], th[2], th[3], th[4]
    pause_wr, pause_dd, resume_wr = th[6], th[7], th[8]
    out = status
    evaluating = status == EVALUATING
    if evaluating and prev < p1 and total >= p1 and not (wr_all >= p1_wr):
        out = FAILED
    hit2 = evaluating and out != FAILED and prev < p2 and total >= p2
    passed2 = (wr_all >= p2_wr) and (wl_all >= p2_wl)
    if hit2:
        out = ACTIVE if passed2 else PAUSED
    production = (not hit2) and prev >= p2
    pause = (wr_prod < pause_wr) or (dd_prod > pause_dd)
    if production and status == ACTIVE and pause:
        out = PAUSED
    resume = (wr_prod >= resume_wr) and not (dd_prod > pause_dd)
    if production and status == PAUSED and resume:
        out = ACTIVE
    return out


@kernel(inline=True)
def _evaluate(s: int, closed: int, pool_r: npt.NDArray[np.float32], chunks: npt.NDArray[np.int32], cap: int,
              count: IntArray, total: IntArray, status: npt.NDArray[np.int8], th: FloatArray) -> bool:
    """``gates.evaluate`` for one set that closed ``closed`` positions in this tick; True if its status changed."""
    p1, p2 = th[0], th[2]
    tot = total[s]
    prev = tot - closed
    crossing = (prev < p1 and tot >= p1) or (prev < p2 and tot >= p2)
    if not (crossing or prev >= p2):
        return False
    wr_all, wl_all, _ = set_gate_figures(pool_r, chunks, count, s, int(min(p2, cap)))
    wr_prod, _, dd_prod = set_gate_figures(pool_r, chunks, count, s, int(th[5]))
    new = _next_status(int(status[s]), prev, tot, wr_all, wl_all, wr_prod, dd_prod, th)
    if new != status[s]:
        status[s] = new
        return True
    return False


@kernel(inline=True)
def _below(sorted_p: FloatArray, cum_dt: FloatArray, lev: int, j: int, c0: int, size: int, entry: float,
           sign: float) -> float:
    """Seconds of the block of ``size`` ticks from ``j`` (level ``lev``: its ticks sorted by price from
    ``sorted_p[lev, j]``, their gaps to the previous tick summed in that order from ``cum_dt[lev, c0]``) spent with
    the signed price below ``entry``: whole seconds, so exact in any order."""
    lo = 0
    hi = size
    if sign > 0:  # price < entry
        while lo < hi:
            mid = (lo + hi) // 2
            if sorted_p[lev, j + mid] < entry:
                lo = mid + 1
            else:
                hi = mid
        return float(cum_dt[lev, c0 + lo])
    while lo < hi:  # -price < entry: price > -entry
        mid = (lo + hi) // 2
        if sorted_p[lev, j + mid] <= -entry:
            lo = mid + 1
        else:
            hi = mid
    return float(cum_dt[lev, c0 + size] - cum_dt[lev, c0 + lo])


@kernel()
def _replay_sets(
    first: int, last: int, n_cfg: int, tick_t: FloatArray, tick_p: FloatArray,
    blk_min: FloatArray, blk_max: FloatArray, blk_sorted: FloatArray, blk_cum: FloatArray,
    ev_off: IntArray, ev_tick: IntArray,
    direction: npt.NDArray[np.int8], trailing: npt.NDArray[np.bool_], slot_f: FloatArray,
    slot_b: npt.NDArray[np.bool_], pool_r: npt.NDArray[np.float32], pool_t: npt.NDArray[np.uint32],
    chunks: npt.NDArray[np.int32], used: IntArray, cap: int, count: IntArray,
    total: IntArray, set_f: FloatArray, status: npt.NDArray[np.int8], closed_now: IntArray,
    tp: FloatArray, sl: FloatArray, ts: FloatArray, tst: FloatArray, pc: float, fee: float, timeout: float,
    keep: int, cooldown: float, th: FloatArray, touched: npt.NDArray[np.bool_], record: bool, rec: FloatArray,
) -> tuple[int, int]:
    """Sets [first, last) through every tick (see the module docstring). With ``record`` the closed results go
    to ``rec``, one row of :data:`N_REC` fields each, in the order the sets were walked; the walk stops before a
    set whose results might not fit (:func:`results_bound`). Returns (results written, the set it stopped
    before: ``last`` when done). The buffer is the caller's: an array variable the loop may replace costs a
    counted reference per tick."""
    n = tick_t.shape[0]
    n_slots = slot_b.shape[1]
    n_rec = 0
    for s in range(first, last):
        v = s // n_cfg
        c = s % n_cfg
        e0 = ev_off[v]
        e1 = ev_off[v + 1]
        if record and n_rec + e1 - e0 + n_slots > rec.shape[0]:
            return n_rec, s
        ei = e0
        sign = 1.0 if direction[s] > 0 else -1.0
        trail = trailing[s]
        closed_now[s] = 0
        j = 0
        while True:
            n_open = 0
            for k in range(n_slots):
                if slot_b[s, k, B_OPEN]:
                    n_open += 1
            if n_open == 0:
                if ei >= e1 or status[s] == FAILED:  # nothing open, and nothing opens any more
                    break
                j = ev_tick[ei]
            elif j >= n:
                break
            else:
                # an indication changes nothing while every slot is taken (or the set failed): blocks that close
                # no position are skipped over it
                can_open = n_open < n_slots and status[s] != FAILED
                nxt = ev_tick[ei] if ei < e1 and can_open else n
                # the largest aligned block (LEVELS) in which no open position exits or arms trailing is applied
                # at once. Written out here, not in helpers: a compiled call that takes arrays counts a reference
                # up and down per array — atomic instructions that cost more than the check itself.
                skipped = 0
                room = min(nxt, n) - j
                for lev in range(N_LEVELS):
                    size = LEVELS[lev]
                    if j % size != 0 or room < size:
                        continue
                    b = j // size
                    lo, hi = (blk_min[lev, b], blk_max[lev, b]) if sign > 0 else (-blk_max[lev, b], -blk_min[lev, b])
                    t_end = tick_t[j + size - 1]
                    clear = True
                    for k in range(n_slots):  # no open position exits or arms trailing in [lo, hi]
                        if not slot_b[s, k, B_OPEN]:
                            continue
                        stop = slot_f[s, k, F_STOP]
                        clear = not lo <= stop
                        if clear and not trail:
                            clear = not hi >= slot_f[s, k, F_TP]
                        elif clear:
                            best = slot_f[s, k, F_BEST]
                            if hi > best:
                                best = hi
                            armed = slot_b[s, k, B_ARMED]
                            if not armed:
                                clear = not best >= slot_f[s, k, F_ARM]
                            else:
                                trailed = best - slot_f[s, k, F_TDIST]
                                if trailed > stop:
                                    stop = trailed
                                clear = not lo <= stop
                        if clear and timeout > 0.0 and t_end - slot_f[s, k, F_T0] >= timeout:
                            clear = False
                        if not clear:
                            break
                    if not clear:
                        continue
                    for k in range(n_slots):  # the block's effect on each open position
                        if not slot_b[s, k, B_OPEN]:
                            continue
                        entry = slot_f[s, k, F_ENTRY]
                        if hi < entry:  # below the entry on every tick: the time since the last update, all of it
                            slot_f[s, k, F_UW] += t_end - slot_f[s, k, F_LAST]
                        elif lo < entry:
                            if j == 0:  # the first tick's gap is to the position's own last update
                                for i in range(size):
                                    if sign * tick_p[i] < entry:
                                        slot_f[s, k, F_UW] += tick_t[i] - slot_f[s, k, F_LAST]
                                    slot_f[s, k, F_LAST] = tick_t[i]
                            else:
                                slot_f[s, k, F_UW] += _below(blk_sorted, blk_cum, lev, j, b * (size + 1), size, entry,
                                                             sign)
                        slot_f[s, k, F_LAST] = t_end
                        if trail:
                            if hi > slot_f[s, k, F_BEST]:
                                slot_f[s, k, F_BEST] = hi
                            trailed = slot_f[s, k, F_BEST] - slot_f[s, k, F_TDIST]
                            if slot_b[s, k, B_ARMED] and trailed > slot_f[s, k, F_STOP]:
                                slot_f[s, k, F_STOP] = trailed
                    skipped = size
                    break
                if skipped > 0:
                    j += skipped
                    while ei < e1 and ev_tick[ei] < j:
                        ei += 1
                    continue
                # one tick: _update's statements for this set
                t = tick_t[j]
                sp = sign * tick_p[j]
                closed = 0
                for k in range(n_slots):
                    if not slot_b[s, k, B_OPEN]:
                        continue
                    if sp < slot_f[s, k, F_ENTRY]:
                        slot_f[s, k, F_UW] += t - slot_f[s, k, F_LAST]
                    slot_f[s, k, F_LAST] = t
                    reason, price, stop, best, armed = bar_step(
                        sp, sp, sp, sp, t - slot_f[s, k, F_T0], slot_f[s, k, F_STOP], slot_f[s, k, F_BEST],
                        slot_b[s, k, B_ARMED], slot_f[s, k, F_TP], trail, slot_f[s, k, F_ARM], slot_f[s, k, F_TDIST],
                        timeout,
                    )
                    if reason == 0:
                        slot_f[s, k, F_STOP] = stop
                        slot_f[s, k, F_BEST] = best
                        slot_b[s, k, B_ARMED] = armed
                        continue
                    i = count[s]
                    a = ring_put(pool_r, pool_t, chunks, used, s, i, result_fraction(slot_f[s, k, F_ENTRY], price, fee),
                                 slot_f[s, k, F_UW], slot_f[s, k, F_T0], t)
                    if record:
                        result = np.float64(pool_r[a, R_RESULT])
                        rec[n_rec, 0] = j
                        rec[n_rec, 1] = s
                        rec[n_rec, 2] = result
                        rec[n_rec, 3] = result / pc
                        rec[n_rec, 4] = np.float64(pool_t[a, T_ENTRY])
                        rec[n_rec, 5] = np.float64(pool_t[a, T_CLOSE])
                        rec[n_rec, 6] = np.float64(pool_r[a, R_UW])
                        n_rec += 1
                    count[s] = i + 1
                    total[s] += 1
                    if count[s] == cap:
                        ring_cut(pool_r, pool_t, chunks, s, cap, keep)
                        count[s] = keep
                    slot_b[s, k, B_OPEN] = False
                    slot_b[s, k, B_ARMED] = False
                    set_f[s, S_LAST_EXIT] = t
                    closed += 1
                if closed > 0:
                    touched[s] = True
                    if j == n - 1:
                        closed_now[s] = closed
                    _evaluate(s, closed, pool_r, chunks, cap, count, total, status, th)
            # the indications of this tick: _open's statements for this set
            t = tick_t[j]
            while ei < e1 and ev_tick[ei] == j:
                ei += 1
                if status[s] == FAILED or set_f[s, S_LAST_EXIT] == t or t - set_f[s, S_LAST_ENTRY] < cooldown:
                    continue
                open_slot(slot_f, slot_b, set_f, s, sign * tick_p[j], t, tp[c], sl[c], ts[c], tst[c], pc)
            j += 1
    return n_rec, last


def thresholds_array(th: GateThresholds) -> FloatArray:
    return np.array([th.phase1_count, th.phase1_min_win_rate, th.phase2_count, th.phase2_min_win_rate,
                     th.phase2_min_win_loss, th.production_window, th.pause_below_win_rate,
                     th.pause_above_drawdown, th.resume_win_rate], dtype=np.float64)


def _levels(times: FloatArray, prices: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per level of :data:`LEVELS` (one row each, zero-padded) and complete block of its size: the lowest and
    highest price, the block's prices sorted (row ``lev`` from the block's first tick), and the gaps to each tick's
    previous tick summed in that sorted order (``size + 1`` per block, a leading 0)."""
    n = prices.shape[0]
    gaps_all = np.diff(times, prepend=times[:1])
    lows = np.zeros((N_LEVELS, n // LEVELS[-1] + 1))
    highs = np.zeros_like(lows)
    sorted_p = np.zeros((N_LEVELS, n + 1))
    cum = np.zeros((N_LEVELS, n + n // LEVELS[-1] + 1))
    for lev, size in enumerate(LEVELS):
        nb = n // size
        view = prices[: nb * size].reshape(nb, size)
        gaps = gaps_all[: nb * size].reshape(nb, size)
        order = np.argsort(view, axis=1, kind="stable")
        lows[lev, :nb] = view.min(axis=1)
        highs[lev, :nb] = view.max(axis=1)
        sorted_p[lev, : nb * size] = np.take_along_axis(view, order, axis=1).reshape(-1)
        summed = np.zeros((nb, size + 1))
        summed[:, 1:] = np.cumsum(np.take_along_axis(gaps, order, axis=1), axis=1)
        cum[lev, : nb * (size + 1)] = summed.reshape(-1)
    return lows, highs, sorted_p, cum


@dataclass
class BookReplay:
    """One book's replay over a tick series with its indications grouped by variant: :meth:`run` walks a range of
    sets (call it in chunks to look at a stop flag in between; ranges may run at once on several threads), then
    :meth:`finish` packs the rings' pool.

    Ring chunks a walk takes come from the range's own part of the pool, reserved past the chunks taken before
    (every chunk its sets could take: untouched pool memory costs nothing), so walks on other threads never take
    the same chunk; :meth:`finish` moves them together."""

    book: SetBook
    thresholds: GateThresholds
    times: FloatArray
    prices: FloatArray
    ev_off: IntArray  # per variant, where its entries start in ev_tick (len = variants + 1)
    ev_tick: IntArray  # tick index of each entry, per variant in firing order
    record: bool

    def __post_init__(self) -> None:
        self._levels = _levels(self.times, self.prices)
        self._th = thresholds_array(self.thresholds)
        self.touched = np.zeros(len(self.book), dtype=np.bool_)
        self._base = self.book.reserve_chunks()

    def finish(self) -> None:
        """Pack the pool (the chunks every walk took, in set order); the book stays as the walks left it."""
        self.book.compact()

    def run(self, first: int, last: int) -> FloatArray:
        """Walk sets [first, last); the closed results (:data:`N_REC` fields each) when recording."""
        b, m, e = self.book, self.book.matrix, self.book.params.exit
        lows, highs, sorted_p, cum = self._levels
        used = np.array([self._base + first * b.n_chunks], dtype=np.int64)  # this range's part of the pool
        parts: list[FloatArray] = []
        size = RECORDS_AHEAD if self.record else 0
        while first < last:
            rec = np.empty((size, N_REC))
            written, first = _replay_sets(
                first, last, b.n_cfg, self.times, self.prices, lows, highs, sorted_p, cum,
                self.ev_off, self.ev_tick, b.direction, b.trailing, b.slot_f, b.slot_b, b.pool_r, b.pool_t, b.chunks,
                used, b.params.capacity, b.count,
                b.total, b.set_f, b.status, b.closed_now, m.tp, m.sl, m.trail_start, m.trail_stop, e.pc, e.fee,
                e.timeout_s, b.params.history, b.params.cooldown_s, self._th, self.touched, self.record, rec,
            )
            parts.append(rec[:written])
            if first < last:  # the next set's results might not fit: a larger buffer for the rest
                size = max(2 * size, self.results_bound(first))
        return np.concatenate(parts) if parts else np.empty((0, N_REC))

    def results_bound(self, s: int) -> int:
        """The most results set ``s`` can close in a walk: one per indication of its variant (each opens at most
        one position) plus the positions it holds already."""
        v = s // self.book.n_cfg
        return int(self.ev_off[v + 1] - self.ev_off[v]) + int(self.book.slot_b.shape[1])
