"""The loops of the common indicators that carry state from bar to bar (numba kernels, see :mod:`indicators`).

Each kernel follows TA-Lib's definition step by step — the same seed, the same first output bar, the same rule for
a zero denominator and, where rounding decides a value (a near-cancellation, a running sum), the same order of
floating-point operations — so its values equal TA-Lib's on the same input from the first one on (DOMAIN Part 1
§8). ``ZERO`` is TA-Lib's absolute zero band (``TA_IS_ZERO``).
"""

from __future__ import annotations

import numpy as np

from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.jit import fma, kernel

ZERO = 1e-14  # |x| < ZERO counts as zero (TA-Lib's TA_EPSILON)
TIE = 1e-14  # a difference within TIE × (|a| + |b|) of two prices counts as none (TA-Lib's TA_IS_ZERO_SCALED)


@kernel()
def first_valid(x: FloatArray) -> int:
    """Index of the first non-NaN value (the length when there is none)."""
    i = 0
    while i < x.shape[0] and np.isnan(x[i]):
        i += 1
    return i


@kernel()
def sma(x: FloatArray, period: int) -> FloatArray:
    """Simple moving average from the first non-NaN value on, by a running window sum (add the new value,
    take the mean, drop the oldest), as TA-Lib sums it: a window of zeros after larger values keeps the sum's
    rounding residue, and TA-Lib's digits include it."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = first_valid(x)
    first = start + period - 1
    if first >= n:
        return out
    total = 0.0
    for i in range(start, first):
        total += x[i]
    for i in range(first, n):
        total += x[i]
        out[i] = total / period
        total -= x[i - period + 1]
    return out


@kernel()
def ema_seeded(x: FloatArray, period: int, alpha: float, lead: int) -> FloatArray:
    """EMA from the first non-NaN value on: the first output is the mean of ``period`` values and stands
    ``lead`` bars later than it could (MACD starts its fast EMA where the slow one starts, as TA-Lib does)."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    first = first_valid(x) + period - 1 + lead
    if first >= n:
        return out
    acc = 0.0
    for i in range(first - period + 1, first + 1):
        acc += x[i]
    prev = acc / period
    out[first] = prev
    for i in range(first + 1, n):
        prev = fma(x[i] - prev, alpha, prev)  # as TA-Lib's build computes (x − prev) × alpha + prev
        out[i] = prev
    return out


@kernel()
def wilder_mean(x: FloatArray, first: int, period: int) -> FloatArray:
    """Wilder's running mean from index ``first``: seed = mean of x[first : first+period]."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n - first < period:
        return out
    acc = 0.0
    for i in range(first, first + period):
        acc += x[i]
    prev = acc / period
    out[first + period - 1] = prev
    for i in range(first + period, n):
        prev = (prev * (period - 1) + x[i]) / period
        out[i] = prev
    return out


@kernel()
def directional(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wilder's ADX, +DI and −DI as TA-Lib seeds them: the +DM, −DM and true-range sums start with the
    ``period`` − 1 bars after the first and take one smoothing step before the first DI (bar ``period``);
    the first ADX (bar 2·period − 1) is the mean of the first ``period`` DX. A bar whose smoothed range or DI sum
    is zero gives DI 0 and no DX: it adds nothing to the first mean and leaves the ADX unchanged."""
    n = high.shape[0]
    adx = np.full(n, np.nan)
    plus_di = np.full(n, np.nan)
    minus_di = np.full(n, np.nan)
    if n <= period:
        return adx, plus_di, minus_di
    plus_dm = 0.0
    minus_dm = 0.0
    tr = 0.0
    sum_dx = 0.0
    prev_adx = 0.0
    for i in range(1, n):
        up = high[i] - high[i - 1]
        down = low[i - 1] - low[i]
        rng = max(high[i] - low[i], abs(high[i] - close[i - 1]), abs(low[i] - close[i - 1]))
        if i >= period:
            plus_dm -= plus_dm / period
            minus_dm -= minus_dm / period
            tr -= tr / period
        if down > 0.0 and up < down:
            minus_dm += down
        elif up > 0.0 and up > down:
            plus_dm += up
        tr += rng
        if i < period:
            continue
        p = m = 0.0
        has_dx = False
        if not abs(tr) < ZERO:
            p = 100.0 * (plus_dm / tr)
            m = 100.0 * (minus_dm / tr)
            has_dx = not abs(m + p) < ZERO
        plus_di[i] = p
        minus_di[i] = m
        dx = 100.0 * (abs(m - p) / (m + p)) if has_dx else 0.0
        if i < 2 * period - 1:
            sum_dx += dx
            continue
        if i == 2 * period - 1:
            prev_adx = (sum_dx + dx) / period
        elif has_dx:
            prev_adx = (prev_adx * (period - 1) + dx) / period
        adx[i] = prev_adx
    return adx, plus_di, minus_di


@kernel()
def cci(typical: FloatArray, period: int) -> FloatArray:
    """Commodity channel index of typical prices. The window is kept in a ring of ``period`` slots (bar i in
    slot i mod period) and summed slot by slot, as TA-Lib sums it: where the CCI is near zero its numerator is
    a near-cancellation, and only the same summation order gives the same digits. A numerator within
    rounding of zero (absolutely, or relative to the prices: a flat window) gives 0."""
    n = typical.shape[0]
    out = np.full(n, np.nan)
    if n < period:
        return out
    ring = np.empty(period)
    for i in range(n):
        ring[i % period] = typical[i]
        if i < period - 1:
            continue
        mean = 0.0
        for j in range(period):
            mean += ring[j]
        mean /= period
        dev = 0.0
        for j in range(period):
            dev += abs(ring[j] - mean)
        num = typical[i] - mean
        flat = abs(num) < ZERO or abs(num) <= TIE * (abs(typical[i]) + abs(mean))
        out[i] = 0.0 if flat or abs(dev) < ZERO else num / (0.015 * (dev / period))
    return out


@kernel()
def mfi(high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int) -> FloatArray:
    """Money flow index with TA-Lib's running sums: each bar's flow (typical price × volume) joins the
    positive or the negative sum by the sign of the typical price's change, and leaves it ``period`` bars later.
    A change within ``TIE`` of the two typical prices is none: H + L + C of two bars that are equal in decimal
    can differ by an ulp in binary, and such a bar adds to neither sum. After a whole window without flow both
    sums are exactly zero again (not the running sums' rounding residue); an empty window gives 0."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n <= period:
        return out
    pos_ring = np.zeros(period)
    neg_ring = np.zeros(period)
    pos_sum = 0.0
    neg_sum = 0.0
    idle = 0
    prev = (high[0] + low[0] + close[0]) / 3.0
    for i in range(1, n):
        slot = (i - 1) % period
        if i > period:
            pos_sum -= pos_ring[slot]
            neg_sum -= neg_ring[slot]
        tp = (high[i] + low[i] + close[i]) / 3.0
        change = tp - prev
        flow = 0.0 if abs(change) <= TIE * (abs(tp) + abs(prev)) else tp * volume[i]
        prev = tp
        pos_ring[slot] = 0.0 if change < 0.0 else flow
        neg_ring[slot] = flow if change < 0.0 else 0.0
        pos_sum += pos_ring[slot]
        neg_sum += neg_ring[slot]
        idle = idle + 1 if flow == 0.0 else 0
        if idle >= period:
            pos_sum = 0.0
            neg_sum = 0.0
        if i < period:
            continue
        total = pos_sum + neg_sum
        out[i] = 0.0 if total <= 0.0 else 100.0 * (min(max(pos_sum, 0.0), total) / total)
    return out


@kernel()
def parabolic_sar(high: FloatArray, low: FloatArray, acceleration: float, maximum: float) -> FloatArray:
    """Wilder's parabolic SAR. The first trend is short when the second bar's low falls further than its
    high rises (a −DM move), else long; the first SAR is the first bar's opposite extreme. On a reversal the
    SAR jumps to the extreme point; a SAR never enters the current or previous bar's range.

    The loop runs in signed space, as the exit simulator does (:mod:`bars`): a short trend is a long one on
    negated prices with high and low swapped (``side`` −1), so each rule is written once; negation is exact."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < 2:
        return out
    down = low[0] - low[1]
    side = -1.0 if down > 0.0 and down > high[1] - high[0] else 1.0
    ep = high[1] if side > 0 else -low[1]  # extreme point, signed
    sar = low[0] if side > 0 else -high[0]
    af = acceleration
    prev_high, prev_low = high[1], low[1]  # the first step clamps to the first output bar only (as TA-Lib)
    for i in range(1, n):
        best, worst = (high[i], low[i]) if side > 0 else (-low[i], -high[i])
        prev_best, prev_worst = (prev_high, prev_low) if side > 0 else (-prev_low, -prev_high)
        if worst <= sar:  # reversal: the SAR jumps to the extreme point, the trend turns
            sar = max(ep, prev_best, best)
            out[i] = side * sar
            side, sar, ep, af = -side, -sar, -worst, acceleration
            worst, prev_worst = -best, -prev_best
        else:
            out[i] = side * sar
            if best > ep:
                ep = best
                af = min(af + acceleration, maximum)
        sar = min(fma(af, ep - sar, sar), prev_worst, worst)  # sar + af × (ep − sar), fused as in TA-Lib
        prev_high, prev_low = high[i], low[i]
    return out
