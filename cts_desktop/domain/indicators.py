"""Common indicators for the Preset engine: textbook definitions on OHLC(V) arrays (DOMAIN Part 1 §8).

Every function returns float64 arrays as long as its input, NaN until enough bars exist. Recursive indicators
(EMA, Wilder smoothing) are seeded with the simple mean of their first window, so their early values depend on
where the series starts; they agree with TA-Lib to 1e-9 relative once the seed's weight has decayed, i.e. after
``warmup(period)`` bars (see :func:`warmup`). Division by a zero range gives 0 (flat market), as TA-Lib does.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.jit import kernel


def warmup(period: int) -> int:
    """Bars after which a seeded recursive indicator no longer depends on its seed (weight < 1e-13)."""
    return 30 * period + 60


def _f64(x: FloatArray) -> FloatArray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _check(period: int) -> None:
    if period < 1:
        raise ValueError("period must be at least 1")


def sma(x: FloatArray, period: int) -> FloatArray:
    """Simple moving average; exact window sums (no running-sum drift)."""
    _check(period)
    x = _f64(x)
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= period:
        out[period - 1 :] = sliding_window_view(x, period).mean(axis=1)
    return out


@kernel()
def _ema_seeded(x: FloatArray, period: int, alpha: float) -> FloatArray:
    n = x.shape[0]
    out = np.full(n, np.nan)
    start = 0
    while start < n and np.isnan(x[start]):
        start += 1
    if n - start < period:
        return out
    acc = 0.0
    for i in range(start, start + period):
        acc += x[i]
    prev = acc / period
    out[start + period - 1] = prev
    for i in range(start + period, n):
        prev = (x[i] - prev) * alpha + prev
        out[i] = prev
    return out


def ema(x: FloatArray, period: int) -> FloatArray:
    """Exponential moving average, alpha = 2/(period+1), seeded with the SMA of the first ``period`` values
    (leading NaNs are skipped, so an EMA of an indicator starts where the indicator does)."""
    _check(period)
    return _ema_seeded(_f64(x), period, 2.0 / (period + 1.0))


@kernel()
def _wilder_mean(x: FloatArray, first: int, period: int) -> FloatArray:
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


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's RSI: 100 × avg gain / (avg gain + avg loss), both Wilder means of the close changes."""
    _check(period)
    c = _f64(close)
    change = np.diff(c, prepend=np.nan)
    gain = np.where(change > 0, change, 0.0)
    loss = np.where(change < 0, -change, 0.0)
    g = _wilder_mean(gain, 1, period)
    lo = _wilder_mean(loss, 1, period)
    total = g + lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 100.0 * g / total, np.where(np.isnan(total), np.nan, 0.0))


def macd(
    close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line (EMA fast − EMA slow, from the bar the slow EMA exists), its real signal line (EMA of the
    line) and the histogram."""
    if fast >= slow:
        raise ValueError("MACD needs fast < slow")
    c = _f64(close)
    line = ema(c, fast) - ema(c, slow)
    sig = ema(line, signal)
    return line, sig, line - sig


def bollinger(
    close: FloatArray, period: int = 20, nbdev_up: float = 2.0, nbdev_down: float = 2.0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Upper, middle (SMA) and lower band at ``nbdev`` population standard deviations."""
    _check(period)
    c = _f64(close)
    mid = sma(c, period)
    dev = np.full(c.shape[0], np.nan)
    if c.shape[0] >= period:
        dev[period - 1 :] = sliding_window_view(c, period).std(axis=1)
    return mid + nbdev_up * dev, mid, mid - nbdev_down * dev


def _rolling_max(x: FloatArray, period: int) -> FloatArray:
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= period:
        out[period - 1 :] = sliding_window_view(x, period).max(axis=1)
    return out


def _rolling_min(x: FloatArray, period: int) -> FloatArray:
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= period:
        out[period - 1 :] = sliding_window_view(x, period).min(axis=1)
    return out


def _sma_from_first(x: FloatArray, period: int) -> FloatArray:
    """SMA of a series with leading NaNs, starting where the series starts."""
    out = np.full(x.shape[0], np.nan)
    valid = np.flatnonzero(~np.isnan(x))
    if valid.size:
        out[valid[0] :] = sma(x[valid[0] :], period)
    return out


def stochastic(
    high: FloatArray, low: FloatArray, close: FloatArray, k_period: int = 14, slowing: int = 3, d_period: int = 3
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic: %K = SMA(slowing) of 100 × (close − lowest low)/(highest high − lowest low) over
    ``k_period``; %D = SMA(d_period) of %K."""
    _check(k_period)
    h, lo, c = _f64(high), _f64(low), _f64(close)
    hh = _rolling_max(h, k_period)
    ll = _rolling_min(lo, k_period)
    rng = hh - ll
    with np.errstate(invalid="ignore", divide="ignore"):
        fast_k = np.where(rng > 0, 100.0 * (c - ll) / rng, np.where(np.isnan(rng), np.nan, 0.0))
    slow_k = _sma_from_first(fast_k, slowing)
    return slow_k, _sma_from_first(slow_k, d_period)


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """max(high, previous close) − min(low, previous close); NaN on the first bar (no previous close)."""
    h, lo, c = _f64(high), _f64(low), _f64(close)
    prev = np.r_[np.nan, c[:-1]]
    tr = np.maximum(h, prev) - np.minimum(lo, prev)
    tr[0] = np.nan
    return tr


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's average true range (first value = mean of the first ``period`` true ranges)."""
    _check(period)
    return _wilder_mean(true_range(high, low, close), 1, period)


@kernel()
def _wilder_sum(x: FloatArray, first: int, period: int) -> FloatArray:
    """Wilder's running sum: seed = sum of ``period`` values, then S − S/period + x."""
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n - first < period:
        return out
    acc = 0.0
    for i in range(first, first + period):
        acc += x[i]
    out[first + period - 1] = acc
    for i in range(first + period, n):
        acc = acc - acc / period + x[i]
        out[i] = acc
    return out


def directional(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wilder's ADX, +DI and −DI."""
    _check(period)
    h, lo = _f64(high), _f64(low)
    up = np.diff(h, prepend=np.nan)
    down = -np.diff(lo, prepend=np.nan)
    plus_dm = np.where((up > down) & (up > 0), up, 0.0)
    minus_dm = np.where((down > up) & (down > 0), down, 0.0)
    tr = _wilder_sum(true_range(h, lo, close), 1, period)
    with np.errstate(invalid="ignore", divide="ignore"):
        plus_di = np.where(tr > 0, 100.0 * _wilder_sum(plus_dm, 1, period) / tr, 0.0)
        minus_di = np.where(tr > 0, 100.0 * _wilder_sum(minus_dm, 1, period) / tr, 0.0)
        plus_di[np.isnan(tr)] = np.nan
        minus_di[np.isnan(tr)] = np.nan
        total = plus_di + minus_di
        dx = np.where(total > 0, 100.0 * np.abs(plus_di - minus_di) / total, 0.0)
    dx[np.isnan(total)] = np.nan
    adx = _wilder_mean(dx, period, period)
    return adx, plus_di, minus_di


@kernel()
def parabolic_sar(high: FloatArray, low: FloatArray, acceleration: float = 0.02, maximum: float = 0.2) -> FloatArray:
    """Wilder's parabolic SAR. The first trend is short when the second bar's low falls further than its
    high rises (a −DM move), else long; the first SAR is the first bar's opposite extreme. On a reversal the
    SAR jumps to the extreme point; a SAR never enters the current or previous bar's range."""
    n = high.shape[0]
    out = np.full(n, np.nan)
    if n < 2:
        return out
    up = high[1] - high[0]
    down = low[0] - low[1]
    is_long = not (down > 0.0 and down > up)
    af = acceleration
    if is_long:
        ep = high[1]
        sar = low[0]
    else:
        ep = low[1]
        sar = high[0]
    prev_high = high[1]  # the first step clamps to the first output bar only (as TA-Lib)
    prev_low = low[1]
    for i in range(1, n):
        new_high = high[i]
        new_low = low[i]
        if is_long:
            if new_low <= sar:
                is_long = False
                sar = max(ep, prev_high, new_high)
                out[i] = sar
                af = acceleration
                ep = new_low
                sar = sar + af * (ep - sar)
                sar = max(sar, prev_high, new_high)
            else:
                out[i] = sar
                if new_high > ep:
                    ep = new_high
                    af = min(af + acceleration, maximum)
                sar = sar + af * (ep - sar)
                sar = min(sar, prev_low, new_low)
        else:
            if new_high >= sar:
                is_long = True
                sar = min(ep, prev_low, new_low)
                out[i] = sar
                af = acceleration
                ep = new_high
                sar = sar + af * (ep - sar)
                sar = min(sar, prev_low, new_low)
            else:
                out[i] = sar
                if new_low < ep:
                    ep = new_low
                    af = min(af + acceleration, maximum)
                sar = sar + af * (ep - sar)
                sar = max(sar, prev_high, new_high)
        prev_high = new_high
        prev_low = new_low
    return out


def sar(high: FloatArray, low: FloatArray, acceleration: float = 0.02, maximum: float = 0.2) -> FloatArray:
    """Parabolic SAR (see :func:`parabolic_sar`)."""
    if not 0 < acceleration <= maximum:
        raise ValueError("SAR needs 0 < acceleration <= maximum")
    return parabolic_sar(_f64(high), _f64(low), acceleration, maximum)


def cci(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 20) -> FloatArray:
    """Commodity channel index: (TP − SMA(TP)) / (0.015 × mean absolute deviation), TP = (H + L + C)/3."""
    _check(period)
    tp = (_f64(high) + _f64(low) + _f64(close)) / 3.0
    out = np.full(tp.shape[0], np.nan)
    if tp.shape[0] < period:
        return out
    win = sliding_window_view(tp, period)
    mean = win.mean(axis=1)
    mad = np.abs(win - mean[:, None]).mean(axis=1)
    last = tp[period - 1 :]
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period - 1 :] = np.where(mad > 0, (last - mean) / (0.015 * mad), 0.0)
    return out


def mfi(high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int = 14) -> FloatArray:
    """Money flow index: 100 × positive flow / (positive + negative flow) over ``period`` bars, flow =
    typical price × volume, signed by the change of the typical price."""
    _check(period)
    tp = (_f64(high) + _f64(low) + _f64(close)) / 3.0
    flow = tp * _f64(volume)
    change = np.diff(tp, prepend=np.nan)
    pos = np.where(change > 0, flow, 0.0)
    neg = np.where(change < 0, flow, 0.0)
    out = np.full(tp.shape[0], np.nan)
    if tp.shape[0] <= period:
        return out
    ps = sliding_window_view(pos[1:], period).sum(axis=1)
    ns = sliding_window_view(neg[1:], period).sum(axis=1)
    total = ps + ns
    with np.errstate(invalid="ignore", divide="ignore"):
        out[period:] = np.where(total > 0, 100.0 * ps / total, 0.0)
    return out
