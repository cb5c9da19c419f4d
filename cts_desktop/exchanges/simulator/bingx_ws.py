"""BingX USDT-M swap websocket (``/swap-market``): public market data and, with ``?listenKey=``, the user-data stream.

As the venue: every server frame is gzip-compressed binary; the server sends ``Ping`` every few seconds and the
client answers ``Pong``; ``{"id":..,"reqType":"sub"|"unsub","dataType":"BTC-USDT@kline_1m"}`` is answered
``{"id":..,"code":0,"msg":""}`` (an unknown data type: code 80014 "Invalid parameter", nothing subscribed). On a
listen-key connection account events are pushed unasked (see ``bingx_user_stream``); an unknown or expired key
closes the connection (1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from cts_desktop.exchanges.simulator.bingx_market_ws import MarketPayloads, Subscription, parse_data_type
from cts_desktop.exchanges.simulator.bingx_user_stream import AccountWatcher, ListenKeys, expired_event
from cts_desktop.exchanges.simulator.market import SimMarket

WS_PATH = "/swap-market"
BAD_DATA_TYPE = (80014, "Invalid parameter")


@dataclass
class _Feed:
    sub: Subscription
    due_ms: float = 0.0
    state: tuple[int, float] | None = None  # (replay time, last price) last pushed
    price: float | None = None


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    feeds: dict[str, _Feed] = field(default_factory=dict)
    pongs: int = 0
    wake: asyncio.Event = field(default_factory=asyncio.Event)


class BingxSwapWs:
    def __init__(self, market: SimMarket, listen_keys: ListenKeys, *, tick_s: float = 0.05,
                 ping_interval_s: float = 5.0) -> None:
        self.market = market
        self.listen_keys = listen_keys
        self.tick_s = tick_s
        self.ping_interval_s = ping_interval_s
        self.payloads = MarketPayloads(market)
        self.connections = 0
        self.pongs = 0  # "Pong" answers received, all connections
        self.subscribed: Counter[str] = Counter()  # data type -> connections subscribed to it now
        self._open: set[_Connection] = set()

    def poke(self) -> None:
        """An account may have changed (a signed request was served): look at once instead of at the next tick."""
        for conn in self._open:
            conn.wake.set()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.connections += 1
        conn = _Connection(ws)
        key = request.query.get("listenKey")
        watcher: AccountWatcher | None = None
        if key is not None:
            entry = self.listen_keys.valid(key)
            if entry is None:
                await ws.close(code=1008, message=b"listenKey not exist")
                return ws
            watcher = AccountWatcher(self.market, entry.api_key.account)
        tasks = [asyncio.create_task(self._push(conn, key, watcher)), asyncio.create_task(self._ping(conn))]
        self._open.add(conn)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
        finally:
            self._open.discard(conn)
            self.subscribed.subtract(conn.feeds.keys())
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return ws

    async def _on_text(self, conn: _Connection, text: str) -> None:
        if text == "Pong":
            conn.pongs += 1
            self.pongs += 1
            return
        try:
            body = json.loads(text)
        except ValueError:
            return
        if not isinstance(body, dict):
            return
        req_id, data_type, req_type = body.get("id", ""), str(body.get("dataType", "")), body.get("reqType")
        sub = parse_data_type(data_type, self.market)
        if sub is None or req_type not in ("sub", "unsub"):
            code, msg = BAD_DATA_TYPE
            await _send(conn.ws, {"id": req_id, "code": code, "msg": msg})
            return
        await _send(conn.ws, {"id": req_id, "code": 0, "msg": ""})
        if req_type == "sub" and data_type not in conn.feeds:
            conn.feeds[data_type] = _Feed(sub, price=self.market.price(sub.base))
            self.subscribed[data_type] += 1
        elif req_type == "unsub" and conn.feeds.pop(data_type, None) is not None:
            self.subscribed[data_type] -= 1

    async def _ping(self, conn: _Connection) -> None:
        while not conn.ws.closed:
            await asyncio.sleep(self.ping_interval_s)
            await _send_raw(conn.ws, "Ping")

    async def _push(self, conn: _Connection, key: str | None, watcher: AccountWatcher | None) -> None:
        loop = asyncio.get_running_loop()
        while not conn.ws.closed:
            self.market.advance()
            now = loop.time() * 1000
            for feed in list(conn.feeds.values()):
                if now >= feed.due_ms:
                    await self._push_feed(conn.ws, feed)
                    feed.due_ms = now + feed.sub.period_ms
            if watcher is not None and key is not None:
                if self.listen_keys.valid(key) is None:
                    await _send(conn.ws, expired_event(key, self.market.wall_ms()))
                    await conn.ws.close(code=1008, message=b"listenKey expired")
                    return
                for event in watcher.events():
                    await _send(conn.ws, event)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wake.wait(), self.tick_s)
            conn.wake.clear()

    async def _push_feed(self, ws: web.WebSocketResponse, feed: _Feed) -> None:
        state = (self.market.processed_replay, self.market.price(feed.sub.base))
        if state == feed.state:
            return
        message = self.payloads.build(feed.sub, feed.price)
        feed.state, feed.price = state, state[1]
        if message is not None:
            await _send(ws, message)


async def _send(ws: web.WebSocketResponse, body: dict[str, Any]) -> None:
    await _send_raw(ws, json.dumps(body, separators=(",", ":")))


async def _send_raw(ws: web.WebSocketResponse, text: str) -> None:
    if not ws.closed:
        with contextlib.suppress(ConnectionResetError):
            await ws.send_bytes(gzip.compress(text.encode()))
