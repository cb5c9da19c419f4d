"""The simulator's BingX swap public websocket (``/swap-market``): the venue's wire protocol (gzip frames, Ping/Pong,
sub/unsub answers) read with a plain websocket client, and stock ccxt.pro watching candles, book, ticker and trades
(its URLs changed to the simulator only)."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from cts_desktop.exchanges.adapter import point_at
from cts_desktop.exchanges.simulator import SimulatorServer
from tests.helpers.waiting import until

SYMBOL = "BTC/USDT:USDT"


def _ws_url(sim: SimulatorServer) -> str:
    return sim.base_url.replace("http://", "ws://", 1) + "/swap-market"


async def _next(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> Any:
    """The next server frame, un-gzipped (JSON decoded when it is JSON); every frame must be binary gzip."""
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.BINARY, f"expected a gzip binary frame, got {msg.type}"
    text = gzip.decompress(msg.data).decode()
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _until_answer(ws: aiohttp.ClientWebSocketResponse, req_id: str) -> dict[str, Any]:
    while True:
        body = await _next(ws)
        if isinstance(body, dict) and body.get("id") == req_id:
            return body


async def _until_data(ws: aiohttp.ClientWebSocketResponse, data_type: str) -> dict[str, Any]:
    while True:
        body = await _next(ws)
        if isinstance(body, dict) and body.get("dataType") == data_type:
            return body


@pytest_asyncio.fixture
async def raw(sim: SimulatorServer) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    async with aiohttp.ClientSession() as session, session.ws_connect(_ws_url(sim)) as ws:
        yield ws


@pytest.mark.asyncio
async def test_subscribe_is_answered_and_data_comes_gzipped_in_the_recorded_shape(
    sim: SimulatorServer, raw: aiohttp.ClientWebSocketResponse
) -> None:
    await raw.send_str(json.dumps({"id": "k1", "reqType": "sub", "dataType": "BTC-USDT@kline_1m"}))
    assert await _until_answer(raw, "k1") == {"id": "k1", "code": 0, "msg": ""}
    push = await _until_data(raw, "BTC-USDT@kline_1m")
    assert push["code"] == 0 and push["s"] == "BTC-USDT"
    candle = push["data"][0]
    assert set(candle) == {"c", "o", "h", "l", "v", "T"}
    assert float(candle["c"]) == pytest.approx(sim.market.price("BTC"))
    assert candle["T"] % 60_000 == 0  # the candle's open time


@pytest.mark.asyncio
async def test_an_unknown_data_type_is_refused_and_nothing_is_pushed_for_it(
    sim: SimulatorServer, raw: aiohttp.ClientWebSocketResponse
) -> None:
    await raw.send_str(json.dumps({"id": "bad", "reqType": "sub", "dataType": "BTC-USDT@kline_7m"}))
    answer = await _until_answer(raw, "bad")
    assert (answer["code"], answer["msg"]) == (80014, "Invalid parameter")
    await raw.send_str(json.dumps({"id": "ok", "reqType": "sub", "dataType": "BTC-USDT@lastPrice"}))
    await _until_answer(raw, "ok")
    push = await _until_data(raw, "BTC-USDT@lastPrice")
    assert push["data"]["e"] == "lastPriceUpdate"


@pytest.mark.asyncio
async def test_the_server_pings_and_counts_the_clients_pong(sim: SimulatorServer) -> None:
    sim.bingx_ws.ping_interval_s = 0.1
    async with aiohttp.ClientSession() as session, session.ws_connect(_ws_url(sim)) as ws:
        while (await _next(ws)) != "Ping":
            pass
        await ws.send_str("Pong")
        await until(lambda: sim.bingx_ws.pongs == 1, 5, "the simulator to receive the Pong")


@pytest.mark.asyncio
async def test_unsubscribed_data_stops(sim: SimulatorServer, raw: aiohttp.ClientWebSocketResponse) -> None:
    await raw.send_str(json.dumps({"id": "s", "reqType": "sub", "dataType": "BTC-USDT@ticker"}))
    await _until_data(raw, "BTC-USDT@ticker")
    await raw.send_str(json.dumps({"id": "u", "reqType": "unsub", "dataType": "BTC-USDT@ticker"}))
    await _until_answer(raw, "u")
    await raw.send_str(json.dumps({"id": "e", "reqType": "sub", "dataType": "ETH-USDT@ticker"}))
    await _until_answer(raw, "e")
    await _until_data(raw, "ETH-USDT@ticker")
    sim.market.step(5 * 60_000)  # both prices move: only ETH is pushed again
    seen: list[str] = []
    while "ETH-USDT@ticker" not in seen:
        body = await _next(raw)
        seen.append(body.get("dataType", "") if isinstance(body, dict) else body)
    assert "BTC-USDT@ticker" not in seen


async def _pro(sim: SimulatorServer) -> Any:
    import ccxt.pro as ccxtpro

    ex = ccxtpro.bingx()
    point_at(ex, sim.base_url + "/openApi", sim.base_url.replace("http://", "ws://", 1))
    ex.options["defaultType"] = "swap"
    await ex.load_markets()
    return ex


@pytest.mark.asyncio
async def test_ccxt_pro_watch_ohlcv_follows_the_market(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        first = await asyncio.wait_for(ex.watch_ohlcv(SYMBOL, "1m"), 10)
        first_close = first[-1][4]
        assert first_close == pytest.approx(sim.market.price("BTC"))
        before = sim.market.price("BTC")
        sim.market.step(5 * 60_000)
        assert sim.market.price("BTC") != before  # the recorded path moves in five minutes
        later = await asyncio.wait_for(ex.watch_ohlcv(SYMBOL, "1m"), 10)
        assert later[-1][4] == pytest.approx(sim.market.price("BTC"))
        assert later[-1][4] != first_close
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_ccxt_pro_watch_order_book_brackets_the_last_price(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        book = await asyncio.wait_for(ex.watch_order_book(SYMBOL), 10)
        last = sim.market.price("BTC")
        assert len(book["bids"]) == len(book["asks"]) == 100
        assert book["bids"][0][0] < last <= book["asks"][0][0]
        assert [b[0] for b in book["bids"]] == sorted((b[0] for b in book["bids"]), reverse=True)
        assert [a[0] for a in book["asks"]] == sorted(a[0] for a in book["asks"])
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_ccxt_pro_watch_ticker_and_trades(sim: SimulatorServer) -> None:
    ex = await _pro(sim)
    try:
        ticker = await asyncio.wait_for(ex.watch_ticker(SYMBOL), 10)
        assert ticker["last"] == pytest.approx(sim.market.price("BTC"))
        watching = asyncio.ensure_future(ex.watch_trades(SYMBOL))
        await until(lambda: sim.bingx_ws.subscribed["BTC-USDT@trade"] == 1, 10, "the trade subscription")
        sim.market.step(5 * 60_000)
        trades = await asyncio.wait_for(watching, 10)
        assert trades[-1]["price"] == pytest.approx(sim.market.price("BTC"))
    finally:
        await ex.close()

