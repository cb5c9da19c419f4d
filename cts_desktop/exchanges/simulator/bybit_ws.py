"""What the Bybit V5 websockets share: ping/pong, per-topic subscribe answers, one push loop per connection.

Control messages as recorded (exchange-fixtures bybit/jkorf-bybit-net/ws, bybit/nautilus-ws): a subscribe is answered
``{"success":true,"ret_msg":"","conn_id":..,"req_id":..,"op":"subscribe"}`` for the topics the endpoint serves; every
topic it does not serve gets its own ``{"success":false,"ret_msg":"Invalid topic: <topic>",...}`` and does not stop the
others from being subscribed. ``{"op":"ping"}`` gets ``{"success":true,"ret_msg":"pong",...,"op":"ping"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import WSMsgType, web

Message = dict[str, Any]


class BybitWsSession:
    """One websocket connection. Subclasses say which topics they serve (:meth:`accepts`), what else an ``op`` does
    (:meth:`on_op`) and what to push (:meth:`push`), called every ``interval_s()`` or when :meth:`wake` is set."""

    def __init__(self, ws: web.WebSocketResponse, interval_s: Callable[[], float]) -> None:
        self.ws = ws
        self.interval_s = interval_s  # read at every push: the endpoint's pace may change while connected
        self.conn_id = str(uuid.uuid4())
        self.topics: list[str] = []
        self.woken = asyncio.Event()

    # ---- what a subclass decides ----------------------------------------------------------------------------
    def accepts(self, topic: str) -> str | None:
        """None when ``topic`` is served; else the refusal text."""
        raise NotImplementedError

    async def on_op(self, op: str, body: Message) -> None:
        """An op other than ping/subscribe/unsubscribe (private: ``auth``)."""
        await self.send({"success": False, "ret_msg": f"error:invalid op {op}", "conn_id": self.conn_id, "op": op})

    async def on_subscribed(self, topics: list[str]) -> None:
        """Called after ``topics`` were added (a public stream sends their snapshots)."""

    async def push(self) -> None:
        """Send what changed since the last call."""

    # ---- the loop ---------------------------------------------------------------------------------------------
    async def send(self, message: Message) -> None:
        if not self.ws.closed:
            await self.ws.send_json(message)

    def wake(self) -> None:
        self.woken.set()

    async def run(self) -> None:
        pusher = asyncio.create_task(self._push_loop())
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    body = json.loads(msg.data)
                except ValueError:
                    continue
                if isinstance(body, dict):
                    await self._on_message(body)
        finally:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    async def _on_message(self, body: Message) -> None:
        op = str(body.get("op", ""))
        req_id = body.get("req_id", "")
        if op == "ping":
            await self.send({"success": True, "ret_msg": "pong", "conn_id": self.conn_id, "req_id": req_id, "op": op})
        elif op in ("subscribe", "unsubscribe"):
            await self._subscribe(op, [a for a in body.get("args", []) if isinstance(a, str)], req_id)
        else:
            await self.on_op(op, body)

    async def _subscribe(self, op: str, args: list[str], req_id: object) -> None:
        refusals = {topic: why for topic in args if (why := self.accepts(topic)) is not None}
        served = [topic for topic in args if topic not in refusals]
        if op == "subscribe":
            added = [t for t in served if t not in self.topics]
            self.topics.extend(added)
        else:
            added = []
            self.topics = [t for t in self.topics if t not in served]
        if served or not args:
            await self.send({"success": True, "ret_msg": "", "conn_id": self.conn_id, "req_id": req_id, "op": op})
        for why in refusals.values():
            await self.send({"success": False, "ret_msg": why, "conn_id": self.conn_id, "req_id": req_id, "op": op})
        if added:
            await self.on_subscribed(added)

    async def _push_loop(self) -> None:
        while not self.ws.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.woken.wait(), self.interval_s())
            self.woken.clear()
            await self.push()
