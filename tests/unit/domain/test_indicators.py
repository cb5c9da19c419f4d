"""Indicators equal TA-Lib to 1e-9 relative after the warm-up, on real Bybit candles (tests/data)."""

from __future__ import annotations

import numpy as np
import pytest

from cts_desktop.domain import indicators as ind

talib = pytest.importorskip("talib")

RTOL = 1e-9


def same(ours: np.ndarray, ref: np.ndarray, start: int) -> None:
    a, b = ours[start:], ref[start:]
    assert a.size > 100, "too few bars compared"
    assert not np.isnan(a).any() and not np.isnan(b).any()
    np.testing.assert_allclose(a, b, rtol=RTOL, atol=1e-9 * np.abs(b).max())


@pytest.fixture(scope="module", params=["5m", "1m"])
def ohlcv(request: pytest.FixtureRequest, btc5m: np.ndarray, btc1m: np.ndarray) -> tuple[np.ndarray, ...]:
    raw = btc5m if request.param == "5m" else btc1m
    return tuple(np.ascontiguousarray(raw[:, k]) for k in range(1, 6))


def test_sma_ema_rsi(ohlcv: tuple[np.ndarray, ...]) -> None:
    close = ohlcv[3]
    for period in (9, 20, 50):
        same(ind.sma(close, period), talib.SMA(close, period), period - 1)
        same(ind.ema(close, period), talib.EMA(close, period), period - 1)  # same SMA seed: equal from the start
    for period in (7, 14, 21):
        same(ind.rsi(close, period), talib.RSI(close, period), period)


def test_macd_with_signal_line(ohlcv: tuple[np.ndarray, ...]) -> None:
    close = ohlcv[3]
    for fast, slow, sig in ((12, 26, 9), (8, 17, 6)):
        ours = ind.macd(close, fast, slow, sig)
        ref = talib.MACD(close, fast, slow, sig)
        for a, b in zip(ours, ref, strict=True):
            same(a, b, ind.warmup(slow) // 2)
        assert not np.allclose(ours[1], ours[0] * 0.9)  # a real signal line, not a scaled copy


def test_bollinger_stochastic_cci_mfi(ohlcv: tuple[np.ndarray, ...]) -> None:
    _open, high, low, close, volume = ohlcv
    for a, b in zip(ind.bollinger(close, 20, 2.0, 2.0), talib.BBANDS(close, 20, 2.0, 2.0), strict=True):
        same(a, b, 19)
    for a, b in zip(ind.stochastic(high, low, close, 14, 3, 3), talib.STOCH(high, low, close, 14, 3, 0, 3, 0),
                    strict=True):
        same(a, b, 17)
    same(ind.cci(high, low, close, 20), talib.CCI(high, low, close, 20), 19)
    same(ind.mfi(high, low, close, volume, 14), talib.MFI(high, low, close, volume, 14), 14)


def test_wilder_family(ohlcv: tuple[np.ndarray, ...]) -> None:
    _open, high, low, close, _volume = ohlcv
    period = 14
    start = ind.warmup(period)
    same(ind.atr(high, low, close, period), talib.ATR(high, low, close, period), start)
    adx, plus_di, minus_di = ind.directional(high, low, close, period)
    same(plus_di, talib.PLUS_DI(high, low, close, period), start)
    same(minus_di, talib.MINUS_DI(high, low, close, period), start)
    same(adx, talib.ADX(high, low, close, period), start)


def test_parabolic_sar(ohlcv: tuple[np.ndarray, ...]) -> None:
    _open, high, low, _close, _volume = ohlcv
    for accel, cap in ((0.02, 0.2), (0.01, 0.1)):
        same(ind.sar(high, low, accel, cap), talib.SAR(high, low, accel, cap), 1)
