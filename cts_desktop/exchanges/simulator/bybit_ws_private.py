"""Bybit V5 private websocket (``/v5/private``): ``auth``, then the ``order``, ``execution``, ``execution.fast``,
``position`` and ``wallet`` topics (``.linear`` suffixed forms too), pushed when the simulated account changes.

Auth as Bybit documents it: ``{"op":"auth","args":[apiKey, expires, signature]}`` with signature = hex
HMAC-SHA256(secret, "GET/realtime" + expires) and ``expires`` (ms) still in the future by the venue's clock. Success is
answered as recorded (``{"success":true,"ret_msg":"","op":"auth","conn_id":..}``), a refusal in the recorded newer form
(``{"op":"auth","success":false,"retCode":10003,"retMsg":"Invalid apikey","connId":..}``). Private topics before a
successful auth are refused.

Changes are found by comparing the account with what this connection last sent (orders by status/fill/price, new
executions, positions by size/entry/TP/SL, the wallet's money), looked at every ``interval_s`` and at once after each
REST request (:meth:`BybitPrivateWs.notify`). Message envelope as recorded:
``{"id","topic","creationTime","data":[..]}`` (``execution.fast`` has no ``id``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import uuid
from typing import Any

from aiohttp import web

from cts_desktop.exchanges.simulator.account import Account, Execution, SimOrder, SimPosition
from cts_desktop.exchanges.simulator.auth import ApiKey
from cts_desktop.exchanges.simulator.bybit_api import BybitDialect
from cts_desktop.exchanges.simulator.bybit_ws import BybitWsSession, Message
from cts_desktop.exchanges.simulator.market import SimMarket

PRIVATE_PATH = "/v5/private"
TOPICS = ("order", "execution", "execution.fast", "position", "wallet")
_seq = itertools.count(8_000_000_000)


def auth_signature(secret: str, expires: str) -> str:
    return hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()


def ws_order(dialect: BybitDialect, order: SimOrder, market: SimMarket) -> dict[str, Any]:
    body = dialect._order(order, market)
    return {**body, "category": "linear", "feeCurrency": ""}


def ws_execution(dialect: BybitDialect, e: Execution, market: SimMarket) -> dict[str, Any]:
    body = dialect._execution(e, market)
    for rest_only in ("feeCurrency", "createType", "marketUnit"):
        body.pop(rest_only, None)
    return {"category": "linear", **body, "isLeverage": "0", "seq": next(_seq)}


def ws_execution_fast(dialect: BybitDialect, e: Execution, market: SimMarket) -> dict[str, Any]:
    return {
        "category": "linear",
        "symbol": market.instruments[e.base].bybit_symbol,
        "execId": e.exec_id,
        "execPrice": dialect._execution(e, market)["execPrice"],
        "execQty": dialect._execution(e, market)["execQty"],
        "orderId": e.order_id,
        "orderLinkId": e.client_id,
        "side": e.side,
        "execTime": str(e.ts),
        "seq": next(_seq),
    }


def ws_position(dialect: BybitDialect, pos: SimPosition, market: SimMarket, acc: Account) -> dict[str, Any]:
    """The websocket's position differs from REST's as recorded: ``entryPrice`` for ``avgPrice``, and a
    ``category``."""
    rest = dialect._position(pos, market, acc)
    body = {k: v for k, v in rest.items() if k != "avgPrice"}
    body["entryPrice"] = rest["avgPrice"]
    body["category"] = "linear"
    body["seq"] = next(_seq)
    return body


class AccountView:
    """What one connection has sent of one account, to find what changed since."""

    def __init__(self, acc: Account) -> None:
        self.acc = acc
        self.orders: dict[str, tuple[object, ...]] = {o.order_id: _order_sig(o) for o in acc.orders.values()}
        self.executions = len(acc.executions)
        self.positions: dict[tuple[str, int], tuple[object, ...]] = {
            k: _position_sig(p) for k, p in acc.positions.items()
        }
        self.wallet = _wallet_sig(acc)

    def changed_orders(self) -> list[SimOrder]:
        out = []
        for order in self.acc.orders.values():
            sig = _order_sig(order)
            if self.orders.get(order.order_id) != sig:
                self.orders[order.order_id] = sig
                out.append(order)
        return out

    def new_executions(self) -> list[Execution]:
        rows = self.acc.executions[self.executions :]
        self.executions = len(self.acc.executions)
        return [e for e in rows if e.exec_type == "Trade"] + [e for e in rows if e.exec_type != "Trade"]

    def changed_positions(self) -> list[SimPosition]:
        out = []
        for key, pos in self.acc.positions.items():
            sig = _position_sig(pos)
            if self.positions.get(key) != sig:
                self.positions[key] = sig
                out.append(pos)
        return out

    def wallet_changed(self) -> bool:
        sig = _wallet_sig(self.acc)
        if sig == self.wallet:
            return False
        self.wallet = sig
        return True


def _order_sig(o: SimOrder) -> tuple[object, ...]:
    return (o.status, o.filled_qty, o.qty, o.price, o.trigger_price, o.take_profit, o.stop_loss, o.updated_ms)


def _position_sig(p: SimPosition) -> tuple[object, ...]:
    return (p.size, p.side, p.entry, p.take_profit, p.stop_loss, p.updated_ms)


def _wallet_sig(acc: Account) -> tuple[float, ...]:
    return (round(acc.wallet, 10), round(acc.position_margin(), 10), round(acc.order_margin(), 10))


class PrivateSession(BybitWsSession):
    def __init__(self, ws: web.WebSocketResponse, owner: BybitPrivateWs) -> None:
        super().__init__(ws, lambda: owner.interval_s)
        self.owner = owner
        self.key: ApiKey | None = None
        self.view: AccountView | None = None

    def accepts(self, topic: str) -> str | None:
        if self.key is None:
            return "Request not authorized"
        name = topic.removesuffix(".linear")
        return None if name in TOPICS else f"Invalid topic: {topic}"

    async def on_op(self, op: str, body: Message) -> None:
        if op != "auth":
            await super().on_op(op, body)
            return
        args = [str(a) for a in body.get("args") or []]
        refusal = self._check_auth(args)
        if refusal is None:
            assert self.key is not None
            self.view = AccountView(self.key.account)
            req_id = body.get("req_id", "")
            await self.send({"success": True, "ret_msg": "", "op": "auth", "conn_id": self.conn_id, "req_id": req_id})
            return
        code, text = refusal
        await self.send({"op": "auth", "success": False, "retCode": code, "retMsg": text, "connId": self.conn_id})

    def _check_auth(self, args: list[str]) -> tuple[int, str] | None:
        if len(args) != 3:
            return 10001, "Params Error"
        api_key, expires, signature = args
        entry = self.owner.market.keyring.keys.get(api_key)
        if entry is None:
            return 10003, "Invalid apikey"
        if not expires.isdigit() or int(expires) <= self.owner.market.wall_ms():
            return 10002, "Params Error: expires is in the past"
        if not hmac.compare_digest(auth_signature(entry.secret, expires), signature):
            return 10004, "Invalid sign"
        self.key = entry
        return None

    def _subscribed(self, name: str) -> list[str]:
        return [t for t in self.topics if t.removesuffix(".linear") == name]

    async def push(self) -> None:
        if self.view is None or not self.topics:
            return
        market, dialect, acc = self.owner.market, self.owner.dialect, self.view.acc
        market.advance()
        orders = self.view.changed_orders()
        executions = self.view.new_executions()
        positions = self.view.changed_positions()
        wallet = self.view.wallet_changed()
        if orders:
            await self._send_topic("order", [ws_order(dialect, o, market) for o in orders])
        if executions:
            trades = [e for e in executions if e.exec_type == "Trade"]
            await self._send_topic("execution", [ws_execution(dialect, e, market) for e in executions])
            if trades:
                await self._send_topic("execution.fast", [ws_execution_fast(dialect, e, market) for e in trades])
        if positions:
            await self._send_topic("position", [ws_position(dialect, p, market, acc) for p in positions])
        if wallet:
            await self._send_topic("wallet", dialect.wallet_balance({}, market, acc)["list"])

    async def _send_topic(self, name: str, data: list[dict[str, Any]]) -> None:
        now = self.owner.market.wall_ms()
        for topic in self._subscribed(name):
            message: Message = {"topic": topic, "creationTime": now, "data": data}
            if name != "execution.fast":
                message = {"id": f"{uuid.uuid4().hex[:14]}-{uuid.uuid4()}", **message}
            await self.send(message)


class BybitPrivateWs:
    def __init__(self, market: SimMarket, interval_s: float = 0.1) -> None:
        self.market = market
        self.interval_s = interval_s
        self.dialect = BybitDialect(market.wall_ms)
        self.sessions: set[PrivateSession] = set()
        self.connections = 0

    def notify(self) -> None:
        """An account may have changed (a REST request was handled): every connection looks now."""
        for session in self.sessions:
            session.wake()

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.connections += 1
        session = PrivateSession(ws, self)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
        return ws
