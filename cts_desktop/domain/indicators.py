"""Common indicators for the Preset engine: textbook definitions on OHLC(V) arrays (DOMAIN Part 1 §8).

Every function returns float64 arrays as long as its input, NaN before its first value. The values equal
TA-Lib's on the same input (1e-9 relative) from TA-Lib's first value on, which is also the first value here:
recursive indicators (EMA, Wilder smoothing) are seeded exactly as TA-Lib seeds them, and indicators with several
lines start all of them where the last one starts. The loops live in :mod:`indicator_kernels`. Division by a
zero range gives 0 (flat market), as in TA-Lib.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from cts_desktop.domain import indicator_kernels as kern
from cts_desktop.domain.bars import FloatArray


def _f64(x: FloatArray) -> FloatArray:
    return np.ascontiguousarray(x, dtype=np.float64)


def _check(period: int, least: int = 1) -> None:
    if period < least:
        raise ValueError(f"period must be at least {least}")


def sma(x: FloatArray, period: int) -> FloatArray:
    """Simple moving average (leading NaNs are skipped, so an SMA of an indicator starts where it does)."""
    _check(period)
    return kern.sma(_f64(x), period)


def ema(x: FloatArray, period: int) -> FloatArray:
    """Exponential moving average, alpha = 2/(period+1), seeded with the SMA of the first ``period`` values
    (leading NaNs are skipped, so an EMA of an indicator starts where the indicator does)."""
    _check(period)
    return kern.ema_seeded(_f64(x), period, 2.0 / (period + 1.0), 0)


def rsi(close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's RSI: 100 × avg gain / (avg gain + avg loss), both Wilder means of the close changes; 0 where
    both are zero (TA-Lib's zero band)."""
    _check(period)
    c = _f64(close)
    change = np.diff(c, prepend=np.nan)
    gain = np.where(change > 0, change, 0.0)
    loss = np.where(change < 0, -change, 0.0)
    g = kern.wilder_mean(gain, 1, period)
    lo = kern.wilder_mean(loss, 1, period)
    total = g + lo
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = 100.0 * (g / total)
    return np.where(np.abs(total) < kern.ZERO, 0.0, ratio)


def macd(
    close: FloatArray, fast: int = 12, slow: int = 26, signal: int = 9
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD line (EMA fast − EMA slow), its real signal line (EMA of the line) and the histogram. As in
    TA-Lib both EMAs start on the slow EMA's first bar (the fast one seeded with the mean of its last ``fast``
    closes there), and all three lines start where the signal line does."""
    _check(fast)
    _check(signal)
    if fast >= slow:
        raise ValueError("MACD needs fast < slow")
    c = _f64(close)
    line = kern.ema_seeded(c, fast, 2.0 / (fast + 1.0), slow - fast) - kern.ema_seeded(c, slow, 2.0 / (slow + 1.0), 0)
    sig = ema(line, signal)
    line[np.isnan(sig)] = np.nan
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


def _rolling(x: FloatArray, period: int, fn: Callable[..., FloatArray]) -> FloatArray:
    """``fn`` (np.max, np.min) over each window of ``period`` values, NaN before the first full window."""
    out = np.full(x.shape[0], np.nan)
    if x.shape[0] >= period:
        out[period - 1 :] = fn(sliding_window_view(x, period), axis=1)
    return out


def stochastic(
    high: FloatArray, low: FloatArray, close: FloatArray, k_period: int = 14, slowing: int = 3, d_period: int = 3
) -> tuple[FloatArray, FloatArray]:
    """Slow stochastic: %K = SMA(slowing) of 100 × (close − lowest low)/(highest high − lowest low) over
    ``k_period``; %D = SMA(d_period) of %K. Both start where %D does (TA-Lib)."""
    _check(k_period)
    h, lo, c = _f64(high), _f64(low), _f64(close)
    hh = _rolling(h, k_period, np.max)
    ll = _rolling(lo, k_period, np.min)
    rng = hh - ll
    with np.errstate(invalid="ignore", divide="ignore"):
        fast_k = np.where(rng != 0, 100.0 * ((c - ll) / rng), np.where(np.isnan(rng), np.nan, 0.0))
    slow_k = kern.sma(fast_k, slowing)
    slow_d = kern.sma(slow_k, d_period)
    slow_k[np.isnan(slow_d)] = np.nan
    return slow_k, slow_d


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """max(high, previous close) − min(low, previous close); NaN on the first bar (no previous close)."""
    h, lo, c = _f64(high), _f64(low), _f64(close)
    prev = np.full(c.shape[0], np.nan)
    prev[1:] = c[:-1]
    tr: FloatArray = np.maximum(h, prev) - np.minimum(lo, prev)
    return tr


def atr(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14) -> FloatArray:
    """Wilder's average true range (first value = mean of the first ``period`` true ranges)."""
    _check(period)
    return kern.wilder_mean(true_range(high, low, close), 1, period)


def directional(
    high: FloatArray, low: FloatArray, close: FloatArray, period: int = 14
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Wilder's ADX, +DI and −DI (seeding and zero rules: :func:`indicator_kernels.directional`). +DI and −DI
    start on bar ``period``, the ADX on bar 2·period − 1."""
    _check(period, 2)
    return kern.directional(_f64(high), _f64(low), _f64(close), period)


def sar(high: FloatArray, low: FloatArray, acceleration: float = 0.02, maximum: float = 0.2) -> FloatArray:
    """Parabolic SAR (see :func:`indicator_kernels.parabolic_sar`)."""
    if not 0 < acceleration <= maximum:
        raise ValueError("SAR needs 0 < acceleration <= maximum")
    return kern.parabolic_sar(_f64(high), _f64(low), acceleration, maximum)


def _typical(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    return (_f64(high) + _f64(low) + _f64(close)) / 3.0


def cci(high: FloatArray, low: FloatArray, close: FloatArray, period: int = 20) -> FloatArray:
    """Commodity channel index: (TP − SMA(TP)) / (0.015 × mean absolute deviation), TP = (H + L + C)/3."""
    _check(period, 2)
    return kern.cci(_typical(high, low, close), period)


def mfi(high: FloatArray, low: FloatArray, close: FloatArray, volume: FloatArray, period: int = 14) -> FloatArray:
    """Money flow index: 100 × positive flow / (positive + negative flow) over ``period`` bars, flow =
    typical price × volume, signed by the change of the typical price; a bar whose typical price equals the
    previous one (in decimal: see :func:`indicator_kernels.mfi`) adds to neither."""
    _check(period, 2)
    return kern.mfi(_f64(high), _f64(low), _f64(close), _f64(volume), period)
