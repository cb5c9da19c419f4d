"""Bybit V5 public websocket for linear perpetuals (``/v5/public/linear``): tickers, orderbook, kline, publicTrade.

Each subscribed topic is a stream of :mod:`bybit_public_topics` (snapshot first, then changes); the connection
advances the market and pushes every ``interval_s``. Control messages: :mod:`bybit_ws`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from cts_desktop.exchanges.simulator.bybit_api import BybitDialect
from cts_desktop.exchanges.simulator.bybit_public_topics import PublicTopic, make_topic
from cts_desktop.exchanges.simulator.bybit_ws import BybitWsSession
from cts_desktop.exchanges.simulator.market import SimMarket

WS_PATH = "/v5/public/linear"


class PublicSession(BybitWsSession):
    def __init__(self, ws: web.WebSocketResponse, interval_s: Callable[[], float], market: SimMarket,
                 dialect: BybitDialect) -> None:
        super().__init__(ws, interval_s)
        self.market = market
        self.dialect = dialect
        self.streams: dict[str, PublicTopic] = {}

    def accepts(self, topic: str) -> str | None:
        made = make_topic(self.market, self.dialect, topic)
        if isinstance(made, str):
            return made
        self.streams.setdefault(topic, made)
        return None

    async def on_subscribed(self, topics: list[str]) -> None:
        for topic in topics:
            for message in self.streams[topic].messages():
                await self.send(message)

    async def push(self) -> None:
        self.market.advance()
        for topic in list(self.topics):
            stream = self.streams.get(topic)
            if stream is not None:
                for message in stream.messages():
                    await self.send(message)
        for topic in [t for t in self.streams if t not in self.topics]:
            del self.streams[topic]  # unsubscribed: a later subscribe starts with a snapshot again


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
        await PublicSession(ws, lambda: self.interval_s, self.market, self.dialect).run()
        return ws
