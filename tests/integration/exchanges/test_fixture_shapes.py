"""Recorded real exchange bodies and the simulator's bodies parse through ccxt into the same unified shapes.

Each case takes one recorded body (tests/data/exchange) and the simulator's answer to the same endpoint, runs
both through the same ccxt parser, and checks that every field that matters is filled in both with the same
type — so code written against the simulator sees what it will see from the real exchange.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cts_desktop.exchanges.simulator import SimulatorServer
from tests.integration.exchanges.conftest import point_ccxt_at

DATA = Path(__file__).resolve().parents[2] / "data" / "exchange"

FIELDS = {
    "ticker": ["symbol", "timestamp", "last", "high", "low", "bid", "ask", "percentage", "baseVolume", "quoteVolume"],
    "balance": ["total", "free", "used"],
    "position": ["symbol", "side", "contracts", "entryPrice", "markPrice", "leverage", "unrealizedPnl", "marginMode"],
    "order": ["id", "symbol", "status", "side", "type", "amount", "filled", "timestamp"],
    "trade": ["id", "order", "symbol", "price", "amount", "cost", "timestamp", "fee"],
    "income": ["symbol", "amount", "timestamp", "code"],
}


def _recorded(exchange: str, method: str, description_start: str) -> Any:
    entries = json.loads((DATA / exchange / "responses.json").read_text())["responses"]
    return next(e for e in entries if e["method"] == method and e["description"].startswith(description_start))[
        "httpResponse"
    ]


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _same_shape(kind: str, recorded: dict[str, Any], simulated: dict[str, Any]) -> None:
    """Every listed field is filled (or left empty) alike, and most of them are filled."""
    for name in FIELDS[kind]:
        rec, got = _kind(recorded.get(name)), _kind(simulated.get(name))
        assert rec == got, f"{kind}.{name}: recorded {rec}, simulator {got}"
    filled = [n for n in FIELDS[kind] if recorded.get(n) is not None]
    assert len(filled) >= len(FIELDS[kind]) - 2, f"{kind}: too few fields filled to compare: {filled}"


async def _client(sim: SimulatorServer, exchange: str) -> Any:
    import ccxt.async_support as ccxt

    key = sim.market.create_account(10_000, exchange=exchange)
    ex = getattr(ccxt, exchange)({"apiKey": key.key, "secret": key.secret, "options": {"defaultType": "swap"}})
    point_ccxt_at(ex, sim.base_url)
    ex.options["fetchMarkets"] = {"types": ["linear"]}
    ex.has["fetchCurrencies"] = False
    await ex.load_markets()
    # add the recorded markets (LTC etc.) so the recorded bodies resolve their symbols
    if exchange == "bybit":
        linear = json.loads((DATA / "bybit" / "instruments-info.json").read_text())["linear"]
        envelope = {
            "retCode": 0,
            "retMsg": "OK",
            "result": {"category": "linear", "list": linear, "nextPageCursor": ""},
            "retExtInfo": {},
            "time": 0,
        }

        async def recorded_instruments(params: dict[str, Any] | None = None) -> dict[str, Any]:
            return envelope

        ex.publicGetV5MarketInstrumentsInfo = recorded_instruments  # parse with ccxt's own market code
        extra = await ex.fetch_future_markets({"category": "linear"})
    else:
        extra = list(json.loads((DATA / "bingx" / "markets.json").read_text())["markets"].values())
    ex.set_markets([*extra, *ex.markets.values()])
    return ex


@pytest.mark.asyncio
async def test_bybit_bodies_match_the_recorded_shapes(sim: SimulatorServer) -> None:
    ex = await _client(sim, "bybit")
    try:
        btc, ltc = ex.market("BTC/USDT:USDT"), ex.market("LTC/USDT:USDT")
        rec = ex.parse_ticker(_recorded("bybit", "fetchTicker", "swap ticker")["result"]["list"][0], btc)
        got = await ex.publicGetV5MarketTickers({"category": "linear", "symbol": "BTCUSDT"})
        _same_shape("ticker", rec, ex.parse_ticker(got["result"]["list"][0], btc))

        rec_k = ex.parse_ohlcvs(_recorded("bybit", "fetchOHLCV", "swap ohlcv")["result"]["list"], btc)
        got_k = await ex.publicGetV5MarketKline(
            {"category": "linear", "symbol": "BTCUSDT", "interval": "60", "limit": 3}
        )
        sim_k = ex.parse_ohlcvs(got_k["result"]["list"], btc)
        assert len(rec_k[0]) == len(sim_k[0]) == 6
        assert rec_k[0][0] < rec_k[-1][0] and sim_k[0][0] < sim_k[-1][0]  # both newest-last after parsing

        rec_b = ex.parse_balance(_recorded("bybit", "fetchBalance", "balance after"))["USDC"]
        got_b = await ex.privateGetV5AccountWalletBalance({"accountType": "UNIFIED"})
        _same_shape("balance", rec_b, ex.parse_balance(got_b)["USDT"])

        await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01, None, {"clientOrderId": "shape-1"})
        rec_p = ex.parse_position(_recorded("bybit", "fetchPositions", "Fetch linear")["result"]["list"][0], ltc)
        got_p = await ex.privateGetV5PositionList({"category": "linear", "symbol": "BTCUSDT"})
        _same_shape("position", rec_p, ex.parse_position(got_p["result"]["list"][0], btc))

        price = round(sim.market.price("BTC") * 0.9, 1)
        await ex.create_order("BTC/USDT:USDT", "limit", "buy", 0.01, price, {"clientOrderId": "shape-2"})
        rec_o = ex.parse_order(_recorded("bybit", "fetchOpenOrder", "Fetch an open")["result"]["list"][0], btc)
        got_o = await ex.privateGetV5OrderRealtime({"category": "linear", "symbol": "BTCUSDT"})
        sim_o = ex.parse_order(got_o["result"]["list"][0], btc)
        _same_shape("order", rec_o, sim_o)
        assert rec_o["status"] == sim_o["status"] == "open"

        rec_t = ex.parse_trade(_recorded("bybit", "fetchMyTrades", "swap trades without")["result"]["list"][0], ltc)
        got_t = await ex.privateGetV5ExecutionList({"category": "linear", "symbol": "BTCUSDT"})
        _same_shape("trade", rec_t, ex.parse_trade(got_t["result"]["list"][0], btc))

        sim.market.step(9 * 3_600_000)
        rec_f = ex.parse_incomes(_recorded("bybit", "fetchFundingHistory", "linear funding")["result"]["list"], ltc)
        got_f = await ex.privateGetV5ExecutionList({"category": "linear", "symbol": "BTCUSDT", "execType": "Funding"})
        sim_f = ex.parse_incomes(got_f["result"]["list"], btc)
        _same_shape("income", rec_f[0], sim_f[0])
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_bingx_bodies_match_the_recorded_shapes(sim: SimulatorServer) -> None:
    ex = await _client(sim, "bingx")
    try:
        btc, ltc = ex.market("BTC/USDT:USDT"), ex.market("LTC/USDT:USDT")
        rec = ex.parse_ticker(_recorded("bingx", "fetchTicker", "swap ticker")["data"], btc)
        got = await ex.swapV2PublicGetQuoteTicker({"symbol": "BTC-USDT"})
        _same_shape("ticker", rec, ex.parse_ticker(got["data"], btc))

        rec_k = ex.parse_ohlcvs(
            json.loads((DATA / "bingx" / "jkorf-GetKlines.json").read_text())["response"]["data"], btc
        )
        got_k = await ex.swapV3PublicGetQuoteKlines({"symbol": "BTC-USDT", "interval": "1h", "limit": 3})
        sim_k = ex.parse_ohlcvs(got_k["data"], btc)
        assert len(rec_k[0]) == len(sim_k[0]) == 6 and all(v is not None for v in sim_k[0])

        rec_b = ex.parse_balance(_recorded("bingx", "fetchBalance", "swap fetch balance"))["USDT"]
        got_b = await ex.swapV3PrivateGetUserBalance()
        _same_shape("balance", rec_b, ex.parse_balance(got_b)["USDT"])

        await ex.create_order("BTC/USDT:USDT", "market", "buy", 0.01, None, {"clientOrderId": "shape-1"})
        rec_p = ex.parse_position(_recorded("bingx", "fetchPositions", "fetch position")["data"][0], ltc)
        got_p = await ex.swapV2PrivateGetUserPositions({"symbol": "BTC-USDT"})
        _same_shape("position", rec_p, ex.parse_position(got_p["data"][0], btc))

        rec_o = ex.parse_order(_recorded("bingx", "fetchOrder", "fetch swap order")["data"]["order"], ltc)
        got_o = await ex.swapV2PrivateGetTradeOrder({"symbol": "BTC-USDT", "clientOrderId": "shape-1"})
        sim_o = ex.parse_order(got_o["data"]["order"], btc)
        _same_shape("order", rec_o, sim_o)
        assert rec_o["status"] == sim_o["status"] == "closed"

        rec_t = ex.parse_trade(_recorded("bingx", "fetchMyTrades", "Swap trade (")["data"]["fill_orders"][0], ltc)
        got_t = await ex.swapV2PrivateGetTradeAllFillOrders({"symbol": "BTC-USDT"})
        sim_t = ex.parse_trade(got_t["data"]["fill_orders"][0], btc)
        for name in ("order", "symbol", "price", "amount", "cost", "timestamp", "fee"):  # BingX fills carry no id
            assert rec_t.get(name) is not None and sim_t.get(name) is not None, name

        sim.market.step(9 * 3_600_000)
        rec_f = ex.parse_incomes(_recorded("bingx", "fetchFundingHistory", "funding")["data"], ltc)
        got_f = await ex.swapV2PrivateGetUserIncome({"symbol": "BTC-USDT", "incomeType": "FUNDING_FEE"})
        _same_shape("income", rec_f[0], ex.parse_incomes(got_f["data"], btc)[0])
    finally:
        await ex.close()
