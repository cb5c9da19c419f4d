"""The account's own updates by websocket: fills, orders and positions as the exchange pushes them.

:class:`PrivateStream` watches ``watch_my_trades``, ``watch_orders`` and ``watch_positions`` of ccxt.pro (each
where the exchange's ccxt.pro class has it) on one authenticated connection and hands each batch, converted to the
adapter's models, to its callbacks. It is a faster path, never the only one: the engine's REST reconciliation keeps
running and checks what the stream said. When the stream fails (not supported, refused, dropped) it logs why once,
reports ``mode == "rest"`` and tries again after ``retry_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.models import Order, Position, Trade
from cts_desktop.exchanges.stream_task import StreamTask

log = logging.getLogger(__name__)

RETRY_S = 60.0  # after a failure, the stream is tried again this much later


@dataclass(frozen=True, slots=True)
class StreamHandlers:
    """What to do with each kind of update (awaited in arrival order, one at a time per kind)."""

    trades: Callable[[list[Trade]], Awaitable[object]]
    orders: Callable[[list[Order]], Awaitable[object]]
    positions: Callable[[list[Position]], Awaitable[object]]


class PrivateStream(StreamTask):
    def __init__(self, adapter: ExchangeAdapter, handlers: StreamHandlers, *, retry_s: float = RETRY_S,
                 ws_base: str | None = None) -> None:
        super().__init__(f"{adapter.exchange_id} private stream")
        self.adapter = adapter
        self.handlers = handlers
        self.retry_s = retry_s
        self.ws_base = ws_base
        # mode: "stream" while connected, "rest" after a failure (REST sync only), "idle" stopped
        self.last_error = ""
        self.received = {"trades": 0, "orders": 0, "positions": 0}
        self.last_update_at: float | None = None  # time.time() of the newest update

    async def _run(self) -> None:
        while True:
            try:
                await self._connected()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {str(exc)[:160]}"
                log.warning("%s private stream unavailable (%s); fills and orders come by REST sync, the stream is "
                            "tried again in %.0f s", self.adapter.exchange_id, self.last_error, self.retry_s)
            self.mode = "rest"
            await self._close()
            await asyncio.sleep(self.retry_s)

    async def _connected(self) -> None:
        client = self._client = await self.adapter.stream_client(self.ws_base)
        await client.load_markets()
        watches = [(name, watch) for name, watch in (
            ("trades", self._trades), ("orders", self._orders), ("positions", self._positions))
            if client.has.get(_CAPABILITY[name])]
        if not watches:
            raise RuntimeError("ccxt.pro offers no private stream for this exchange")
        self.mode = "stream"
        log.info("%s private stream: %s", self.adapter.exchange_id, ", ".join(name for name, _ in watches))
        async with asyncio.TaskGroup() as group:  # the first failure cancels the others: reconnect together
            for name, watch in watches:
                group.create_task(self._loop(name, watch, client))

    async def _loop(self, name: str, watch: Callable[[Any], Awaitable[int]], client: Any) -> None:
        while True:
            count = await watch(client)
            self.received[name] += count
            self.last_update_at = time.time()

    async def _trades(self, client: Any) -> int:
        raw = await client.watch_my_trades()
        trades = [Trade.from_ccxt(t) for t in raw if t.get("symbol")]
        await self.handlers.trades(trades)
        return len(trades)

    async def _orders(self, client: Any) -> int:
        raw = await client.watch_orders()
        orders = [Order.from_ccxt(o) for o in raw if o.get("symbol")]
        await self.handlers.orders(orders)
        return len(orders)

    async def _positions(self, client: Any) -> int:
        raw = await client.watch_positions()
        positions = [Position.from_ccxt(p) for p in raw if p.get("symbol")]
        await self.handlers.positions(positions)
        return len(positions)


_CAPABILITY = {"trades": "watchMyTrades", "orders": "watchOrders", "positions": "watchPositions"}
