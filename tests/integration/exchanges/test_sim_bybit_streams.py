"""Bybit websockets of the simulator through stock ccxt.pro (URLs pointed at 127.0.0.1 only) and raw frames."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.auth import ApiKey
from cts_desktop.exchanges.simulator.bybit_ws_private import auth_signature
from tests.helpers.waiting import until
from tests.integration.exchanges.conftest import stock_client

SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture
async def pro(sim: SimulatorServer) -> AsyncIterator[tuple[Any, ApiKey]]:
    client, key = stock_client(sim, "bybit", streams=True)
    try:
        yield client, key
    finally:
        await client.close()


async def _next(coro: Any, timeout: float = 10) -> Any:
    return await asyncio.wait_for(coro, timeout)


@pytest.mark.asyncio
async def test_watch_orders_and_my_trades_see_a_fill(sim: SimulatorServer, pro: tuple[Any, ApiKey]) -> None:
    client, key = pro
    orders_task = asyncio.create_task(_next(client.watch_orders(SYMBOL)))
    trades_task = asyncio.create_task(_next(client.watch_my_trades(SYMBOL)))
    await until(lambda: sim.private_ws.connections >= 1 and any(s.topics for s in sim.private_ws.sessions), 10,
                "the private stream subscribed")
    await until(lambda: all(len(s.topics) >= 2 for s in sim.private_ws.sessions), 10, "order and execution topics")
    placed = await client.create_order(SYMBOL, "market", "buy", 0.01, params={"orderLinkId": "stream-fill-1"})
    orders = await orders_task
    trades = await trades_task
    assert orders[-1]["id"] == placed["id"]
    assert orders[-1]["clientOrderId"] == "stream-fill-1"
    assert orders[-1]["status"] == "closed" and orders[-1]["filled"] == pytest.approx(0.01)
    sim_exec = key.account.executions[-1]
    assert trades[-1]["order"] == placed["id"]
    assert trades[-1]["price"] == pytest.approx(sim_exec.price)
    assert trades[-1]["amount"] == pytest.approx(0.01)
    assert trades[-1]["fee"]["cost"] == pytest.approx(sim_exec.fee)


@pytest.mark.asyncio
async def test_edit_order_on_ccxt_pro_is_pushed_to_watch_orders(sim: SimulatorServer, pro: tuple[Any, ApiKey]) -> None:
    client, key = pro
    last = sim.market.price("BTC")
    placed = await client.create_order(SYMBOL, "limit", "sell", 0.01, round(last * 1.2, 1),
                                       params={"orderLinkId": "stream-amend-1"})
    watching = asyncio.create_task(_next(client.watch_orders(SYMBOL)))
    await until(lambda: any("order" in s.topics for s in sim.private_ws.sessions), 10, "order topic")
    new_price = round(last * 1.1, 1)
    edited = await client.edit_order(placed["id"], SYMBOL, "limit", "sell", 0.02, new_price)
    assert edited["id"] == placed["id"]
    pushed = (await watching)[-1]
    assert (pushed["id"], pushed["amount"], pushed["price"], pushed["status"]) == (placed["id"], 0.02, new_price,
                                                                                    "open")
    assert (key.account.orders[placed["id"]].qty, key.account.orders[placed["id"]].price) == (0.02, new_price)


@pytest.mark.asyncio
async def test_watch_positions_follows_the_account(sim: SimulatorServer, pro: tuple[Any, ApiKey]) -> None:
    client, key = pro
    await client.set_margin_mode("isolated", SYMBOL)  # the liquidation price then depends on the position alone
    first = await _next(client.watch_positions([SYMBOL]))  # the REST snapshot ccxt loads first
    assert all(p["contracts"] in (0, None) for p in first)
    watching = asyncio.create_task(_next(client.watch_positions([SYMBOL])))
    await until(lambda: any("position" in s.topics for s in sim.private_ws.sessions), 10, "position topic")
    await client.create_order(SYMBOL, "market", "buy", 0.02, params={"orderLinkId": "stream-pos-1"})
    positions = await watching
    pos = next(p for p in positions if p["symbol"] == SYMBOL)
    sim_pos = key.account.position("BTC", 0)
    assert pos["contracts"] == pytest.approx(sim_pos.size) and pos["side"] == "long"
    assert pos["entryPrice"] == pytest.approx(sim_pos.entry)
    leverage = key.account.leverage_of("BTC")
    assert pos["liquidationPrice"] == pytest.approx(sim_pos.entry * (1 - (1 / leverage - 0.005)), rel=1e-4)


@pytest.mark.asyncio
async def test_watch_ohlcv_gives_the_current_candle(sim: SimulatorServer, pro: tuple[Any, ApiKey]) -> None:
    client, _ = pro
    candles = await _next(client.watch_ohlcv(SYMBOL, "5m"))
    now = sim.market.now()
    assert candles[-1][0] == now - now % 300_000
    assert candles[-1][4] == pytest.approx(sim.market.price("BTC"))
    before = list(candles[-1])
    sim.market.step(3_600_000)  # the market moves: the open candle follows, as REST shows it
    rest = await client.fetch_ohlcv(SYMBOL, "5m", limit=1)
    await until(lambda: client.ohlcvs[SYMBOL]["5m"][-1] == rest[-1], 10, "the stream's candle as REST's")
    assert rest[-1] != before


@pytest.mark.asyncio
async def test_watch_order_book_snapshot_then_deltas(sim: SimulatorServer, pro: tuple[Any, ApiKey]) -> None:
    client, _ = pro
    book = await _next(client.watch_order_book(SYMBOL, 50))
    price = sim.market.price("BTC")
    assert len(book["bids"]) == 50 and len(book["asks"]) == 50
    assert book["asks"][0][0] == pytest.approx(price) and book["bids"][0][0] < book["asks"][0][0]
    sim.market.step(3_600_000)
    moved = sim.market.price("BTC")
    assert moved != price
    await until(lambda: client.orderbooks[SYMBOL]["asks"][0][0] == pytest.approx(moved), 10, "the book follows")
    book = client.orderbooks[SYMBOL]
    assert len(book["asks"]) == 50 and len(book["bids"]) == 50  # deltas removed the levels that left the book
    assert book["bids"][0][0] < book["asks"][0][0]


# ---- raw frames: what ccxt does not show -----------------------------------------------------------------------
async def _ws(sim: SimulatorServer, path: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse]:
    session = aiohttp.ClientSession()
    return session, await session.ws_connect(sim.base_url.replace("http", "ws") + path)


async def _recv(ws: aiohttp.ClientWebSocketResponse, match: Any, timeout: float = 10) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = json.loads((await ws.receive()).data)
            if match(msg):
                return msg

    return await asyncio.wait_for(loop(), timeout)


@pytest.mark.asyncio
async def test_public_subscribe_answers_each_topic(sim: SimulatorServer) -> None:
    session, ws = await _ws(sim, "/v5/public/linear")
    try:
        await ws.send_json({"op": "subscribe", "req_id": "7", "args": ["tickers.BTCUSDT", "nonsense.BTCUSDT"]})
        ok = await _recv(ws, lambda m: m.get("op") == "subscribe" and m["success"])
        bad = await _recv(ws, lambda m: m.get("op") == "subscribe" and not m["success"])
        assert ok["req_id"] == "7" and bad["ret_msg"] == "Invalid topic: nonsense.BTCUSDT"
        snap = await _recv(ws, lambda m: m.get("topic") == "tickers.BTCUSDT")
        assert snap["type"] == "snapshot" and snap["data"]["tickDirection"] in ("ZeroPlusTick", "PlusTick")
        sim.market.step(3_600_000)
        delta = await _recv(ws, lambda m: m.get("topic") == "tickers.BTCUSDT")
        assert delta["type"] == "delta" and set(delta["data"]) < set(snap["data"]) | {"symbol"}
        assert delta["data"]["tickDirection"] in ("PlusTick", "MinusTick")
        assert float(delta["data"]["lastPrice"]) == pytest.approx(sim.market.price("BTC"))
    finally:
        await ws.close()
        await session.close()


@pytest.mark.asyncio
async def test_orderbook_update_ids_and_trades(sim: SimulatorServer) -> None:
    session, ws = await _ws(sim, "/v5/public/linear")
    try:
        await ws.send_json({"op": "subscribe", "args": ["orderbook.1.BTCUSDT", "publicTrade.BTCUSDT"]})
        snap = await _recv(ws, lambda m: m.get("topic") == "orderbook.1.BTCUSDT")
        sim.market.step(3_600_000)
        delta = await _recv(ws, lambda m: m.get("topic") == "orderbook.1.BTCUSDT")
        trade = await _recv(ws, lambda m: m.get("topic") == "publicTrade.BTCUSDT")
        assert snap["type"] == "snapshot" and delta["type"] == "delta"
        assert delta["data"]["u"] == snap["data"]["u"] + 1 and delta["data"]["seq"] > snap["data"]["seq"]
        assert float(trade["data"][0]["p"]) == pytest.approx(sim.market.price("BTC"))
        assert trade["data"][0]["L"] in ("PlusTick", "MinusTick")
    finally:
        await ws.close()
        await session.close()


@pytest.mark.asyncio
async def test_private_auth_refusals_and_topics(sim: SimulatorServer) -> None:
    key = sim.market.create_account(1_000, exchange="bybit")
    session, ws = await _ws(sim, "/v5/private")
    try:
        await ws.send_json({"op": "subscribe", "args": ["order"]})
        early = await _recv(ws, lambda m: m.get("op") == "subscribe")
        assert early["success"] is False  # nothing private before auth
        expires = str(sim.market.wall_ms() + 10_000)
        await ws.send_json({"op": "auth", "args": ["nokey", expires, "x"]})
        unknown = await _recv(ws, lambda m: m.get("op") == "auth")
        assert (unknown["success"], unknown["retCode"], unknown["retMsg"]) == (False, 10003, "Invalid apikey")
        await ws.send_json({"op": "auth", "args": [key.key, expires, auth_signature("wrong", expires)]})
        assert (await _recv(ws, lambda m: m.get("op") == "auth"))["retCode"] == 10004
        past = str(sim.market.wall_ms() - 1)
        await ws.send_json({"op": "auth", "args": [key.key, past, auth_signature(key.secret, past)]})
        assert (await _recv(ws, lambda m: m.get("op") == "auth"))["retCode"] == 10002
        good = [key.key, expires, auth_signature(key.secret, expires)]
        await ws.send_json({"op": "auth", "req_id": "a", "args": good})
        ok = await _recv(ws, lambda m: m.get("op") == "auth")
        assert ok["success"] is True and ok["ret_msg"] == ""
        await ws.send_json({"op": "subscribe", "args": ["wallet", "greeks"]})
        answers = [await _recv(ws, lambda m: m.get("op") == "subscribe") for _ in range(2)]
        assert [a["success"] for a in answers] == [True, False]
        key.account.wallet += 5  # a balance change is pushed
        sim.private_ws.notify()
        wallet = await _recv(ws, lambda m: m.get("topic") == "wallet")
        assert float(wallet["data"][0]["totalWalletBalance"]) == pytest.approx(1_005)
    finally:
        await ws.close()
        await session.close()
