"""The simulator's BingX user-data stream: listen keys over REST (create / extend / delete, refusals) and the account
events on ``/swap-market?listenKey=``, read raw and by stock ccxt.pro (``watch_orders``, ``watch_my_trades``,
``watch_positions``), its URLs changed to the simulator only."""

from __future__ import annotations

import asyncio
import gzip
import json
from typing import Any

import aiohttp
import pytest

from cts_desktop.exchanges.simulator import SimulatorServer
from tests.helpers.waiting import until
from tests.integration.exchanges.conftest import stock_client

SYMBOL = "BTC/USDT:USDT"


async def _pro(sim: SimulatorServer, balance: float = 10_000) -> Any:
    ex, _ = stock_client(sim, "bingx", balance, streams=True)
    await ex.load_markets()
    return ex


def _stream_url(sim: SimulatorServer, listen_key: str) -> str:
    return sim.base_url.replace("http://", "ws://", 1) + "/swap-market?listenKey=" + listen_key


async def _events(ws: aiohttp.ClientWebSocketResponse, wanted: int, kind: str) -> list[dict[str, Any]]:
    """Read gzip frames until ``wanted`` events of type ``kind`` came (Ping frames and others skipped)."""
    found: list[dict[str, Any]] = []
    while len(found) < wanted:
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.BINARY
        text = gzip.decompress(msg.data).decode()
        if text == "Ping":
            continue
        body = json.loads(text)
        if body.get("e") == kind:
            found.append(body)
    return found


@pytest.mark.asyncio
async def test_listen_key_create_extend_delete_and_refusals(sim: SimulatorServer) -> None:
    import ccxt.async_support as ccxt

    ex = await _pro(sim)
    other = await _pro(sim)
    try:
        created = await ex.userAuthPrivatePostUserDataStream()
        key = created["listenKey"]
        assert set(created) == {"listenKey"} and len(key) == 64
        assert sim.bingx_api.listen_keys.valid(key) is not None
        first_expiry = sim.bingx_api.listen_keys.keys[key].expires_ms
        sim.set_clock_offset(60_000)  # a minute on the venue's clock, then extend: 60 minutes from then
        await ex.userAuthPrivatePutUserDataStream({"listenKey": key, "recvWindow": 120_000})
        assert sim.bingx_api.listen_keys.keys[key].expires_ms >= first_expiry + 60_000
        with pytest.raises(ccxt.BaseError):  # another account's key is not found for this one
            await other.userAuthPrivatePutUserDataStream({"listenKey": key, "recvWindow": 120_000})
        await ex.userAuthPrivateDeleteUserDataStream({"listenKey": key, "recvWindow": 120_000})
        assert sim.bingx_api.listen_keys.valid(key) is None
        with pytest.raises(ccxt.BaseError):  # deleted: extending it is refused (404)
            await ex.userAuthPrivatePutUserDataStream({"listenKey": key, "recvWindow": 120_000})
    finally:
        await ex.close()
        await other.close()


@pytest.mark.asyncio
async def test_a_stream_with_an_unknown_listen_key_is_closed(sim: SimulatorServer) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(_stream_url(sim, "0" * 64)) as ws:
        msg = await ws.receive(timeout=5)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        assert ws.close_code == 1008


@pytest.mark.asyncio
async def test_an_expired_listen_key_is_announced_and_the_stream_closed(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        key = (await ex.userAuthPrivatePostUserDataStream())["listenKey"]
        async with aiohttp.ClientSession() as session, session.ws_connect(_stream_url(sim, key)) as ws:
            sim.set_clock_offset(61 * 60_000)  # the venue's clock passes the key's 60 minutes
            (expired,) = await _events(ws, 1, "listenKeyExpired")
            assert expired["listenKey"] == key and isinstance(expired["E"], int)
            msg = await ws.receive(timeout=5)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_order_and_account_events_come_raw_in_the_venue_shape(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        key = (await ex.userAuthPrivatePostUserDataStream())["listenKey"]
        async with aiohttp.ClientSession() as session, session.ws_connect(_stream_url(sim, key)) as ws:
            await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "raw-1"})
            new, trade = await _events(ws, 2, "ORDER_TRADE_UPDATE")
            (account,) = await _events(ws, 1, "ACCOUNT_UPDATE")
        order = next(iter(sim.market.keyring.keys[ex.apiKey].account.orders.values()))
        assert (new["o"]["x"], new["o"]["X"], trade["o"]["x"], trade["o"]["X"]) == ("NEW", "NEW", "TRADE", "FILLED")
        assert trade["o"]["i"] == int(order.order_id) and isinstance(trade["o"]["i"], int)
        assert trade["o"]["c"] == "raw-1" and float(trade["o"]["z"]) == pytest.approx(0.01)
        assert float(trade["o"]["ap"]) == pytest.approx(order.avg_price)
        assert float(trade["o"]["n"]) == pytest.approx(-order.fee)
        balance = account["a"]["B"][0]
        assert account["a"]["m"] == "ORDER" and balance["a"] == "USDT"
        assert float(balance["wb"]) == pytest.approx(sim.market.keyring.keys[ex.apiKey].account.wallet)
        (pos,) = account["a"]["P"]
        assert (pos["s"], pos["ps"]) == ("BTC-USDT", "LONG") and float(pos["pa"]) == pytest.approx(0.01)
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_ccxt_pro_watch_orders_sees_a_resting_order_then_its_cancel(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        watching = asyncio.ensure_future(ex.watch_orders(SYMBOL))
        await until(lambda: sim.bingx_ws.connections == 1, 10, "the user-data connection")
        price = round(sim.market.price("BTC") * 0.9, 1)
        placed = await ex.create_order(SYMBOL, "limit", "buy", 0.01, price, {"clientOrderId": "wo-1"})
        orders = await asyncio.wait_for(watching, 10)
        assert (orders[-1]["id"], orders[-1]["status"], orders[-1]["price"]) == (placed["id"], "open", price)
        await ex.cancel_order(placed["id"], SYMBOL)
        orders = await asyncio.wait_for(ex.watch_orders(SYMBOL), 10)
        assert (orders[-1]["id"], orders[-1]["status"]) == (placed["id"], "canceled")
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_ccxt_pro_watch_my_trades_gets_the_fill_of_a_resting_order(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        watching = asyncio.ensure_future(ex.watch_my_trades(SYMBOL))
        await until(lambda: sim.bingx_ws.connections == 1, 10, "the user-data connection")
        account = sim.market.keyring.keys[ex.apiKey].account
        price = round(sim.market.price("BTC") * 1.0005, 1)  # a sell limit just above: the path reaches it
        await ex.create_order(SYMBOL, "limit", "sell", 0.01, price, {"clientOrderId": "mt-1"})

        def filled_after_a_minute() -> bool:
            sim.market.step(60_000)
            return bool(account.executions)

        await until(filled_after_a_minute, 30, "the market to reach the sell limit")
        trades = await asyncio.wait_for(watching, 10)
        fill = account.executions[0]
        assert (trades[-1]["order"], trades[-1]["side"]) == (fill.order_id, "sell")
        assert (trades[-1]["price"], trades[-1]["amount"]) == (pytest.approx(fill.price), pytest.approx(0.01))
        assert trades[-1]["fee"]["cost"] == pytest.approx(fill.fee)
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_ccxt_pro_watch_positions_follows_open_and_close(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        watching = asyncio.ensure_future(ex.watch_positions([SYMBOL]))
        await until(lambda: sim.bingx_ws.connections == 1, 10, "the user-data connection")
        await ex.create_order(SYMBOL, "market", "buy", 0.02)
        opened = await asyncio.wait_for(watching, 10)
        assert opened[-1]["contracts"] == pytest.approx(0.02) and opened[-1]["side"] == "long"
        assert opened[-1]["entryPrice"] == pytest.approx(sim.market.price("BTC"))
        await ex.create_order(SYMBOL, "market", "sell", 0.02, None, {"reduceOnly": True})
        closed = await asyncio.wait_for(ex.watch_positions([SYMBOL]), 10)
        assert closed[-1]["contracts"] == 0
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_leverage_and_margin_mode_changes_are_pushed(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        key = (await ex.userAuthPrivatePostUserDataStream())["listenKey"]
        async with aiohttp.ClientSession() as session, session.ws_connect(_stream_url(sim, key)) as ws:
            await ex.set_leverage(7, SYMBOL, {"side": "BOTH"})
            (leverage,) = await _events(ws, 1, "ACCOUNT_CONFIG_UPDATE")
            await ex.set_margin_mode("isolated", SYMBOL)
            (margin,) = await _events(ws, 1, "ACCOUNT_CONFIG_UPDATE")
        assert leverage["ac"] == {"s": "BTC-USDT", "l": 7, "S": 7, "mt": "cross"}
        assert margin["ac"] == {"s": "BTC-USDT", "l": 7, "S": 7, "mt": "isolated"}
    finally:
        await ex.close()
