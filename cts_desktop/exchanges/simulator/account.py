"""One simulated USDT-margined perpetual account: wallet, positions, orders, fills, fees, TP/SL, funding.

Exchange-neutral: the Bybit and BingX dialects translate their requests into these calls and map
:class:`SimError` kinds to their own error codes. Quantities are floats (a simulator, not a ledger) on the
contract's quantity step: an order off the contract's rules is refused (:mod:`order_checks`). A liquidation price
is shown (:meth:`SimPosition.liquidation_price`); positions are not liquidated.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from cts_desktop.exchanges.simulator.account_errors import SimError, SimErrorKind
from cts_desktop.exchanges.simulator.order_checks import (
    check_notional,
    check_price,
    check_quantity,
    check_reduce_only,
)
from cts_desktop.exchanges.simulator.replay import Instrument

__all__ = ["SimError", "SimErrorKind"]


class OrderStatus(Enum):
    NEW = "New"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    UNTRIGGERED = "Untriggered"


ACTIVE_STATUSES = (OrderStatus.NEW, OrderStatus.UNTRIGGERED)
MAINTENANCE_RATE = 0.005  # Bybit's first risk tier for BTCUSDT; the simulator uses it for every contract


@dataclass
class SimOrder:
    order_id: str
    client_id: str
    base: str
    side: str  # "Buy" / "Sell"
    order_type: str  # "Market" / "Limit"
    qty: float
    price: float | None
    position_idx: int
    reduce_only: bool
    created_ms: int
    take_profit: float | None = None
    stop_loss: float | None = None
    trigger_price: float | None = None
    trigger_rises: bool = True
    stop_order_type: str = ""
    status: OrderStatus = OrderStatus.NEW
    filled_qty: float = 0.0
    avg_price: float = 0.0
    fee: float = 0.0
    updated_ms: int = 0
    leverage: float = 1.0
    last_price_on_create: float = 0.0
    time_in_force: str = "GTC"


@dataclass
class OrderChange:
    """What an amend changes (None: unchanged; 0 for take-profit/stop-loss: removed)."""

    qty: float | None = None
    price: float | None = None
    trigger_price: float | None = None
    take_profit: float | None = None
    stop_loss: float | None = None


@dataclass
class SimPosition:
    base: str
    position_idx: int
    size: float = 0.0
    side: str = ""  # "Buy" long, "Sell" short, "" flat
    entry: float = 0.0
    take_profit: float | None = None
    stop_loss: float | None = None
    cum_realised: float = 0.0
    created_ms: int = 0
    updated_ms: int = 0
    position_id: str = ""
    cross_backing: float = 0.0  # cross margin: the account's free balance backing it too, as last valued

    def liquidation_price(self, leverage: float, maintenance_rate: float = MAINTENANCE_RATE) -> float:
        """The simulator's simple liquidation model (0 when flat): the price at which the margin backing the position
        is used up down to its maintenance margin.

        Isolated (``cross_backing`` 0): the backing is the position's initial margin ``size × entry / leverage``, so
        ``liq = entry × (1 − s × (1/leverage − mmr))`` with s = +1 long, −1 short. Cross: the account's free balance
        (``cross_backing``: what is available beyond every position's and order's margin, set by
        :meth:`Account.value_backing`) backs it too, so ``liq = entry − s × (IM + cross_backing − MM) / size`` with
        MM = ``size × entry × mmr``. Never below 0.
        """
        if not self.size or leverage <= 0:
            return 0.0
        sign = 1 if self.side == "Buy" else -1
        im = self.size * self.entry / leverage
        mm = self.size * self.entry * maintenance_rate
        return max(0.0, self.entry - sign * (im + max(0.0, self.cross_backing) - mm) / self.size)


@dataclass
class Execution:
    exec_id: str
    order_id: str
    client_id: str
    base: str
    side: str
    price: float
    qty: float
    fee: float
    fee_rate: float
    is_maker: bool
    exec_type: str  # "Trade" or "Funding"
    ts: int
    order_type: str = "Market"
    closed_size: float = 0.0
    realised_pnl: float = 0.0
    order_qty: float = 0.0
    order_price: float = 0.0


_ids = itertools.count(1_900_000_000_000_000_000)


@dataclass
class Account:
    """State of one API key's account. ``id_style`` picks Bybit-like UUIDs or BingX-like numeric ids."""

    instruments: dict[str, Instrument]
    wallet: float
    taker_fee: float
    maker_fee: float
    id_style: str = "uuid"
    hedge_mode: bool = False
    default_leverage: float = 10.0
    leverage: dict[str, float] = field(default_factory=dict)
    isolated: dict[str, bool] = field(default_factory=dict)
    positions: dict[tuple[str, int], SimPosition] = field(default_factory=dict)
    orders: dict[str, SimOrder] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)
    executions: list[Execution] = field(default_factory=list)
    cum_realised: float = 0.0

    # ---- identity helpers -------------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.uuid4()) if self.id_style == "uuid" else str(next(_ids))

    def instrument(self, base: str) -> Instrument:
        try:
            return self.instruments[base]
        except KeyError:
            raise SimError(SimErrorKind.UNKNOWN_SYMBOL, f"symbol {base} not found") from None

    def leverage_of(self, base: str) -> float:
        return self.leverage.get(base, self.default_leverage)

    def position(self, base: str, idx: int) -> SimPosition:
        key = (base, idx)
        if key not in self.positions:
            self.positions[key] = SimPosition(base, idx, position_id=self.new_id())
        return self.positions[key]

    def position_indexes(self) -> tuple[int, ...]:
        return (1, 2) if self.hedge_mode else (0,)

    # ---- money --------------------------------------------------------------------------------------------
    def unrealised(self, prices: dict[str, float]) -> float:
        return Account.unrealised_of(self.positions.values(), prices)

    def position_margin(self) -> float:
        return sum(p.size * p.entry / self.leverage_of(p.base) for p in self.positions.values() if p.size > 0)

    def order_margin(self) -> float:
        total = 0.0
        for o in self.orders.values():
            if o.status in ACTIVE_STATUSES and not o.reduce_only and o.price:
                total += (o.qty - o.filled_qty) * o.price / self.leverage_of(o.base)
        return total

    def equity(self, prices: dict[str, float]) -> float:
        return self.wallet + self.unrealised(prices)

    def available(self, prices: dict[str, float]) -> float:
        """What a new order may use: the wallet, plus the unrealised result of cross positions only (an isolated
        position's result stays inside its own margin), less the margin of positions and orders."""
        cross = {key: p for key, p in self.positions.items() if not self.isolated.get(p.base, False)}
        upl_cross = Account.unrealised_of(cross.values(), prices)
        return self.wallet + upl_cross - self.position_margin() - self.order_margin()

    @staticmethod
    def unrealised_of(positions: Iterable[SimPosition], prices: dict[str, float]) -> float:
        total = 0.0
        for p in positions:
            if p.size > 0:
                total += (1 if p.side == "Buy" else -1) * (prices[p.base] - p.entry) * p.size
        return total

    # ---- settings -----------------------------------------------------------------------------------------
    def set_leverage(self, base: str, leverage: float) -> None:
        inst = self.instrument(base)
        if leverage < 1 or leverage > float(inst.max_leverage):
            raise SimError(SimErrorKind.LEVERAGE_TOO_HIGH, f"leverage must be in [1, {inst.max_leverage}]")
        if self.leverage_of(base) == leverage and base in self.leverage:
            raise SimError(SimErrorKind.LEVERAGE_NOT_MODIFIED, "leverage not modified")
        self.leverage[base] = leverage

    def set_isolated(self, base: str | None, isolated: bool) -> None:
        """Cross or isolated margin for one symbol (``base``) or the whole account (None: Bybit's unified account);
        refused while a position or an opening order of an affected symbol is open."""
        bases = [base] if base else list(self.instruments)
        if all(self.isolated.get(b, False) == isolated for b in bases):
            raise SimError(SimErrorKind.MARGIN_MODE_NOT_MODIFIED, "margin mode not modified")
        if any(p.size > 0 and p.base in bases for p in self.positions.values()) or any(
            o.status in ACTIVE_STATUSES and not o.reduce_only and o.base in bases for o in self.orders.values()
        ):
            raise SimError(SimErrorKind.MARGIN_POSITION_EXISTS, "cannot switch margin mode with an open position")
        for b in bases:
            self.isolated[b] = isolated

    def value_backing(self, prices: dict[str, float]) -> None:
        """Value each cross position's backing (the account's free balance at ``prices``); isolated ones have none."""
        free = self.available(prices)
        for pos in self.positions.values():
            pos.cross_backing = 0.0 if self.isolated.get(pos.base, False) else free

    def margin_mode(self, base: str) -> str:
        return "isolated" if self.isolated.get(base, False) else "cross"

    def set_hedge_mode(self, hedge: bool) -> None:
        if hedge == self.hedge_mode:
            raise SimError(SimErrorKind.POSITION_MODE_NOT_MODIFIED, "position mode not modified")
        if any(p.size > 0 for p in self.positions.values()) or any(
            o.status in ACTIVE_STATUSES for o in self.orders.values()
        ):
            raise SimError(SimErrorKind.POSITION_EXISTS, "cannot switch position mode with positions or orders")
        self.hedge_mode = hedge

    # ---- orders -------------------------------------------------------------------------------------------
    def place(self, order: SimOrder, price_now: float, now_ms: int, prices: dict[str, float] | None = None) -> SimOrder:
        """Validate and accept an order; market orders fill at once at ``price_now``.

        ``prices`` (last price per symbol) values the other open positions for the margin check.
        """
        inst = self.instrument(order.base)
        if order.client_id and order.client_id in self.by_client:
            raise SimError(SimErrorKind.DUPLICATE_CLIENT_ID, "duplicate client order id")
        if order.position_idx not in self.position_indexes():
            raise SimError(SimErrorKind.BAD_PARAM, "position idx not match position mode")
        check_quantity(inst, order.qty, market_order=order.order_type == "Market")
        if order.order_type == "Limit" and not order.price:
            raise SimError(SimErrorKind.BAD_PARAM, "price is required for a limit order")
        if order.order_type == "Limit" and order.price:
            check_price(inst, order.side, order.price, price_now)
        pos = self.position(order.base, order.position_idx)
        closing = self._is_closing(order, pos)
        check_reduce_only(order.reduce_only, closing)
        if closing and order.reduce_only:
            order.qty = min(order.qty, pos.size)
        ref_price = order.price if order.order_type == "Limit" and order.price else price_now
        check_notional(inst, order.qty, ref_price, closing)
        self._check_tpsl(order, price_now)
        if not closing:
            need = order.qty * ref_price / self.leverage_of(order.base) + order.qty * ref_price * self.taker_fee
            marks = {**self._entry_prices(), **(prices or {}), order.base: price_now}
            if need > self.available(marks):
                raise SimError(SimErrorKind.INSUFFICIENT_BALANCE, "insufficient available balance")
        order.order_id = self.new_id()
        order.created_ms = order.updated_ms = now_ms
        order.leverage = self.leverage_of(order.base)
        order.last_price_on_create = price_now
        if order.trigger_price is not None:
            order.status = OrderStatus.UNTRIGGERED
            order.trigger_rises = order.trigger_price > price_now
        self.orders[order.order_id] = order
        if order.client_id:
            self.by_client[order.client_id] = order.order_id
        if (order.status is OrderStatus.NEW and order.order_type == "Market") or (
            order.status is OrderStatus.NEW and order.price is not None and self._limit_crosses(order, price_now)
        ):
            self.fill(order, price_now, now_ms, is_maker=False)
        return order

    def _entry_prices(self) -> dict[str, float]:
        return {p.base: p.entry for p in self.positions.values() if p.size > 0}

    def _check_tpsl(self, order: SimOrder, price: float) -> None:
        if order.position_idx == 2:
            long_entry = False
        elif order.position_idx == 1:
            long_entry = True
        else:
            long_entry = order.side == "Buy"
        if order.take_profit is not None and (
            (order.take_profit <= price) if long_entry else (order.take_profit >= price)
        ):
            raise SimError(SimErrorKind.BAD_PARAM, "take profit on the wrong side of the last price")
        if order.stop_loss is not None and ((order.stop_loss >= price) if long_entry else (order.stop_loss <= price)):
            raise SimError(SimErrorKind.BAD_PARAM, "stop loss on the wrong side of the last price")

    def _is_closing(self, order: SimOrder, pos: SimPosition) -> bool:
        if order.position_idx == 1:
            return order.side == "Sell"
        if order.position_idx == 2:
            return order.side == "Buy"
        return pos.size > 0 and pos.side != order.side

    @staticmethod
    def _limit_crosses(order: SimOrder, price: float) -> bool:
        assert order.price is not None
        return price <= order.price if order.side == "Buy" else price >= order.price

    def amend(self, order: SimOrder, change: OrderChange, price_now: float, now_ms: int) -> SimOrder:
        """Change an open order's quantity, price, trigger or TP/SL (only the fields given); a limit price moved
        through the market fills at once, as a new order would."""
        if order.status not in ACTIVE_STATUSES:
            raise SimError(SimErrorKind.ORDER_FINISHED, "order has been filled or cancelled")
        inst = self.instrument(order.base)
        if change.qty is not None:
            check_quantity(inst, change.qty, market_order=order.order_type == "Market")
            order.qty = change.qty
        if change.price is not None and order.order_type == "Limit":
            check_price(inst, order.side, change.price, price_now)
            order.price = change.price
        if change.trigger_price is not None and order.trigger_price is not None:
            order.trigger_price = change.trigger_price
            order.trigger_rises = change.trigger_price > price_now
        if change.take_profit is not None:
            order.take_profit = change.take_profit or None
        if change.stop_loss is not None:
            order.stop_loss = change.stop_loss or None
        order.updated_ms = now_ms
        if order.status is OrderStatus.NEW and order.price is not None and self._limit_crosses(order, price_now):
            self.fill(order, price_now, now_ms, is_maker=False)
        return order

    def find(self, order_id: str | None, client_id: str | None) -> SimOrder:
        if order_id and order_id in self.orders:
            return self.orders[order_id]
        if client_id and client_id in self.by_client:
            return self.orders[self.by_client[client_id]]
        raise SimError(SimErrorKind.ORDER_NOT_FOUND, "order does not exist")

    def cancel(self, order_id: str | None, client_id: str | None, now_ms: int) -> SimOrder:
        order = self.find(order_id, client_id)
        if order.status not in ACTIVE_STATUSES:
            raise SimError(SimErrorKind.ORDER_FINISHED, "order has been filled or cancelled")
        order.status = OrderStatus.CANCELLED
        order.updated_ms = now_ms
        return order

    def open_orders(self, base: str | None = None) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.status in ACTIVE_STATUSES and (base is None or o.base == base)]

    # ---- fills --------------------------------------------------------------------------------------------
    def on_tick(self, base: str, price: float) -> float:
        """The price as the exchange would print it: a whole number of ticks (real venues never fill between ticks)."""
        tick = float(self.instruments[base].tick_size)
        return round(round(price / tick) * tick, 10)

    def fill(self, order: SimOrder, price: float, now_ms: int, *, is_maker: bool) -> None:
        price = self.on_tick(order.base, price)
        pos = self.position(order.base, order.position_idx)
        qty = order.qty - order.filled_qty
        if order.reduce_only or self._is_closing(order, pos):
            if pos.size <= 0:
                order.status = OrderStatus.CANCELLED
                order.updated_ms = now_ms
                return
            if order.reduce_only or order.position_idx in (1, 2):
                qty = min(qty, pos.size)
        rate = self.maker_fee if is_maker else self.taker_fee
        fee = qty * price * rate
        closed, realised = self._apply_to_position(pos, order.side, qty, price, now_ms)
        if (order.take_profit is not None or order.stop_loss is not None) and pos.size > 0:
            pos.take_profit = order.take_profit if order.take_profit is not None else pos.take_profit
            pos.stop_loss = order.stop_loss if order.stop_loss is not None else pos.stop_loss
        if pos.size <= 0:
            self._cancel_reduce_only(pos, order, now_ms)
        self.wallet += realised - fee
        self.cum_realised += realised - fee
        pos.cum_realised += realised - fee
        order.avg_price = price
        order.filled_qty += qty
        order.qty = order.filled_qty if order.reduce_only else order.qty
        order.fee += fee
        order.status = OrderStatus.FILLED
        order.updated_ms = now_ms
        self.executions.append(
            Execution(
                exec_id=self.new_id(),
                order_id=order.order_id,
                client_id=order.client_id,
                base=order.base,
                side=order.side,
                price=price,
                qty=qty,
                fee=fee,
                fee_rate=rate,
                is_maker=is_maker,
                exec_type="Trade",
                ts=now_ms,
                order_type=order.order_type,
                closed_size=closed,
                realised_pnl=realised,
                order_qty=order.qty,
                order_price=order.price or 0.0,
            )
        )

    def _cancel_reduce_only(self, pos: SimPosition, keep: SimOrder, now_ms: int) -> None:
        """A closed position takes its reduce-only (TP/SL) orders with it, as both exchanges do."""
        for other in self.orders.values():
            if (
                other is not keep
                and other.reduce_only
                and other.status in ACTIVE_STATUSES
                and other.base == pos.base
                and other.position_idx == pos.position_idx
            ):
                other.status = OrderStatus.CANCELLED
                other.updated_ms = now_ms

    def _apply_to_position(
        self, pos: SimPosition, side: str, qty: float, price: float, now_ms: int
    ) -> tuple[float, float]:
        """Add or reduce; return (closed size, realised pnl). One-way positions may flip."""
        if pos.size == 0:
            if (pos.position_idx == 2 and side == "Buy") or (pos.position_idx == 1 and side == "Sell"):
                return 0.0, 0.0
            pos.side = side if pos.position_idx == 0 else ("Buy" if pos.position_idx == 1 else "Sell")
            pos.size, pos.entry, pos.created_ms = qty, price, now_ms
            pos.take_profit = pos.stop_loss = None
            pos.updated_ms = now_ms
            return 0.0, 0.0
        if side == pos.side:
            pos.entry = (pos.entry * pos.size + price * qty) / (pos.size + qty)
            pos.size += qty
            pos.updated_ms = now_ms
            return 0.0, 0.0
        closed = min(qty, pos.size)
        sign = 1 if pos.side == "Buy" else -1
        realised = sign * (price - pos.entry) * closed
        pos.size = round(pos.size - closed, 12)
        pos.updated_ms = now_ms
        rest = qty - closed
        if pos.size <= 0:
            pos.size, pos.side, pos.entry = 0.0, "", 0.0
            pos.take_profit = pos.stop_loss = None
            if rest > 0 and pos.position_idx == 0:
                pos.side, pos.size, pos.entry, pos.created_ms = side, rest, price, now_ms
        return closed, realised

    # ---- market events ------------------------------------------------------------------------------------
    def on_price(self, base: str, prev: float, price: float, now_ms: int) -> None:
        """Walk one path step from ``prev`` to ``price``: resting limits, trigger orders, position TP/SL."""
        lo, hi = min(prev, price), max(prev, price)
        for order in list(self.orders.values()):
            if order.base != base:
                continue
            if order.status is OrderStatus.UNTRIGGERED and order.trigger_price is not None:
                tp = order.trigger_price
                if (order.trigger_rises and hi >= tp) or (not order.trigger_rises and lo <= tp):
                    order.status = OrderStatus.NEW
                    order.updated_ms = now_ms
                    if order.order_type == "Market":
                        self.fill(order, tp, now_ms, is_maker=False)
            elif (
                order.status is OrderStatus.NEW
                and order.order_type == "Limit"
                and order.price is not None
                and ((order.side == "Buy" and lo <= order.price) or (order.side == "Sell" and hi >= order.price))
            ):
                self.fill(order, order.price, now_ms, is_maker=True)
        for pos in list(self.positions.values()):
            if pos.base != base or pos.size <= 0:
                continue
            is_long = pos.side == "Buy"
            hit_sl = pos.stop_loss is not None and ((lo <= pos.stop_loss) if is_long else (hi >= pos.stop_loss))
            hit_tp = pos.take_profit is not None and ((hi >= pos.take_profit) if is_long else (lo <= pos.take_profit))
            if hit_sl or hit_tp:
                level = pos.stop_loss if hit_sl else pos.take_profit
                assert level is not None
                self._close_by_trigger(pos, level, "StopLoss" if hit_sl else "TakeProfit", now_ms)

    def _close_by_trigger(self, pos: SimPosition, level: float, kind: str, now_ms: int) -> None:
        order = SimOrder(
            order_id=self.new_id(),
            client_id="",
            base=pos.base,
            side="Sell" if pos.side == "Buy" else "Buy",
            order_type="Market",
            qty=pos.size,
            price=None,
            position_idx=pos.position_idx,
            reduce_only=True,
            created_ms=now_ms,
            stop_order_type=kind,
            trigger_price=level,
        )
        self.orders[order.order_id] = order
        self.fill(order, level, now_ms, is_maker=False)

    def settle_funding(self, base: str, price: float, rate: float, now_ms: int) -> None:
        """Longs pay shorts when the rate is positive: payment = size × price × rate."""
        for pos in self.positions.values():
            if pos.base != base or pos.size <= 0:
                continue
            sign = 1 if pos.side == "Buy" else -1
            payment = sign * pos.size * price * rate
            self.wallet -= payment
            pos.cum_realised -= payment
            self.executions.append(
                Execution(
                    exec_id=self.new_id(),
                    order_id=self.new_id(),
                    client_id="",
                    base=base,
                    side=pos.side,
                    price=price,
                    qty=pos.size,
                    fee=payment,
                    fee_rate=rate,
                    is_maker=False,
                    exec_type="Funding",
                    ts=now_ms,
                    order_type="UNKNOWN",
                )
            )
