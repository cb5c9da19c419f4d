"""Indicators equal TA-Lib (DOMAIN Part 1 §8), for every indicator of domain/indicators.py, on every candle series
of ../shared/data/candles (all symbols and timeframes, .csv and .csv.gz) and on the slices in tests/data.

Equal means: NaN exactly where TA-Lib has NaN (so the same first value), and every value within 1e-9 relative,
or 1e-9 absolute where either value is exactly zero. The parameters are each indicator's default, the smallest and
largest the settings allow and some between. (With TA-Lib 0.8.2 most lines are equal to the last bit; RSI, ATR
and the Bollinger bands differ by a few ulps.)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from inspect import getmembers, isfunction
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest

from cts_desktop.domain import indicators as ind
from tests.helpers.shared_data import candle_files, missing_reason

talib = pytest.importorskip("talib")

TOL = 1e-9
DATA = Path(__file__).resolve().parents[2] / "data"


class Candles(NamedTuple):
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray


@cache
def candles(path: Path) -> Candles:
    raw = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)  # .gz is read as gzip
    return Candles(*(np.ascontiguousarray(raw[:, k]) for k in range(1, 6)))


Lines = Callable[[Candles, tuple[Any, ...]], Sequence[np.ndarray] | np.ndarray]

# indicator: (parameter sets, ours, TA-Lib's); parameters within the settings' ranges (settings_schema)
CASES: dict[str, tuple[list[tuple[Any, ...]], Lines, Lines]] = {
    "sma": ([(2,), (20,), (50,), (200,)], lambda b, p: ind.sma(b.close, *p), lambda b, p: talib.SMA(b.close, *p)),
    "ema": ([(2,), (9,), (21,), (200,)], lambda b, p: ind.ema(b.close, *p), lambda b, p: talib.EMA(b.close, *p)),
    "rsi": ([(2,), (14,), (21,), (100,)], lambda b, p: ind.rsi(b.close, *p), lambda b, p: talib.RSI(b.close, *p)),
    "macd": (
        [(12, 26, 9), (2, 3, 2), (6, 13, 5), (18, 39, 13), (50, 100, 50)],
        lambda b, p: ind.macd(b.close, *p),
        lambda b, p: talib.MACD(b.close, *p),
    ),
    "bollinger": (
        [(20, 2.0), (5, 0.5), (26, 2.5), (100, 4.0)],
        lambda b, p: ind.bollinger(b.close, p[0], p[1], p[1]),
        lambda b, p: talib.BBANDS(b.close, p[0], p[1], p[1], 0),
    ),
    "stochastic": (  # (k, slowing, d)
        [(14, 3, 3), (2, 1, 1), (7, 2, 2), (21, 4, 4), (50, 10, 10)],
        lambda b, p: ind.stochastic(b.high, b.low, b.close, *p),
        lambda b, p: talib.STOCH(b.high, b.low, b.close, p[0], p[1], 0, p[2], 0),
    ),
    "true_range": (
        [()],
        lambda b, p: ind.true_range(b.high, b.low, b.close),
        lambda b, p: talib.TRANGE(b.high, b.low, b.close),
    ),
    "atr": (
        [(14,), (2,), (50,)],
        lambda b, p: ind.atr(b.high, b.low, b.close, *p),
        lambda b, p: talib.ATR(b.high, b.low, b.close, *p),
    ),
    "directional": (
        [(14,), (2,), (7,), (50,)],
        lambda b, p: ind.directional(b.high, b.low, b.close, *p),
        lambda b, p: tuple(f(b.high, b.low, b.close, *p) for f in (talib.ADX, talib.PLUS_DI, talib.MINUS_DI)),
    ),
    "sar": (
        [(0.02, 0.2), (0.005, 0.05), (0.05, 0.05), (0.1, 1.0)],
        lambda b, p: ind.sar(b.high, b.low, *p),
        lambda b, p: talib.SAR(b.high, b.low, *p),
    ),
    "cci": (
        [(20,), (2,), (100,)],
        lambda b, p: ind.cci(b.high, b.low, b.close, *p),
        lambda b, p: talib.CCI(b.high, b.low, b.close, *p),
    ),
    "mfi": (
        [(14,), (2,), (100,)],
        lambda b, p: ind.mfi(b.high, b.low, b.close, b.volume, *p),
        lambda b, p: talib.MFI(b.high, b.low, b.close, b.volume, *p),
    ),
}


def _series() -> list[Any]:
    own = [pytest.param(p, id=f"tests-data/{p.name}") for p in sorted(DATA.glob("*.csv*"))]
    shared = [pytest.param(p, id=p.name) for p in candle_files()]
    if not shared:
        shared = [pytest.param(None, id="shared-data", marks=pytest.mark.skip(reason=missing_reason("TA-Lib test")))]
    return own + shared


def _lines(value: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
    return [value] if isinstance(value, np.ndarray) else list(value)


def assert_equal_to_talib(ours: np.ndarray, ref: np.ndarray, label: str) -> None:
    assert ours.shape == ref.shape, label
    nan = np.isnan(ref)
    assert (np.isnan(ours) == nan).all(), (
        f"{label}: NaN at {np.flatnonzero(np.isnan(ours) != nan)[:5]} (first value "
        f"{np.argmin(np.isnan(ours))} vs TA-Lib's {np.argmin(nan)})"
    )
    a, b = ours[~nan], ref[~nan]
    diff = np.abs(a - b)
    bad = np.flatnonzero(diff > np.where((a == 0) | (b == 0), TOL, TOL * np.abs(b)))
    assert bad.size == 0, (
        f"{label}: {bad.size} values differ, first at bar {np.flatnonzero(~nan)[bad[0]]}: "
        f"{a[bad[0]]!r} vs TA-Lib's {b[bad[0]]!r}"
    )


def assert_indicator_equals_talib(bars: Candles, indicator: str, where: str = "") -> None:
    params, ours, theirs = CASES[indicator]
    for p in params:
        for k, (a, b) in enumerate(zip(_lines(ours(bars, p)), _lines(theirs(bars, p)), strict=True)):
            assert_equal_to_talib(a, b, f"{indicator}{p} line {k}{where}")


@pytest.mark.parametrize("series", _series())
@pytest.mark.parametrize("indicator", sorted(CASES))
def test_equals_talib(series: Path, indicator: str) -> None:
    assert_indicator_equals_talib(candles(series), indicator)


def test_short_series_equal_talib() -> None:
    """From no bar to a few beyond the first values: nothing but NaN until TA-Lib has a value (the live engine
    computes on the candles it has so far)."""
    bars = candles(DATA / "bybit_BTCUSDT-PERP_5m_20251006.csv")
    for n in range(0, 120, 3):
        head = Candles(*(np.ascontiguousarray(x[:n]) for x in bars))
        for indicator in CASES:
            assert_indicator_equals_talib(head, indicator, f" on {n} bars")


def test_every_indicator_is_compared() -> None:
    public = {name for name, fn in getmembers(ind, isfunction) if fn.__module__ == ind.__name__ and name[0] != "_"}
    assert public == set(CASES)


def test_mfi_counts_a_decimal_tie_as_no_change() -> None:
    """Bars 1 and 2 both have H + L + C = 0.6 in decimal, but 0.6 and 0.6000000000000001 in binary: bar 2 is no
    change, so its flow (however large) is neither positive nor negative, as in TA-Lib."""
    high = np.array([0.5, 0.4, 0.3, 0.5, 0.4])
    low = np.array([0.2, 0.1, 0.1, 0.2, 0.1])
    close = np.array([0.3, 0.1, 0.2, 0.4, 0.2])
    volume = np.array([1.0, 1.0, 1e6, 1.0, 1.0])
    assert high[2] + low[2] + close[2] > high[1] + low[1] + close[1]
    got = ind.mfi(high, low, close, volume, 2)
    np.testing.assert_array_equal(got[:4], [np.nan, np.nan, 0.0, 100.0])  # bar 1 fell, bar 2 no flow, bar 3 rose
    np.testing.assert_array_equal(got, talib.MFI(high, low, close, volume, 2))
