"""Symbol ranking/choice (pure), simulator request signing, and the request limiter."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.limiter import RequestLimiter
from cts_desktop.exchanges.models import Ticker
from cts_desktop.exchanges.simulator.account import Account
from cts_desktop.exchanges.simulator.auth import ApiKey, AuthFailure, KeyRing, sign
from cts_desktop.exchanges.symbols import SymbolOrder, SymbolSelectionConfig, choose, rank, volatility


def _t(symbol: str, volume: float, change: float) -> Ticker:
    return Ticker(symbol, 1.0, None, None, change, volume, None, None, None)


TICKERS = {
    "A/USDT:USDT": _t("A/USDT:USDT", 5, -9),
    "B/USDT:USDT": _t("B/USDT:USDT", 9, 1),
    "C/USDT:USDT": _t("C/USDT:USDT", 1, 4),
}
BY_BASE = {"A": "A/USDT:USDT", "B": "B/USDT:USDT", "C": "C/USDT:USDT"}


def test_rank_orders() -> None:
    syms = list(TICKERS)
    assert [s for s, _ in rank(syms, SymbolOrder.VOLUME_24H, TICKERS)] == ["B/USDT:USDT", "A/USDT:USDT", "C/USDT:USDT"]
    assert next(s for s, _ in rank(syms, SymbolOrder.CHANGE_24H, TICKERS)) == "A/USDT:USDT"  # |−9 %| largest
    vol = {"C/USDT:USDT": 0.3, "A/USDT:USDT": 0.1}
    assert next(s for s, _ in rank(syms, SymbolOrder.VOLATILITY, TICKERS, vol)) == "C/USDT:USDT"
    assert [s for s, _ in rank(syms, SymbolOrder.ALPHABETICAL, {})] == sorted(syms)


def test_choose_puts_forced_first_and_main_mode_uses_main_only() -> None:
    ranked = rank(list(TICKERS), SymbolOrder.VOLUME_24H, TICKERS)
    assert choose(BY_BASE, ranked, SymbolSelectionConfig(count=1, forced=("C", "Z"))) == ["C/USDT:USDT", "B/USDT:USDT"]
    cfg = SymbolSelectionConfig(use_main_symbols=True, main=("A", "Q"), forced=("C",))
    assert choose(BY_BASE, ranked, cfg) == ["C/USDT:USDT", "A/USDT:USDT"]


def test_volatility_is_the_stdev_of_returns() -> None:
    assert volatility([1.0, 1.0, 1.0]) == 0
    closes = [100, 101, 100, 101]
    returns = [1 / 100, 100 / 101 - 1, 1 / 100]
    assert volatility(closes) == pytest.approx(statistics.stdev(returns))


def test_bybit_and_bingx_signatures() -> None:
    ring = KeyRing()
    ring.add(ApiKey("key1", "sec1", Account({}, 0, 0, 0)))
    ts = 1_700_000_000_000
    query = "category=linear&symbol=BTCUSDT"
    good = {
        "X-BAPI-API-KEY": "key1",
        "X-BAPI-TIMESTAMP": str(ts),
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": sign("sec1", f"{ts}key15000{query}"),
    }
    assert isinstance(ring.check_bybit(good, query, ts + 10, "127.0.0.1"), ApiKey)
    assert ring.check_bybit(good, query + "&x=1", ts, "127.0.0.1") is AuthFailure.BAD_SIGNATURE
    assert ring.check_bybit(good, query, ts + 6_000, "127.0.0.1") is AuthFailure.TIMESTAMP
    assert ring.check_bybit({**good, "X-BAPI-API-KEY": "nope"}, query, ts, "127.0.0.1") is AuthFailure.UNKNOWN_KEY
    raw = f"symbol=BTC-USDT&timestamp={ts}"
    signed = f"{raw}&signature={sign('sec1', raw)}"
    params = {"symbol": "BTC-USDT", "timestamp": str(ts)}
    assert isinstance(ring.check_bingx("key1", signed, params, ts, "127.0.0.1"), ApiKey)
    assert ring.check_bingx("key1", signed.replace("BTC", "ETH"), params, ts, None) is AuthFailure.BAD_SIGNATURE
    ring.keys["key1"].allowed_ips = ["10.0.0.1"]
    assert ring.check_bingx("key1", signed, params, ts, "127.0.0.1") is AuthFailure.IP_NOT_ALLOWED


def test_limiter_holds_the_per_second_ceiling() -> None:
    async def burst() -> float:
        limiter = RequestLimiter(RateLimit(per_second=5, per_minute=1000, concurrent=2))
        started = time.monotonic()
        for _ in range(7):
            async with limiter.slot():
                pass
        return time.monotonic() - started

    elapsed = asyncio.run(burst())
    assert 0.9 <= elapsed < 2.5
