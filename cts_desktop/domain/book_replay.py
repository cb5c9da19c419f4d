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

from cts_desktop.domain.book import (
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
    SetBook,
    SetStatus,
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
SMALL = 4  # ticks per small block (one 1-minute candle)
BLOCK = 16  # ticks per fine block (four candles)
COARSE = 8  # fine blocks per coarse block

EVALUATING, ACTIVE, PAUSED, FAILED = (int(SetStatus.EVALUATING), int(SetStatus.ACTIVE), int(SetStatus.PAUSED),
                                      int(SetStatus.FAILED))
# closed-result record fields (float64): tick, row, result, result / pc, entry time, close time, time in drawdown
N_REC = 7


@kernel()
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


@kernel()
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


@kernel()
def _can_skip(s: int, lo: float, hi: float, t_end: float, slot_f: FloatArray, slot_b: npt.NDArray[np.bool_],
              trailing: bool, timeout: float) -> bool:
    """No open position of set ``s`` exits or arms trailing on a block of signed prices within [lo, hi]."""
    for k in range(slot_b.shape[1]):
        if not slot_b[s, k, B_OPEN]:
            continue
        f = slot_f[s, k]
        stop = f[F_STOP]
        if lo <= stop:
            return False
        if not trailing:
            if hi >= f[F_TP]:
                return False
        else:
            best = f[F_BEST]
            if hi > best:
                best = hi
            armed = slot_b[s, k, B_ARMED]
            if not armed and best >= f[F_ARM]:
                return False
            if armed:
                trail = best - f[F_TDIST]
                if trail > stop:
                    stop = trail
                if lo <= stop:
                    return False
        if timeout > 0.0 and t_end - f[F_T0] >= timeout:
            return False
    return True


@kernel()
def _below(sorted_p: FloatArray, cum_dt: FloatArray, b: int, size: int, entry: float, sign: float) -> float:
    """Seconds of block ``b`` (ticks sorted by price, their gaps to the previous tick summed in that order) spent
    with the signed price below ``entry``: whole seconds, so exact in any order."""
    lo = 0
    hi = size
    if sign > 0:  # price < entry
        while lo < hi:
            mid = (lo + hi) // 2
            if sorted_p[b, mid] < entry:
                lo = mid + 1
            else:
                hi = mid
        return float(cum_dt[b, lo])
    while lo < hi:  # -price < entry: price > -entry
        mid = (lo + hi) // 2
        if sorted_p[b, mid] <= -entry:
            lo = mid + 1
        else:
            hi = mid
    return float(cum_dt[b, size] - cum_dt[b, lo])


@kernel()
def _skip(s: int, lo: float, hi: float, j0: int, j1: int, sign: float, tick_t: FloatArray, tick_p: FloatArray,
          sorted_p: FloatArray, cum_dt: FloatArray, slot_f: FloatArray, slot_b: npt.NDArray[np.bool_],
          trailing: bool) -> None:
    """Apply ticks [j0, j1) (block ``j0 // (j1 - j0)`` of ``sorted_p``) to the open positions of set ``s`` that
    :func:`_can_skip` cleared."""
    t_end = tick_t[j1 - 1]
    size = j1 - j0
    for k in range(slot_b.shape[1]):
        if not slot_b[s, k, B_OPEN]:
            continue
        f = slot_f[s, k]
        entry = f[F_ENTRY]
        if hi < entry:  # below the entry on every tick: the time since the last update, all of it
            f[F_UW] += t_end - f[F_LAST]
        elif lo < entry:
            if j0 == 0:  # the first tick's gap is to the position's own last update
                for j in range(j0, j1):
                    if sign * tick_p[j] < entry:
                        f[F_UW] += tick_t[j] - f[F_LAST]
                    f[F_LAST] = tick_t[j]
            else:
                f[F_UW] += _below(sorted_p, cum_dt, j0 // size, size, entry, sign)
        f[F_LAST] = t_end
        if trailing:
            if hi > f[F_BEST]:
                f[F_BEST] = hi
            if slot_b[s, k, B_ARMED]:
                trail = f[F_BEST] - f[F_TDIST]
                if trail > f[F_STOP]:
                    f[F_STOP] = trail


@kernel()
def _try_skip(s: int, j: int, size: int, sign: float, trail: bool, timeout: float,
              tick_t: FloatArray, tick_p: FloatArray, b_min: FloatArray, b_max: FloatArray, b_sorted: FloatArray,
              b_cum: FloatArray, slot_f: FloatArray, slot_b: npt.NDArray[np.bool_]) -> int:
    """Skip the block of ``size`` ticks starting at ``j`` (a whole block that ends before the set's next
    indication) if :func:`_can_skip` clears it: the ticks skipped (0 or ``size``)."""
    b = j // size
    lo, hi = (b_min[b], b_max[b]) if sign > 0 else (-b_max[b], -b_min[b])
    if not _can_skip(s, lo, hi, tick_t[j + size - 1], slot_f, slot_b, trail, timeout):
        return 0
    _skip(s, lo, hi, j, j + size, sign, tick_t, tick_p, b_sorted, b_cum, slot_f, slot_b, trail)
    return size


@kernel()
def _replay_sets(
    first: int, last: int, n_cfg: int, tick_t: FloatArray, tick_p: FloatArray,
    a_min: FloatArray, a_max: FloatArray, a_sorted: FloatArray, a_cum: FloatArray,
    b_min: FloatArray, b_max: FloatArray, b_sorted: FloatArray, b_cum: FloatArray,
    c_min: FloatArray, c_max: FloatArray, c_sorted: FloatArray, c_cum: FloatArray,
    ev_off: IntArray, ev_tick: IntArray,
    direction: npt.NDArray[np.int8], trailing: npt.NDArray[np.bool_], slot_f: FloatArray,
    slot_b: npt.NDArray[np.bool_], pool_r: npt.NDArray[np.float32], pool_t: npt.NDArray[np.uint32],
    chunks: npt.NDArray[np.int32], used: IntArray, cap: int, count: IntArray,
    total: IntArray, set_f: FloatArray, status: npt.NDArray[np.int8], closed_now: IntArray,
    tp: FloatArray, sl: FloatArray, ts: FloatArray, tst: FloatArray, pc: float, fee: float, timeout: float,
    keep: int, cooldown: float, th: FloatArray, touched: npt.NDArray[np.bool_], record: bool,
) -> FloatArray:
    """Sets [first, last) through every tick (see the module docstring). Returns the closed results
    (``record``), one row of :data:`N_REC` fields each, in the order the sets were walked."""
    n = tick_t.shape[0]
    n_slots = slot_b.shape[1]
    big = BLOCK * COARSE
    rec = np.empty((1024 if record else 0, N_REC))
    n_rec = 0
    for s in range(first, last):
        v = s // n_cfg
        c = s % n_cfg
        e0 = ev_off[v]
        e1 = ev_off[v + 1]
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
                skipped = 0
                room = min(nxt, n) - j
                if j % SMALL == 0 and room >= SMALL:
                    if j % big == 0 and room >= big:
                        skipped = _try_skip(s, j, big, sign, trail, timeout, tick_t, tick_p, c_min, c_max, c_sorted,
                                            c_cum, slot_f, slot_b)
                    if skipped == 0 and j % BLOCK == 0 and room >= BLOCK:
                        skipped = _try_skip(s, j, BLOCK, sign, trail, timeout, tick_t, tick_p, b_min, b_max,
                                            b_sorted, b_cum, slot_f, slot_b)
                    if skipped == 0:
                        skipped = _try_skip(s, j, SMALL, sign, trail, timeout, tick_t, tick_p, a_min, a_max,
                                            a_sorted, a_cum, slot_f, slot_b)
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
                    f = slot_f[s, k]
                    if sp < f[F_ENTRY]:
                        f[F_UW] += t - f[F_LAST]
                    f[F_LAST] = t
                    reason, price, stop, best, armed = bar_step(
                        sp, sp, sp, sp, t - f[F_T0], f[F_STOP], f[F_BEST], slot_b[s, k, B_ARMED], f[F_TP],
                        trail, f[F_ARM], f[F_TDIST], timeout,
                    )
                    if reason == 0:
                        f[F_STOP] = stop
                        f[F_BEST] = best
                        slot_b[s, k, B_ARMED] = armed
                        continue
                    i = count[s]
                    a = ring_put(pool_r, pool_t, chunks, used, s, i, result_fraction(f[F_ENTRY], price, fee),
                                 f[F_UW], f[F_T0], t)
                    if record:
                        if n_rec == rec.shape[0]:
                            rec = np.concatenate((rec, np.empty((n_rec, N_REC))))
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
    return rec[:n_rec]


def thresholds_array(th: GateThresholds) -> FloatArray:
    return np.array([th.phase1_count, th.phase1_min_win_rate, th.phase2_count, th.phase2_min_win_rate,
                     th.phase2_min_win_loss, th.production_window, th.pause_below_win_rate,
                     th.pause_above_drawdown, th.resume_win_rate], dtype=np.float64)


Blocks = tuple[FloatArray, FloatArray, FloatArray, FloatArray]  # lowest, highest, sorted prices, summed gaps


def _blocks(times: FloatArray, prices: FloatArray, block: int) -> Blocks:
    """Per complete block of ``block`` ticks: lowest and highest price, the prices sorted, and the gaps to each
    tick's previous tick summed in that sorted order (a leading 0)."""
    nb = prices.shape[0] // block
    view = prices[: nb * block].reshape(nb, block)
    gaps = np.diff(times, prepend=times[:1])[: nb * block].reshape(nb, block)
    order = np.argsort(view, axis=1, kind="stable")
    sorted_p = np.take_along_axis(view, order, axis=1)
    cum = np.zeros((nb, block + 1))
    cum[:, 1:] = np.cumsum(np.take_along_axis(gaps, order, axis=1), axis=1)
    return (np.ascontiguousarray(view.min(axis=1)), np.ascontiguousarray(view.max(axis=1)),
            np.ascontiguousarray(sorted_p), cum)


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
        self._small = _blocks(self.times, self.prices, SMALL)
        self._fine = _blocks(self.times, self.prices, BLOCK)
        self._coarse = _blocks(self.times, self.prices, BLOCK * COARSE)
        self._th = thresholds_array(self.thresholds)
        self.touched = np.zeros(len(self.book), dtype=np.bool_)
        self._base = self.book.reserve_chunks()

    def finish(self) -> None:
        """Pack the pool (the chunks every walk took, in set order); the book stays as the walks left it."""
        self.book.compact()

    def run(self, first: int, last: int) -> FloatArray:
        """Walk sets [first, last); the closed results (:data:`N_REC` fields each) when recording."""
        b, m, e = self.book, self.book.matrix, self.book.params.exit
        a, f, c = self._small, self._fine, self._coarse
        used = np.array([self._base + first * b.n_chunks], dtype=np.int64)  # this range's part of the pool
        return _replay_sets(
            first, last, b.n_cfg, self.times, self.prices, a[0], a[1], a[2], a[3], f[0], f[1], f[2], f[3], c[0], c[1],
            c[2], c[3],
            self.ev_off, self.ev_tick, b.direction, b.trailing, b.slot_f, b.slot_b, b.pool_r, b.pool_t, b.chunks,
            used, b.params.capacity, b.count,
            b.total, b.set_f, b.status, b.closed_now, m.tp, m.sl, m.trail_start, m.trail_stop, e.pc, e.fee,
            e.timeout_s, b.params.history, b.params.cooldown_s, self._th, self.touched, self.record,
        )
