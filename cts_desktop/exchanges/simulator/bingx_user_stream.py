"""BingX swap user-data stream: listen keys and the account events pushed on ``/swap-market?listenKey=...``.

A listen key (``POST /openApi/user/auth/userDataStream``) is valid 60 minutes; ``PUT`` extends it to 60 minutes
from then, ``DELETE`` ends it. On a connection carrying a valid key every account change is pushed unasked:

    {"e":"ORDER_TRADE_UPDATE","E":..,"T":..,"o":{"s":"BTC-USDT","c":client id,"i":order id (int64),"S":"BUY",
     "o":"MARKET","q":..,"p":..,"sp":..,"ap":..,"x":"NEW|TRADE|CANCELED","X":"NEW|FILLED|CANCELED","N":"USDT",
     "n":fee,"T":trade time,"wt":"MARK_PRICE","ps":"LONG|SHORT|BOTH","rp":realised,"z":filled,"l":..,"L":..,"t":..}}
    {"e":"ACCOUNT_UPDATE","E":..,"T":..,"a":{"m":"ORDER|FUNDING_FEE","B":[{"a":"USDT","wb":..,"cw":..,"bc":..}],
     "P":[{"s":..,"pa":..,"ep":..,"up":..,"mt":"isolated|crossed","iw":..,"ps":..,"cr":..}]}}
    {"e":"ACCOUNT_CONFIG_UPDATE","E":..,"ac":{"s":"BTC-USDT","l":long leverage,"S":short leverage,"mt":"cross"}}
    {"e":"listenKeyExpired","E":..,"listenKey":..}

The account model has no event hooks: :class:`AccountWatcher` compares the account with what it last reported.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cts_desktop.exchanges.simulator.account import Account, Execution, OrderStatus, SimOrder
from cts_desktop.exchanges.simulator.auth import ApiKey
from cts_desktop.exchanges.simulator.common import fmt
from cts_desktop.exchanges.simulator.market import SimMarket

LISTEN_KEY_TTL_MS = 60 * 60 * 1000
SIDES = {0: "BOTH", 1: "LONG", 2: "SHORT"}


@dataclass
class ListenKey:
    key: str
    api_key: ApiKey
    expires_ms: int


class ListenKeys:
    """The venue's listen keys, on its clock (``now``)."""

    def __init__(self, now: Callable[[], int]) -> None:
        self.now = now
        self.keys: dict[str, ListenKey] = {}

    def create(self, api_key: ApiKey) -> str:
        key = secrets.token_hex(32)
        self.keys[key] = ListenKey(key, api_key, self.now() + LISTEN_KEY_TTL_MS)
        return key

    def extend(self, key: str, owner: ApiKey) -> bool:
        entry = self.valid(key)
        if entry is None or entry.api_key.key != owner.key:
            return False
        entry.expires_ms = self.now() + LISTEN_KEY_TTL_MS
        return True

    def delete(self, key: str, owner: ApiKey) -> bool:
        entry = self.valid(key)
        if entry is None or entry.api_key.key != owner.key:
            return False
        del self.keys[key]
        return True

    def valid(self, key: str) -> ListenKey | None:
        entry = self.keys.get(key)
        return entry if entry is not None and entry.expires_ms > self.now() else None


@dataclass
class _Seen:
    status: OrderStatus
    filled: float


class AccountWatcher:
    """Turns changes of one account since the last look into the venue's user-data events."""

    def __init__(self, market: SimMarket, account: Account) -> None:
        self.market = market
        self.account = account
        self.seen = {oid: _Seen(o.status, o.filled_qty) for oid, o in account.orders.items()}
        self.executions = len(account.executions)
        self.wallet = account.wallet
        self.position_sides: dict[tuple[str, int], str] = {}  # one-way positions: the side last reported
        self.config = self._config()

    def events(self) -> list[dict[str, Any]]:
        acc, out = self.account, []
        now = self.market.wall_ms()
        new_orders = sorted((o for oid, o in acc.orders.items() if oid not in self.seen), key=lambda o: o.created_ms)
        for order in new_orders:
            out.append(self.order_event(order, "NEW", "NEW", None, now))
            self.seen[order.order_id] = _Seen(OrderStatus.NEW, 0.0)
        fresh = acc.executions[self.executions:]
        self.executions = len(acc.executions)
        touched: set[str] = set()
        for e in fresh:
            touched.add(e.base)
            if e.exec_type != "Trade" or e.order_id not in acc.orders:
                continue
            order = acc.orders[e.order_id]
            out.append(self.order_event(order, "TRADE", "FILLED", e, now))
            self.seen[order.order_id] = _Seen(OrderStatus.FILLED, order.filled_qty)
        for oid, order in acc.orders.items():
            if order.status is OrderStatus.CANCELLED and self.seen[oid].status is not OrderStatus.CANCELLED:
                out.append(self.order_event(order, "CANCELED", "CANCELED", None, now))
                self.seen[oid] = _Seen(OrderStatus.CANCELLED, order.filled_qty)
        config = self._config()
        for base in sorted(b for b in config if config[b] != self.config.get(b)):
            out.append(self.config_event(base, now))
        self.config = config
        if fresh or acc.wallet != self.wallet:
            funding_only = all(e.exec_type == "Funding" for e in fresh) and bool(fresh)
            out.append(self.account_event("FUNDING_FEE" if funding_only else "ORDER", touched, now))
            self.wallet = acc.wallet
        return out

    def order_event(self, o: SimOrder, exec_type: str, status: str, fill: Execution | None,
                    now: int) -> dict[str, Any]:
        inst = self.market.instruments[o.base]
        tick, step = inst.tick_size, inst.qty_step
        otype = {"StopLoss": "STOP_MARKET", "TakeProfit": "TAKE_PROFIT_MARKET"}.get(o.stop_order_type,
                                                                                   o.order_type.upper())
        body = {
            "s": inst.bingx_symbol,
            "c": o.client_id,
            "i": int(o.order_id),
            "S": o.side.upper(),
            "o": otype,
            "q": fmt(o.qty, step),
            "p": fmt(o.price if o.price is not None else o.last_price_on_create, tick),
            "sp": fmt(o.trigger_price, tick, "0"),
            "ap": fmt(o.avg_price, tick),
            "x": exec_type,
            "X": status,
            "N": "USDT",
            "n": fmt(-fill.fee if fill else 0.0),
            "T": fill.ts if fill else 0,
            "wt": "MARK_PRICE",
            "ps": SIDES[o.position_idx],
            "rp": fmt(fill.realised_pnl if fill else 0.0),
            "z": fmt(o.filled_qty, step),
        }
        if fill is not None:
            body.update({"l": fmt(fill.qty, step), "L": fmt(fill.price, tick), "t": int(fill.exec_id)})
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": o.updated_ms, "o": body}

    def _config(self) -> dict[str, tuple[float, bool]]:
        acc = self.account
        return {b: (acc.leverage_of(b), acc.isolated.get(b, False)) for b in self.market.instruments}

    def config_event(self, base: str, now: int) -> dict[str, Any]:
        """Leverage or margin mode of a symbol changed."""
        lev = int(self.account.leverage_of(base))
        mode = "isolated" if self.account.isolated.get(base, False) else "cross"
        symbol = self.market.instruments[base].bingx_symbol
        return {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "ac": {"s": symbol, "l": lev, "S": lev, "mt": mode}}

    def _side(self, base: str, idx: int, side: str) -> str:
        """LONG / SHORT as the positions endpoint names them; a one-way position just closed keeps its side."""
        if idx:
            return SIDES[idx]
        if side:
            self.position_sides[(base, idx)] = "LONG" if side == "Buy" else "SHORT"
        return self.position_sides.get((base, idx), "LONG")

    def account_event(self, reason: str, bases: set[str], now: int) -> dict[str, Any]:
        acc, market = self.account, self.market
        prices = market.prices()
        change = acc.wallet - self.wallet
        balance = {"a": "USDT", "wb": fmt(acc.wallet), "cw": fmt(acc.available(prices)), "bc": fmt(change)}
        rows = []
        for (base, idx), pos in acc.positions.items():
            if base not in bases:
                continue
            inst = market.instruments[base]
            sign = 1 if pos.side == "Buy" else -1
            side = self._side(base, idx, pos.side)
            upl = sign * (prices[base] - pos.entry) * pos.size if pos.size else 0.0
            isolated = acc.isolated.get(base, False)
            rows.append(
                {
                    "s": inst.bingx_symbol,
                    "pa": fmt(pos.size, inst.qty_step),
                    "ep": fmt(pos.entry, inst.tick_size),
                    "up": fmt(upl),
                    "mt": "isolated" if isolated else "crossed",
                    "iw": fmt(pos.size * pos.entry / acc.leverage_of(base) if isolated else 0.0),
                    "ps": side,
                    "cr": fmt(pos.cum_realised),
                }
            )
        return {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": reason, "B": [balance], "P": rows}}


def expired_event(key: str, now: int) -> dict[str, Any]:
    return {"e": "listenKeyExpired", "E": now, "listenKey": key}
