"""Block and DCA adjustments (DOMAIN Part 2 §2.1.3, §4.3, §4.4; Part 1 §9) on top of the one exit simulator.

Both operate on ratios, never on money: a position's result stays a fraction of its *first entry's* notional
(fees included, the unit of :mod:`cts_desktop.domain.exits`), multiplied by the size the adjustments gave it, so
an adjusted result compares with a plain one ("summed ratio weights").

**DCA** — add-on entries to an open position. Add-on ``i`` is a buy (long; a sell for a short) of ``sizes[i]``
times the first entry's quantity, placed ``distances[i]`` % of price *adverse from the first entry*; at most
``max_steps`` of them. After a fill every level is **re-anchored to the quantity-weighted average entry**: take
profit d = TP × pc × average beyond it, stop loss SL ratio × d on the other side, trailing's arming level and
distance likewise, and the best price restarts at the fill price (the averaged position's path starts there).
Inside a bar the adverse leg is walked first, in price order: an add-on fills at the open when the bar opens
beyond it, else at its level when the low reaches it — but only if it lies *before* the stop (a stop at or
beyond the add-on level wins, as the stop wins against the target in the plain rule); several add-ons may fill
in one bar; no add-on fills once trailing has armed. The rest of the bar is then :func:`~.exits.bar_step` from
the last fill price (so a take profit re-anchored below the bar's open is taken at its level, never at an open
that happened before the fill). Result of a position with quantities q_i (q_0 = 1) at entries e_i, closed at x:
``(Σq·x − Σq·e − fee·(Σq·|e| + Σq·|x|)) ÷ |e_0|`` — with no add-on filled this is exactly
:func:`~.exits.result_fraction`. Without DCA a position moves exactly as in the plain sweep.

**Block** — a size factor per position of a set, decided when the position opens. The set's closed positions
form consecutive blocks of ``size`` (in close order, plain results). A block whose results sum below zero is
*losing*: the positions opened after it are *adjusted* (factor 1 + ``ratio``), the first ``neutral_wait`` of them
excepted (factor 1); a block summing to ≥ 0 returns the set to factor 1. Consecutive losing blocks keep the
factor (it does not compound). **Auto-disable**: the win rate of the newest ``window`` adjusted positions is
watched once there are ≥ 2 blocks of them; below ``disable_win_rate`` % adjusted positions get factor 1 (they
still count as adjusted, so the rate can recover), above ``enable_win_rate`` % the factor comes back. A closed
position's weighted result is factor × its (DCA) result. The block state machine is a pair of kernels on a small
state array, so the backtest (after the walk, from the trade records) and the live tracker (incrementally) run
the same statements.

Live volume: the order side multiplies the notional by the block factor and the DCA step factor (Part 1 §9,
:func:`cts_desktop.domain.sizing.size_position`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.bars import LONG, SHORT, Bars, FloatArray
from cts_desktop.domain.exits import ExitConfig, ExitParams, bar_step, level, levels, result_fraction
from cts_desktop.domain.jit import kernel
from cts_desktop.domain.sweep import PreparedBars, next_signal_index

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
MAX_DCA_STEPS = 4


@dataclass(frozen=True, slots=True)
class BlockParams:
    """Block adjustment of one set (Settings › Strategy › Block)."""

    size: int = 2
    ratio: float = 1.0
    neutral_wait: int = 0
    auto_disable: bool = True
    disable_win_rate: float = 25.0  # %
    enable_win_rate: float = 40.0  # %
    window: int = 50  # adjusted positions the auto-disable rule looks at

    def __post_init__(self) -> None:
        if not 1 <= self.size <= 100 or self.ratio < 0 or self.neutral_wait < 0 or not 1 <= self.window <= 1000:
            raise ValueError("block: size 1–100, ratio ≥ 0, neutral wait ≥ 0, window 1–1000")
        if self.enable_win_rate < self.disable_win_rate:
            raise ValueError("block: the re-enable win rate must not be below the disable win rate")

    @property
    def label(self) -> str:
        wait = f" wait {self.neutral_wait}" if self.neutral_wait else ""
        return f"block {self.size}×{1 + self.ratio:g}{wait}"


@dataclass(frozen=True, slots=True)
class DcaParams:
    """DCA adjustment (Settings › Strategy › DCA): distances in % of price from the first entry, sizes as
    multiples of the first entry's quantity; they pair up by position."""

    distances: tuple[float, ...] = (0.5, 1.0, 1.5, 2.0)
    sizes: tuple[float, ...] = (1.5, 2.0, 2.3, 2.5)
    max_steps: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.max_steps <= MAX_DCA_STEPS:
            raise ValueError(f"DCA: 1–{MAX_DCA_STEPS} steps")
        if len(self.distances) < self.max_steps or len(self.sizes) < self.max_steps:
            raise ValueError("DCA: a distance and a size for every step")
        d = self.distances[: self.max_steps]
        if any(x <= 0 for x in d) or any(b <= a for a, b in itertools.pairwise(d)):
            raise ValueError("DCA: distances must be positive and increase")
        if any(s <= 0 for s in self.sizes[: self.max_steps]):
            raise ValueError("DCA: sizes must be positive")

    @property
    def label(self) -> str:
        return f"DCA {self.max_steps}"

    def arrays(self) -> tuple[FloatArray, FloatArray]:
        """(distances as fractions, sizes), padded to :data:`MAX_DCA_STEPS` for the kernels."""
        dist = np.zeros(MAX_DCA_STEPS)
        size = np.zeros(MAX_DCA_STEPS)
        dist[: self.max_steps] = np.asarray(self.distances[: self.max_steps]) / 100.0
        size[: self.max_steps] = self.sizes[: self.max_steps]
        return dist, size


@dataclass(frozen=True, slots=True)
class Adjust:
    """The adjustments of one configuration (both None: a plain position)."""

    block: BlockParams | None = None
    dca: DcaParams | None = None

    @property
    def plain(self) -> bool:
        return self.block is None and self.dca is None

    @property
    def label(self) -> str:
        return " ".join(p.label for p in (self.block, self.dca) if p is not None)


NO_ADJUST = Adjust()

# --- one position (slot) with DCA state, in signed space ----------------------------------------------------------
# first entry, Σq, Σq·e, Σq·|e|, add-ons filled, next add-on level, stop, best, TP level, arming level, trailing
# distance, first entry time, armed (0/1), entry bar index, block factor, adjusted slot (0/1)
(S_E0, S_W, S_C, S_A, S_ADDS, S_NEXT, S_STOP, S_BEST, S_TP, S_ARM, S_TDIST, S_T0, S_ARMED, S_EIDX, S_FACTOR,
 S_ADJ) = range(16)
N_SLOT = 16
NO_LEVEL = -np.inf  # "no further add-on" (signed space: never reached)


@kernel()
def open_slot(
    sf: FloatArray, entry: float, t: float, e_idx: int, tp: float, sl: float, ts: float, tst: float, pc: float,
    dist: FloatArray, steps: int, factor: float, adjusted: bool,
) -> None:
    """A new position at signed price ``entry``: the plain levels of :func:`~.exits.levels` and the first add-on."""
    stop, tpl, arm, tdist = levels(entry, tp, sl, ts, tst, pc)
    sf[S_E0] = entry
    sf[S_W] = 1.0
    sf[S_C] = entry
    sf[S_A] = abs(entry)
    sf[S_ADDS] = 0.0
    sf[S_NEXT] = level(entry, -dist[0]) if steps > 0 else NO_LEVEL
    sf[S_STOP] = stop
    sf[S_BEST] = entry
    sf[S_TP] = tpl
    sf[S_ARM] = arm
    sf[S_TDIST] = tdist
    sf[S_T0] = t
    sf[S_ARMED] = 0.0
    sf[S_EIDX] = e_idx
    sf[S_FACTOR] = factor
    sf[S_ADJ] = 1.0 if adjusted else 0.0


@kernel()
def slot_bar(
    sf: FloatArray, o: float, h: float, low: float, c: float, t: float, tp: float, sl: float, ts: float, tst: float,
    pc: float, timeout: float, dist: FloatArray, size: FloatArray, steps: int,
) -> tuple[int, float]:
    """Walk one signed-space bar for one position: add-on fills on the adverse leg, then the plain rule from the
    last fill price. Returns (reason, exit price); reason 0 = still open (the state in ``sf`` moved on)."""
    cur = o
    if sf[S_ARMED] == 0.0:
        while sf[S_ADDS] < steps:
            add = sf[S_NEXT]
            stop = sf[S_STOP]
            if cur <= stop or add <= stop:
                break  # the stop comes first (or at the same price): no add-on
            if cur <= add:
                fill = cur
            elif low <= add:
                fill = add
            else:
                break
            n = int(sf[S_ADDS])
            q = size[n]
            sf[S_W] += q
            sf[S_C] += q * fill
            sf[S_A] += q * abs(fill)
            sf[S_ADDS] = n + 1
            avg = sf[S_C] / sf[S_W]
            s0, tp0, arm0, td0 = levels(avg, tp, sl, ts, tst, pc)
            sf[S_STOP] = s0
            sf[S_TP] = tp0
            sf[S_ARM] = arm0
            sf[S_TDIST] = td0
            sf[S_BEST] = fill
            sf[S_NEXT] = level(sf[S_E0], -dist[n + 1]) if n + 1 < steps else NO_LEVEL
            cur = fill
    reason, price, stop, best, armed = bar_step(
        cur, h, low, c, t - sf[S_T0], sf[S_STOP], sf[S_BEST], sf[S_ARMED] != 0.0, sf[S_TP], tst > 0.0, sf[S_ARM],
        sf[S_TDIST], timeout,
    )
    if reason == 0:
        sf[S_STOP] = stop
        sf[S_BEST] = best
        sf[S_ARMED] = 1.0 if armed else 0.0
    return reason, price


@kernel()
def slot_result(sf: FloatArray, exit_price: float, fee: float) -> float:
    """Unweighted result of a closed position as a fraction of its first entry's notional, fees included."""
    if sf[S_ADDS] == 0.0:
        return float(result_fraction(sf[S_E0], exit_price, fee))
    w = float(sf[S_W])
    base = abs(float(sf[S_E0]))
    return (w * exit_price - float(sf[S_C])) / base - fee * (float(sf[S_A]) + w * abs(exit_price)) / base


# --- Block state machine -----------------------------------------------------------------------------------------
# adjusted mode (0/1), neutral entries still to wait, closes in the current block, their Σ, disabled (0/1),
# ring position, ring fill, wins in the ring; then the ring of adjusted outcomes (1 = win)
B_MODE, B_WAIT, B_N, B_SUM, B_OFF, B_POS, B_FILL, B_WINS = range(8)
B_HEAD = 8


def block_state(window: int) -> FloatArray:
    return np.zeros(B_HEAD + window, dtype=np.float64)


@kernel()
def block_entry(state: FloatArray, ratio: float) -> tuple[float, bool]:
    """Factor and "adjusted" flag of a position opening now."""
    if state[B_MODE] == 0.0:
        return 1.0, False
    if state[B_WAIT] > 0.0:
        state[B_WAIT] -= 1.0
        return 1.0, False
    return (1.0 if state[B_OFF] != 0.0 else 1.0 + ratio), True


@kernel()
def block_close(
    state: FloatArray, result: float, adjusted: bool, size: int, neutral_wait: int, auto_disable: bool,
    disable_pct: float, enable_pct: float,
) -> None:
    """Account one closed position (its plain result, and whether it was opened as adjusted)."""
    state[B_N] += 1.0
    state[B_SUM] += result
    if state[B_N] >= size:
        losing = state[B_SUM] < 0.0
        if losing and state[B_MODE] == 0.0:
            state[B_WAIT] = neutral_wait
        if not losing:
            state[B_WAIT] = 0.0
        state[B_MODE] = 1.0 if losing else 0.0
        state[B_N] = 0.0
        state[B_SUM] = 0.0
    if adjusted and auto_disable:
        window = state.shape[0] - B_HEAD
        pos = int(state[B_POS])
        win = 1.0 if result > 0.0 else 0.0
        if state[B_FILL] == window:
            state[B_WINS] -= state[B_HEAD + pos]
        else:
            state[B_FILL] += 1.0
        state[B_HEAD + pos] = win
        state[B_WINS] += win
        state[B_POS] = (pos + 1) % window
        if state[B_FILL] >= 2 * size:
            rate = 100.0 * state[B_WINS] / state[B_FILL]
            if state[B_OFF] == 0.0 and rate < disable_pct:
                state[B_OFF] = 1.0
            elif state[B_OFF] != 0.0 and rate > enable_pct:
                state[B_OFF] = 0.0


@kernel()
def block_factors(
    entry_idx: IntArray, exit_idx: IntArray, result: FloatArray, m: int, n_open: int, size: int, ratio: float,
    neutral_wait: int, auto_disable: bool, disable_pct: float, enable_pct: float, window: int,
) -> tuple[FloatArray, BoolArray]:
    """Block factor and adjusted flag of each record of a walk: ``m`` closed positions in close order followed by
    ``n_open`` still open (exit index -1). Events run in bar order, a close before an entry on the same bar (the
    order of the live book: exits, then entries)."""
    total = m + n_open
    factor = np.ones(total, dtype=np.float64)
    adjusted = np.zeros(total, dtype=np.bool_)
    order = np.argsort(entry_idx[:total], kind="mergesort")
    state = np.zeros(B_HEAD + window, dtype=np.float64)
    ci = 0
    for q in range(total):
        r = order[q]
        e = entry_idx[r]
        while ci < m and exit_idx[ci] <= e:
            block_close(state, result[ci], adjusted[ci], size, neutral_wait, auto_disable, disable_pct, enable_pct)
            ci += 1
        f, a = block_entry(state, ratio)
        factor[r] = f
        adjusted[r] = a
    return factor, adjusted


# --- the walk over bars: one configuration with DCA (the sweep's loop, positions in slots) -----------------------


@kernel()
def run_adjusted(
    o: FloatArray, h: FloatArray, low: FloatArray, c: FloatArray, t: FloatArray,
    bmin: FloatArray, bmax: FloatArray, bmin2: FloatArray, bmax2: FloatArray, block: int, big: int,
    sig: BoolArray, nxt: IntArray,
    tp: float, sl: float, trail_start: float, trail_stop: float, pc: float, fee: float, timeout: float,
    max_open: int, dist: FloatArray, size: FloatArray, steps: int,
    rec_entry: IntArray, rec_exit: IntArray, rec_price: FloatArray, rec_reason: IntArray, rec_result: FloatArray,
    rec_w: FloatArray, rec_avg: FloatArray,
) -> tuple[int, int]:
    """One configuration over signed-space bars with up to ``steps`` DCA add-ons per position, exactly the order
    of :func:`cts_desktop.domain.sweep.run_config` (exits of a bar first in slot order, then an entry; a signal on
    a bar where the configuration closed is ignored). Records every closed position (plain result, Σq, average
    entry) in close order, then the positions still open (exit index -1). Returns (closed, still open).

    As in the sweep, while every slot is taken a block of ``big`` bars (then of ``block`` bars; both powers of
    two, 0 = off) is skipped when its extremes (``bmin2``/``bmax2``, ``bmin``/``bmax``) prove that nothing
    happens inside it: no stop, add-on, take profit, trailing arm or timeout."""
    n = o.shape[0]
    trailing = trail_stop > 0.0
    slots = np.zeros((max_open, N_SLOT), dtype=np.float64)
    n_open = 0
    trades = 0
    fmask = block - 1
    j = nxt[0]
    while j < n:
        if n_open == 0 and not sig[j]:
            j = nxt[j]
            continue
        if block > 0 and n_open == max_open and (j & fmask) == 0:
            skipped = False
            for level in range(2):
                span = big if level == 0 else block
                if span == 0 or (j & (span - 1)) != 0 or j + span > n:
                    continue
                if level == 0:
                    lo = bmin2[j // big]
                    hi = bmax2[j // big]
                else:
                    lo = bmin[j // block]
                    hi = bmax[j // block]
                ok = True
                for k in range(n_open):
                    if (lo <= slots[k, S_STOP] or (timeout > 0.0 and t[j + span - 1] - slots[k, S_T0] >= timeout)
                            or (slots[k, S_ARMED] == 0.0 and slots[k, S_ADDS] < steps and lo <= slots[k, S_NEXT])):
                        ok = False  # a stop, timeout or add-on may happen inside the block
                    elif not trailing:
                        ok = hi < slots[k, S_TP]
                    else:
                        nb = max(slots[k, S_BEST], hi)
                        ok = (lo > nb - slots[k, S_TDIST]) if slots[k, S_ARMED] != 0.0 else (nb < slots[k, S_ARM])
                    if not ok:
                        break
                if ok:
                    if trailing:
                        for k in range(n_open):
                            slots[k, S_BEST] = max(slots[k, S_BEST], hi)
                            if slots[k, S_ARMED] != 0.0:
                                slots[k, S_STOP] = max(slots[k, S_STOP], slots[k, S_BEST] - slots[k, S_TDIST])
                    j += span
                    skipped = True
                    break
            if skipped:
                continue
        exited = False
        k = 0
        while k < n_open:
            sf = slots[k]
            reason, price = slot_bar(sf, o[j], h[j], low[j], c[j], t[j], tp, sl, trail_start, trail_stop, pc,
                                     timeout, dist, size, steps)
            if reason == 0:
                k += 1
                continue
            rec_entry[trades] = int(sf[S_EIDX])
            rec_exit[trades] = j
            rec_price[trades] = price
            rec_reason[trades] = reason
            rec_result[trades] = slot_result(sf, price, fee)
            rec_w[trades] = sf[S_W]
            rec_avg[trades] = sf[S_C] / sf[S_W]
            trades += 1
            exited = True
            n_open -= 1
            slots[k, :] = slots[n_open, :]
        if sig[j] and not exited and n_open < max_open:
            open_slot(slots[n_open], c[j], t[j], j, tp, sl, trail_start, trail_stop, pc, dist, steps, 1.0, False)
            n_open += 1
        j += 1
    for k in range(n_open):
        sf = slots[k]
        r = trades + k
        rec_entry[r] = int(sf[S_EIDX])
        rec_exit[r] = -1
        rec_price[r] = np.nan
        rec_reason[r] = 0
        rec_result[r] = np.nan
        rec_w[r] = sf[S_W]
        rec_avg[r] = sf[S_C] / sf[S_W]
    return trades, n_open


@kernel()
def weighted_stats(result: FloatArray, factor: FloatArray, m: int) -> tuple[float, int, float, float, float]:
    """(Σ, wins, Σ wins, Σ |losses|, max drawdown) of factor × result over the first ``m`` records (close order;
    the drawdown's running peak starts at 0, as in the sweep)."""
    total = 0.0
    wins = 0
    gwin = 0.0
    gloss = 0.0
    peak = 0.0
    maxdd = 0.0
    for i in range(m):
        r = factor[i] * result[i]
        result[i] = r
        total += r
        if r > 0.0:
            wins += 1
            gwin += r
        else:
            gloss -= r
        peak = max(peak, total)
        maxdd = max(maxdd, peak - total)
    return total, wins, gwin, gloss, maxdd


def side_index(direction: int) -> int:
    if direction not in (LONG, SHORT):
        raise ValueError("direction must be +1 (long) or -1 (short)")
    return 0 if direction == LONG else 1


def dca_arrays(dca: DcaParams | None) -> tuple[FloatArray, FloatArray, int]:
    if dca is None:
        return np.zeros(MAX_DCA_STEPS), np.zeros(MAX_DCA_STEPS), 0
    dist, size = dca.arrays()
    return dist, size, dca.max_steps


# --- the live tracker: the same kernels, one price update (or candle) at a time -----------------------------------


@dataclass(slots=True)
class ClosedPosition:
    entry_time: float
    close_time: float
    exit_price: float  # real price
    reason: int
    result: float  # factor × plain result
    plain: float
    factor: float
    quantity: float  # Σq in first-entry quantities
    avg_entry: float  # real price


@dataclass(slots=True)
class AdjustedBook:
    """Pseudo positions of one configuration set (one exit configuration, one direction) with Block and DCA —
    the live counterpart of :func:`run_adjusted` + :func:`block_factors`: the same kernels in the same order
    (exits of an update in slot order, then an entry; no entry on an update that closed a position)."""

    direction: int
    exit: ExitConfig
    params: ExitParams
    adjust: Adjust = NO_ADJUST
    max_open: int = 1
    cooldown_s: float = 0.0
    history: int = 250
    slots: FloatArray = field(init=False)
    n_open: int = 0
    closed: list[ClosedPosition] = field(default_factory=list)
    total_closed: int = 0
    last_entry: float = -np.inf
    last_exit: float = -np.inf
    _state: FloatArray = field(init=False)
    _dist: FloatArray = field(init=False)
    _size: FloatArray = field(init=False)
    _steps: int = 0

    def __post_init__(self) -> None:
        if self.max_open < 1:
            raise ValueError("max_open must be at least 1")
        self.slots = np.zeros((self.max_open, N_SLOT), dtype=np.float64)
        window = self.adjust.block.window if self.adjust.block is not None else 1
        self._state = block_state(window)
        self._dist, self._size, self._steps = dca_arrays(self.adjust.dca)

    def update_bar(self, t: float, o: float, h: float, low: float, c: float) -> list[ClosedPosition]:
        """Move the open positions through one bar (a tick: o = h = l = c). Returns what closed."""
        out: list[ClosedPosition] = []
        if self.n_open == 0:
            return out
        d = self.direction
        so, sh, sl_, sc = (o, h, low, c) if d > 0 else (-o, -low, -h, -c)
        e = self.exit
        p = self.params
        k = 0
        while k < self.n_open:
            sf = self.slots[k]
            reason, price = slot_bar(sf, so, sh, sl_, sc, t, e.tp, e.sl, e.trail_start, e.trail_stop, p.pc,
                                     p.timeout_s, self._dist, self._size, self._steps)
            if reason == 0:
                k += 1
                continue
            plain = float(slot_result(sf, price, p.fee))
            out.append(ClosedPosition(float(sf[S_T0]), t, d * float(price), int(reason), float(sf[S_FACTOR]) * plain,
                                      plain, float(sf[S_FACTOR]), float(sf[S_W]), d * float(sf[S_C] / sf[S_W])))
            b = self.adjust.block
            if b is not None:
                block_close(self._state, plain, sf[S_ADJ] != 0.0, b.size, b.neutral_wait, b.auto_disable,
                            b.disable_win_rate, b.enable_win_rate)
            self.n_open -= 1
            self.slots[k, :] = self.slots[self.n_open, :]
        if out:
            self.last_exit = t
            self.closed.extend(out)
            self.total_closed += len(out)
            cap = self.history + max(1, self.history // 5)
            if len(self.closed) >= cap:
                del self.closed[: len(self.closed) - self.history]
        return out

    def update_price(self, t: float, price: float) -> list[ClosedPosition]:
        return self.update_bar(t, price, price, price, price)

    def on_signal(self, t: float, price: float) -> bool:
        """Open a position at ``price`` if a slot is free, the set did not close on this update and the
        cooldown since its last entry passed."""
        if self.n_open >= self.max_open or self.last_exit == t or t - self.last_entry < self.cooldown_s:
            return False
        factor, adjusted = 1.0, False
        b = self.adjust.block
        if b is not None:
            factor, adjusted = block_entry(self._state, b.ratio)
        e = self.exit
        open_slot(self.slots[self.n_open], self.direction * price, t, 0, e.tp, e.sl, e.trail_start, e.trail_stop,
                  self.params.pc, self._dist, self._steps, float(factor), bool(adjusted))
        self.n_open += 1
        self.last_entry = t
        return True

    @property
    def block_factor(self) -> float:
        """The factor a position opening now would get (without consuming a neutral wait)."""
        b = self.adjust.block
        if b is None or self._state[B_MODE] == 0.0 or self._state[B_WAIT] > 0.0:
            return 1.0
        return 1.0 if self._state[B_OFF] != 0.0 else 1.0 + b.ratio

    def results(self) -> FloatArray:
        return np.array([p.result for p in self.closed], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class AdjustedTrades:
    """Closed positions of one adjusted configuration, in close order and real prices."""

    entry_index: IntArray
    exit_index: IntArray
    exit_price: FloatArray
    reason: IntArray
    result: FloatArray  # factor × plain result (fraction of the first entry's notional, fees included)
    plain: FloatArray  # the result without the block factor
    factor: FloatArray  # block factor
    quantity: FloatArray  # Σq in first-entry quantities (1 without DCA fills)
    avg_entry: FloatArray  # quantity-weighted average entry
    still_open: int


def adjusted_trades(
    bars: Bars | PreparedBars, entries: BoolArray, direction: int, config: ExitConfig, params: ExitParams,
    adjust: Adjust, max_open: int = 1,
) -> AdjustedTrades:
    """Every closed position of one (entry series, configuration, adjustments) — the adjusted counterpart of
    :func:`cts_desktop.domain.sweep.sweep_trades`."""
    prep = bars if isinstance(bars, PreparedBars) else PreparedBars.build(bars)
    if max_open < 1:
        raise ValueError("max_open must be at least 1")
    sig = np.ascontiguousarray(entries, dtype=np.bool_)
    s = side_index(direction)
    cap = int(sig.sum()) + 1
    ent = np.empty(cap, dtype=np.int64)
    ext = np.empty(cap, dtype=np.int64)
    price = np.empty(cap, dtype=np.float64)
    reason = np.empty(cap, dtype=np.int64)
    res = np.empty(cap, dtype=np.float64)
    w = np.empty(cap, dtype=np.float64)
    avg = np.empty(cap, dtype=np.float64)
    dist, size, steps = dca_arrays(adjust.dca)
    m, n_open = run_adjusted(
        prep.o[s], prep.h[s], prep.low[s], prep.c[s], prep.t, prep.bmin[s], prep.bmax[s], prep.bmin2[s],
        prep.bmax2[s], prep.block, prep.big, sig,
        next_signal_index(sig), config.tp, config.sl, config.trail_start, config.trail_stop, params.pc, params.fee,
        params.timeout_s, max_open, dist, size, steps, ent, ext, price, reason, res, w, avg,
    )
    m, n_open = int(m), int(n_open)
    b = adjust.block
    if b is not None:
        factor, _adj = block_factors(ent, ext, res, m, n_open, b.size, b.ratio, b.neutral_wait, b.auto_disable,
                                     b.disable_win_rate, b.enable_win_rate, b.window)
        factor = factor[:m]
    else:
        factor = np.ones(m)
    plain = res[:m].copy()
    return AdjustedTrades(ent[:m], ext[:m], direction * price[:m], reason[:m], factor * plain, plain, factor,
                          w[:m], direction * avg[:m], n_open)
