"""The Main indications of a whole tick series in one compiled pass: what a fresh
:class:`~cts_desktop.domain.steps.FrameBuilder` and :class:`~cts_desktop.domain.indications.IndicationEngine` (with
its :class:`~cts_desktop.domain.activity.ActivityGate`) give when the ticks are pushed one by one, bit for bit.

The warm-up of a starting engine used to push every tick of its prehistory through the live pipeline (Python per
1-s frame: most of its minutes). :func:`scan` runs the same rules over the whole series at once and returns

* every indication in the order the live engine fires it, as (tick that closed its frame, key id, direction) —
  key ids index :func:`key_table` (type, parameter tuple);
* the engines' final state, which :func:`install` writes into the live objects so the pipeline continues exactly
  as after the tick-by-tick replay.

The arithmetic is the Python engine's, in its order: sums run left to right as Python's ``sum`` does (with the
Neumaier compensation Python 3.12 added to ``sum`` of floats, when run there); ``max``/``min`` keep the first of
equal values. Inputs the kernel does not model (a zero price, a frame length other than 1 s, an engine that has
already seen prices) are refused by :func:`supported`; the caller replays those tick by tick.
"""

from __future__ import annotations

import itertools
import math
import sys
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cts_desktop.domain.activity import MarketState
from cts_desktop.domain.indications import IndicationEngine, IndicationParams, IndicationType, _Run
from cts_desktop.domain.jit import kernel
from cts_desktop.domain.steps import FrameBuilder

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NEUMAIER = sys.version_info >= (3, 12)  # Python's sum() of floats compensates from 3.12 on
# gate states as the kernel counts them
G_PAUSED, G_MONITORING, G_ACTIVE = 0, 1, 2
_STATES = {G_PAUSED: MarketState.PAUSED, G_MONITORING: MarketState.MONITORING, G_ACTIVE: MarketState.ACTIVE}
_CODES = {state: code for code, state in _STATES.items()}
KeyText = tuple[str, tuple[float, ...]]


@dataclass(frozen=True, slots=True)
class KeyLayout:
    """Where each indication type's keys start in the key table (ids are dense, per type in loop order)."""

    n_ranges: int
    move: int
    direction: int
    optimal: int
    active: int
    size: int


def layout(p: IndicationParams) -> KeyLayout:
    r = len(p.ranges)
    optimal = 2 * r
    active = optimal + len(p.market_changes) * len(p.last_part_ratios) * len(p.drawdowns) * r
    size = active + len(p.active_ranges) * len(p.activity_shares) * len(p.activity_last_shares)
    return KeyLayout(r, 0, r, optimal, active, size)


def key_table(p: IndicationParams) -> list[KeyText]:
    """(type value, parameter tuple) per key id, the tuples exactly as the Python engine builds them."""
    keys: list[KeyText] = [("move", (float(r),)) for r in p.ranges]
    keys += [("direction", (float(r),)) for r in p.ranges]
    keys += [("optimal", (float(r), d, float(v), lp)) for v in p.market_changes for lp in p.last_part_ratios
             for d in p.drawdowns for r in p.ranges]
    keys += [("active", (float(r), a, b)) for r in p.active_ranges for a in p.activity_shares
             for b in p.activity_last_shares]
    return keys


@kernel()
def _pysum(values: FloatArray, lo: int, hi: int, neumaier: bool) -> float:
    """Python's ``sum(values[lo:hi])`` of floats (start 0): left to right, compensated on Python ≥ 3.12."""
    if hi <= lo:
        return 0.0
    f = 0.0 + values[lo]
    c = 0.0
    for i in range(lo + 1, hi):
        x = values[i]
        t = f + x
        if neumaier:
            if abs(f) >= abs(x):
                c += (f - t) + x
            else:
                c += (x - t) + f
        f = t
    if neumaier and c != 0.0 and np.isfinite(c):
        f += c
    return float(f)


@kernel()
def _last_part(n: int, fraction: float) -> int:
    return max(1, int(np.ceil(n * fraction)))


@kernel()
def _range_ratio(value: float) -> float:
    return 0.1 + (value - 1.0) * 0.1556


@kernel()
def _gate_next(state: int, window: FloatArray, changes: FloatArray, absolute: FloatArray, n: int,
               deactivation: float, activation: float, required_mean: float, min_volatility: float,
               min_price_change: float, neumaier: bool) -> int:
    """``ActivityGate._next_state`` over the window's ``n`` changes (oldest first) and its ``n + 1`` prices."""
    movement = _pysum(absolute, 0, n, neumaier)
    if movement < deactivation:
        return G_PAUSED
    if movement >= activation:
        mean = _pysum(changes, 0, n, neumaier) / n
        sq = np.empty(n)
        for i in range(n):
            d = changes[i] - mean
            sq[i] = d * d
        var = _pysum(sq, 0, n, neumaier) / n
        mean_change = movement / n
        volatility = math.sqrt(var)
        hi = window[0]
        lo = window[0]
        for i in range(1, n + 1):
            if window[i] > hi:
                hi = window[i]
            if window[i] < lo:
                lo = window[i]
        range_fraction = (hi - lo) / window[n]
        if mean_change >= required_mean and volatility >= min_volatility and range_fraction >= min_price_change:
            return G_ACTIVE
    return G_ACTIVE if state == G_ACTIVE else G_MONITORING


@kernel()
def _due(last: FloatArray, has: npt.NDArray[np.bool_], key: int, time: float, timeout: float) -> bool:
    return (not has[key]) or time - last[key] >= timeout


@kernel()
def _scan(
    tick_t: FloatArray, tick_p: FloatArray,
    ranges: IntArray, drawdowns: FloatArray, market_changes: IntArray, last_part_ratios: FloatArray,
    active_ranges: IntArray, shares: FloatArray, last_shares: FloatArray,
    types: npt.NDArray[np.bool_],  # move, direction, optimal, active
    pc: float, last_part_fraction: float, min_calc_time_s: float, activity_window: int, timeout: float,
    history_s: float, keep_steps: int,
    gate_enabled: bool, calc_range: int, deactivation: float, activation: float, required_mean: float,
    min_volatility: float, min_price_change: float,
    key_active: int, key_optimal: int, n_keys: int, neumaier: bool,
) -> tuple[IntArray, IntArray, IntArray, FloatArray, IntArray, FloatArray, IntArray, FloatArray, FloatArray,
           npt.NDArray[np.bool_], IntArray, FloatArray, IntArray]:
    """The pass of :func:`scan` (prices must not be zero: :func:`supported`). Returns the events (tick, key,
    direction), the frames (times; prices), the run (sign, length), the step ring (signs, times, prices), the keys
    fired (flag, first-firing order, last time), ``info`` (steps, gate state, frames) and the run's floats (start
    time, start price, extreme, step level)."""
    n_ticks = tick_t.shape[0]
    n_frames_max = 1
    if n_ticks > 1:
        n_frames_max = int(np.floor(tick_t[n_ticks - 1]) - np.floor(tick_t[0])) + 1
    frame_t = np.empty(n_frames_max)
    frame_p = np.empty(n_frames_max)
    ev_tick = np.empty(1024, dtype=np.int64)
    ev_key = np.empty(1024, dtype=np.int64)
    ev_dir = np.empty(1024, dtype=np.int64)
    n_ev = 0
    last = np.zeros(n_keys)
    has = np.zeros(n_keys, dtype=np.bool_)
    order = np.full(n_keys, -1, dtype=np.int64)  # first firing, for the dict's insertion order
    n_order = 0
    # the gate's window (prices, changes, |changes|) as plain arrays rebuilt from the frame history
    g_state = G_PAUSED
    g_window = np.empty(calc_range + 1)
    g_changes = np.empty(calc_range)
    g_abs = np.empty(calc_range)
    # steps: a ring of the newest keep_steps steps
    st_sign = np.zeros(keep_steps, dtype=np.int64)
    st_time = np.zeros(keep_steps)
    st_price = np.zeros(keep_steps)
    n_steps = 0
    level = np.nan
    # the run
    run_sign = 0
    run_length = 0
    run_start_time = np.nan
    run_start_price = np.nan
    run_extreme = np.nan
    n_r = ranges.shape[0]
    n_frames = 0
    info = np.zeros(4, dtype=np.int64)
    fired_k = np.empty(n_keys, dtype=np.int64)
    fired_d = np.empty(n_keys, dtype=np.int64)
    changes = np.empty(max(n_frames_max, activity_window + 1))
    change = np.empty(activity_window)
    slot_prev = -1
    price_prev = np.nan
    for j in range(n_ticks):
        slot = int(np.floor(tick_t[j]))
        if slot_prev >= 0:
            for s in range(slot_prev, slot):
                time = float(s)
                price = price_prev
                frame_t[n_frames] = time
                frame_p[n_frames] = price
                n_frames += 1
                # --- gate.push(price)
                if gate_enabled:
                    if n_frames >= calc_range + 1:
                        lo = n_frames - calc_range - 1
                        for i in range(calc_range + 1):
                            g_window[i] = frame_p[lo + i]
                        for i in range(calc_range):
                            a = g_window[i]
                            c = (g_window[i + 1] - a) / a
                            g_changes[i] = c
                            g_abs[i] = abs(c)
                        g_state = _gate_next(g_state, g_window, g_changes, g_abs, calc_range, deactivation,
                                             activation, required_mean, min_volatility, min_price_change, neumaier)
                else:
                    g_state = G_ACTIVE
                live = g_state == G_ACTIVE
                n_fired = 0
                if run_sign != 0:
                    if run_sign > 0:
                        if price > run_extreme:
                            run_extreme = price
                    elif price < run_extreme:
                        run_extreme = price
                level_before = level
                k = 0
                if np.isnan(level):
                    level = price
                else:
                    unit = pc * level
                    k = int(np.floor(abs(price - level) / unit))
                    if k != 0:
                        sign = 1 if price > level else -1
                        for _ in range(k):
                            w = n_steps % keep_steps
                            st_sign[w] = sign
                            st_time[w] = time
                            st_price[w] = price
                            n_steps += 1
                        level = price
                        k = sign * k
                if k != 0:
                    sign = 1 if k > 0 else -1
                    ak = abs(k)
                    if sign == run_sign:
                        before = run_length
                        run_length += ak
                        if live and types[0]:
                            for ri in range(n_r):
                                r = ranges[ri]
                                if before < r <= run_length and _due(last, has, ri, time, timeout):
                                    fired_k[n_fired] = ri
                                    fired_d[n_fired] = sign
                                    n_fired += 1
                    else:
                        if run_sign != 0 and live:
                            if types[1]:
                                for ri in range(n_r):
                                    key = n_r + ri
                                    if run_length >= ranges[ri] and _due(last, has, key, time, timeout):
                                        fired_k[n_fired] = key
                                        fired_d[n_fired] = sign
                                        n_fired += 1
                            any_range = False
                            for ri in range(n_r):
                                if run_length >= ranges[ri]:
                                    any_range = True
                            if types[2] and any_range:
                                start = run_start_time
                                if time - min_calc_time_s < start:
                                    start = time - min_calc_time_s
                                oldest = time - history_s
                                # the kept frames (time ≥ oldest) of [start, time): frame times are sorted
                                first = np.searchsorted(frame_t[:n_frames], max(start, oldest), side="left")
                                n_p = 0
                                for fi in range(first, n_frames):
                                    if frame_t[fi] >= time:
                                        break
                                    if n_p > 0:
                                        a = frame_p[fi - 1]
                                        changes[n_p - 1] = run_sign * (frame_p[fi] - a) / a
                                    n_p += 1
                                if n_p >= 2:
                                    n_c = n_p - 1
                                    overall = _pysum(changes, 0, n_c, neumaier) / n_c
                                    tail_n = _last_part(n_c, last_part_fraction)
                                    tail_mean = _pysum(changes, n_c - tail_n, n_c, neumaier) / tail_n
                                    size = abs(run_extreme - run_start_price)
                                    retrace = abs(run_extreme - price)
                                    n_lp, n_d = last_part_ratios.shape[0], drawdowns.shape[0]
                                    for vi in range(market_changes.shape[0]):
                                        if overall < _range_ratio(float(market_changes[vi])) * pc:
                                            continue
                                        for li in range(n_lp):
                                            if tail_mean < last_part_ratios[li] * overall:
                                                continue
                                            for di in range(n_d):
                                                if retrace > drawdowns[di] * size:
                                                    continue
                                                for ri in range(n_r):
                                                    if run_length < ranges[ri]:
                                                        continue
                                                    key = key_optimal + ((vi * n_lp + li) * n_d + di) * n_r + ri
                                                    if _due(last, has, key, time, timeout):
                                                        fired_k[n_fired] = key
                                                        fired_d[n_fired] = sign
                                                        n_fired += 1
                        run_sign = sign
                        run_length = ak
                        run_start_time = time
                        run_start_price = level_before
                        run_extreme = price
                        if live and types[0]:
                            for ri in range(n_r):
                                r = ranges[ri]
                                if 0 < r <= ak and _due(last, has, ri, time, timeout):
                                    fired_k[n_fired] = ri
                                    fired_d[n_fired] = sign
                                    n_fired += 1
                if live and types[3] and n_frames >= activity_window + 1:
                    lo = n_frames - activity_window - 1
                    net = frame_p[n_frames - 1] - frame_p[lo]
                    if net != 0:
                        for i in range(activity_window):
                            a = frame_p[lo + i]
                            change[i] = abs((frame_p[lo + i + 1] - a) / a)
                        tail_n = _last_part(activity_window, last_part_fraction)
                        direction = 1 if net > 0 else -1
                        n_a, n_b = shares.shape[0], last_shares.shape[0]
                        for ri in range(active_ranges.shape[0]):
                            threshold = _range_ratio(float(active_ranges[ri])) * pc
                            hits = 0
                            for i in range(activity_window):
                                if change[i] >= threshold:
                                    hits += 1
                            hits_last = 0
                            for i in range(activity_window - tail_n, activity_window):
                                if change[i] >= threshold:
                                    hits_last += 1
                            share = hits / activity_window
                            share_last = hits_last / tail_n
                            for ai in range(n_a):
                                if share < shares[ai]:
                                    continue
                                for bi in range(n_b):
                                    key = key_active + (ri * n_a + ai) * n_b + bi
                                    if share_last >= last_shares[bi] and _due(last, has, key, time, timeout):
                                        fired_k[n_fired] = key
                                        fired_d[n_fired] = direction
                                        n_fired += 1
                for i in range(n_fired):
                    key = fired_k[i]
                    last[key] = time
                    if not has[key]:
                        has[key] = True
                        order[key] = n_order
                        n_order += 1
                    if n_ev == ev_tick.shape[0]:
                        ev_tick = np.concatenate((ev_tick, np.empty(n_ev, dtype=np.int64)))
                        ev_key = np.concatenate((ev_key, np.empty(n_ev, dtype=np.int64)))
                        ev_dir = np.concatenate((ev_dir, np.empty(n_ev, dtype=np.int64)))
                    ev_tick[n_ev] = j
                    ev_key[n_ev] = key
                    ev_dir[n_ev] = fired_d[i]
                    n_ev += 1
        slot_prev = slot
        price_prev = tick_p[j]
    info[1] = n_steps
    info[2] = g_state
    info[3] = n_frames
    run_i = np.array([run_sign, run_length], dtype=np.int64)
    run_f = np.array([run_start_time, run_start_price, run_extreme, level])
    return (ev_tick[:n_ev], ev_key[:n_ev], ev_dir[:n_ev], frame_t[:n_frames], run_i, frame_p[:n_frames], st_sign,
            st_time, st_price, has, order, last, info, run_f)  # type: ignore[return-value]


@dataclass(slots=True)
class Scan:
    """What :func:`scan` found: the indications in firing order and the engines' final state."""

    tick: IntArray  # index of the tick whose price closed the indication's frame
    key: IntArray  # into key_table
    direction: IntArray
    keys: list[KeyText]
    frame_t: FloatArray
    frame_p: FloatArray
    run: tuple[int, int, float, float, float]  # sign, length, start time, start price, extreme
    level: float
    steps: tuple[list[float], list[int], list[float]]  # times, signs, prices (the newest kept)
    gate_state: int
    last_fired: dict[KeyText, float]


def supported(engine: IndicationEngine, frames: FrameBuilder, times: FloatArray, prices: FloatArray) -> bool:
    """True when :func:`scan` gives exactly what pushing these ticks would: a fresh engine and frame builder with
    1-s frames, ticks in time order, no zero price (the Python engine's divide-by-zero paths are not modelled)."""
    return (frames.frame == 1.0 and frames._slot is None and not engine._frames and not engine._last_fired
            and engine._run.sign == 0 and math.isnan(engine._steps.level) and not engine.gate._window
            and engine.gate.state is MarketState.PAUSED and engine.params.activity_window_s >= 2
            and bool(np.all(prices != 0.0)) and bool(np.all(np.diff(times) >= 0)))


def scan(engine: IndicationEngine, times: FloatArray, prices: FloatArray) -> Scan:
    """Every indication a fresh ``engine`` fires for these ticks (see the module docstring)."""
    p, g = engine.params, engine.gate.params
    lay = layout(p)
    keep = max(p.ranges, default=1) + 1
    types = np.array([IndicationType.MOVE in p.types, IndicationType.DIRECTION in p.types,
                      IndicationType.OPTIMAL in p.types, IndicationType.ACTIVE in p.types])
    out = _scan(
        np.ascontiguousarray(times, dtype=np.float64), np.ascontiguousarray(prices, dtype=np.float64),
        np.asarray(p.ranges, dtype=np.int64), np.asarray(p.drawdowns, dtype=np.float64),
        np.asarray(p.market_changes, dtype=np.int64), np.asarray(p.last_part_ratios, dtype=np.float64),
        np.asarray(p.active_ranges, dtype=np.int64), np.asarray(p.activity_shares, dtype=np.float64),
        np.asarray(p.activity_last_shares, dtype=np.float64), types,
        p.pc, p.last_part_fraction, p.min_calc_time_s, p.activity_window_s, p.validation_timeout_s,
        float(p.history_s), keep,
        g.enabled, g.calc_range_s, g.deactivation, g.activation, g.required_mean_change, g.min_volatility,
        g.min_price_change, lay.active, lay.optimal, lay.size, NEUMAIER,
    )
    (ev_tick, ev_key, ev_dir, frame_t, run_i, frame_p, st_sign, st_time, st_price, has, order, last, info,
     run_f) = out  # type: ignore[misc]
    n_steps = int(info[1])
    kept = min(n_steps, keep)
    ring = [(n_steps - kept + i) % keep for i in range(kept)]
    keys = key_table(p)
    if p.type_ranges:  # the kernel scans every type over the union of ranges: keep each type's own
        allowed = np.array([p.allows(IndicationType(kind), params) for kind, params in keys], dtype=np.bool_)
        own = allowed[ev_key]
        ev_tick, ev_key, ev_dir = ev_tick[own], ev_key[own], ev_dir[own]
        has = has & allowed
    fired = sorted(np.flatnonzero(has).tolist(), key=lambda k: int(order[k]))
    return Scan(ev_tick, ev_key, ev_dir, keys, frame_t, frame_p,
                (int(run_i[0]), int(run_i[1]), float(run_f[0]), float(run_f[1]), float(run_f[2])), float(run_f[3]),
                ([float(st_time[i]) for i in ring], [int(st_sign[i]) for i in ring],
                 [float(st_price[i]) for i in ring]),
                int(info[2]), {keys[k]: float(last[k]) for k in fired})


def install(engine: IndicationEngine, frames: FrameBuilder, found: Scan, times: FloatArray,
            prices: FloatArray) -> None:
    """Write the final state of the scan into the live engine and frame builder, as if the ticks had been pushed."""
    p = engine.params
    n = len(found.frame_t)
    if len(times):
        frames._slot = math.floor(float(times[-1]) / frames.frame)
        frames._price = float(prices[-1])
    if n == 0:
        return
    ft, fp = found.frame_t.tolist(), found.frame_p.tolist()
    oldest = ft[-1] - p.history_s
    first = int(np.searchsorted(found.frame_t, oldest, side="left"))
    engine._frames = deque(zip(ft[first:], fp[first:], strict=True))
    engine._recent = deque(fp[-(p.activity_window_s + 1):], maxlen=p.activity_window_s + 1)
    sign, length, start_time, start_price, extreme = found.run
    engine._run = _Run(sign, length, start_time, start_price, extreme) if sign != 0 else _Run()
    steps = engine._steps
    steps.level = found.level
    steps.times, steps.signs, steps.prices = list(found.steps[0]), list(found.steps[1]), list(found.steps[2])
    engine._keep_steps = (p, max(p.ranges, default=1) + 1)
    engine._last_fired = {(kind, params): t for (kind, params), t in found.last_fired.items()}
    gate = engine.gate
    if gate.params.enabled:
        window = fp[-(gate.params.calc_range_s + 1):]
        gate._window = deque(window)
        gate._changes = deque((b - a) / a for a, b in itertools.pairwise(window))
        gate._absolute = deque(abs(c) for c in gate._changes if c is not None)
        gate._undefined = 0
    gate.state = _STATES[found.gate_state]
