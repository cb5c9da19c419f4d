"""Bybit V5 public websocket for linear tickers (``/v5/public/linear``), enough for ccxt.pro ``watch_ticker(s)``.

Protocol as recorded (tests/data/exchange/bybit ws fixtures): ``{"op":"subscribe","args":["tickers.BTCUSDT"]}``
is acknowledged with ``{"success":true,"op":"subscribe",...}``; snapshots ``{"topic":"tickers.BTCUSDT",
"type":"snapshot","data":{...},"cs":..,"ts":..}`` follow every ``interval_s``; ``{"op":"ping"}`` gets a pong.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from cts_desktop.exchanges.simulator.bybit_api import BybitDialect
from cts_desktop.exchanges.simulator.market import SimMarket

WS_PATH = "/v5/public/linear"


class BybitPublicWs:
    def __init__(self, market: SimMarket, interval_s: float = 0.5) -> None:
        self.market = market
        self.interval_s = interval_s
        self.dialect = BybitDialect(market.wall_ms)
        self.connections = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.connections += 1
        conn_id = str(uuid.uuid4())
        topics: set[str] = set()
        pusher = asyncio.create_task(self._push(ws, topics))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    continue
                op = body.get("op")
                if op == "ping":
                    await ws.send_json(
                        {
                            "success": True,
                            "ret_msg": "pong",
                            "conn_id": conn_id,
                            "req_id": body.get("req_id", ""),
                            "op": "ping",
                        }
                    )
                elif op in ("subscribe", "unsubscribe"):
                    args = [a for a in body.get("args", []) if isinstance(a, str)]
                    ok = all(a.startswith("tickers.") for a in args)
                    if ok and op == "subscribe":
                        topics.update(args)
                    elif ok:
                        topics.difference_update(args)
                    await ws.send_json(
                        {
                            "success": ok,
                            "ret_msg": "" if ok else "unsupported topic",
                            "conn_id": conn_id,
                            "req_id": body.get("req_id", ""),
                            "op": op,
                        }
                    )
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher
        return ws

    def _snapshot(self, topic: str) -> dict[str, Any] | None:
        symbol = topic.split(".", 1)[1]
        items = self.dialect.tickers({"category": "linear", "symbol": symbol}, self.market)["list"]
        if not items:
            return None
        now = self.market.wall_ms()
        return {"topic": topic, "type": "snapshot", "data": items[0], "cs": now, "ts": now}

    async def _push(self, ws: web.WebSocketResponse, topics: set[str]) -> None:
        while not ws.closed:
            self.market.advance()
            for topic in list(topics):
                snap = self._snapshot(topic)
                if snap is not None:
                    await ws.send_json(snap)
            await asyncio.sleep(self.interval_s)
