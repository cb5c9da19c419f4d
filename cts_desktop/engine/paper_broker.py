"""The paper broker: executes orders against the live price stream instead of the exchange.

It speaks the :class:`~cts_desktop.engine.broker.Broker` protocol with the exchange's own value objects, so paper
and live orders take the same path through the order manager. Market orders fill at the last price of the feed;
limit orders rest until the price crosses them; attached take-profit / stop-loss levels sit on the position and
trigger on the feed like an exchange's conditional orders (filled at the price that crossed them). Every fill pays
the market's taker fee. Money is Decimal throughout. A client id that was used before is refused, as exchanges do.

The starting balance is the exchange account's balance read when the engine starts — never an invented figure.
Funding is not simulated on paper (no funding rate feed is consumed here); live positions get real funding rows.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from decimal import Decimal

from cts_desktop.exchanges.errors import DuplicateClientIdError, InvalidOrderError, OrderUnknownError
from cts_desktop.exchanges.models import (
    Balance,
    FundingPayment,
    Order,
    OrderRequest,
    OrderSide,
    OrderType,
    Position,
    PositionSide,
    Trade,
)
from cts_desktop.storage.types import to_decimal

ZERO = Decimal(0)


@dataclass(slots=True)
class _PaperPosition:
    symbol: str
    side: PositionSide
    quantity: Decimal
    entry: Decimal
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None


@dataclass(slots=True)
class _PaperOrder:
    id: str
    client_id: str
    req: OrderRequest
    status: str = "open"
    filled: Decimal = ZERO
    average: Decimal | None = None
    fee: Decimal = ZERO
    timestamp: int = field(default_factory=lambda: int(time.time() * 1000))

    def view(self) -> Order:
        return Order(
            id=self.id, client_id=self.client_id, symbol=self.req.symbol, side=self.req.side.value,
            order_type=self.req.order_type.value, status=self.status, amount=self.req.amount,
            filled=float(self.filled), average=None if self.average is None else float(self.average),
            price=self.req.price, fee=float(self.fee), timestamp=self.timestamp, reduce_only=self.req.reduce_only,
        )


class PaperBroker:
    def __init__(self, starting_balance: Decimal, taker_fees: dict[str, Decimal], default_fee: Decimal) -> None:
        self.cash = starting_balance
        self.taker_fees = taker_fees
        self.default_fee = default_fee
        self.prices: dict[str, Decimal] = {}
        self.leverage: dict[str, Decimal] = {}
        self.orders: dict[str, _PaperOrder] = {}
        self.positions_: dict[tuple[str, PositionSide], _PaperPosition] = {}
        self.trades: list[Trade] = []
        self._ids = itertools.count(1)

    # --- feed ---------------------------------------------------------------------------------------------------

    def on_price(self, symbol: str, price: float, ts_ms: int | None = None) -> list[Trade]:
        """A new price: fill crossing limit orders and triggered TP/SL. Returns the trades it made."""
        value = to_decimal(price)
        self.prices[symbol] = value
        made: list[Trade] = []
        for order in [o for o in self.orders.values() if o.status == "open" and o.req.symbol == symbol]:
            limit = to_decimal(order.req.price)
            buy = order.req.side is OrderSide.BUY
            if (buy and value <= limit) or (not buy and value >= limit):
                made += self._fill(order, limit, ts_ms)
        for key, pos in list(self.positions_.items()):
            if pos.symbol != symbol:
                continue
            long = pos.side is PositionSide.LONG
            hit_tp = pos.take_profit is not None and (value >= pos.take_profit if long else value <= pos.take_profit)
            hit_sl = pos.stop_loss is not None and (value <= pos.stop_loss if long else value >= pos.stop_loss)
            if hit_sl or hit_tp:
                made += self._close_at(key, value, ts_ms, "sl" if hit_sl else "tp")
        return made

    # --- Broker protocol -----------------------------------------------------------------------------------------

    async def place_order(self, req: OrderRequest) -> Order:
        if req.client_id in self.orders:
            raise DuplicateClientIdError(f"paper: client order id {req.client_id} was used before")
        if req.amount <= 0:
            raise InvalidOrderError("paper: order quantity must be positive")
        order = _PaperOrder(id=f"paper-{next(self._ids)}", client_id=req.client_id, req=req)
        self.orders[req.client_id] = order
        if req.order_type is OrderType.MARKET:
            price = self.prices.get(req.symbol)
            if price is None:
                order.status = "rejected"
                raise InvalidOrderError(f"paper: no price for {req.symbol} yet")
            self._fill(order, price, None)
        elif req.price is None:
            order.status = "rejected"
            raise InvalidOrderError("paper: a limit order needs a price")
        return order.view()

    async def order_by_client_id(self, symbol: str, client_id: str) -> Order:
        order = self.orders.get(client_id)
        if order is None or order.req.symbol != symbol:
            raise OrderUnknownError(f"paper: no order {client_id}")
        return order.view()

    async def cancel_order(self, symbol: str, order_id: str | None = None, client_id: str | None = None) -> None:
        for order in self.orders.values():
            if order.req.symbol == symbol and (order.id == order_id or order.client_id == client_id):
                if order.status != "open":
                    raise OrderUnknownError(f"paper: order {order.client_id} is {order.status}")
                order.status = "canceled"
                return
        raise OrderUnknownError(f"paper: no order {client_id or order_id}")

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        return [o.view() for o in self.orders.values()
                if o.status == "open" and (symbol is None or o.req.symbol == symbol)]

    async def positions(self, symbols: list[str] | None = None) -> list[Position]:
        out = []
        for pos in self.positions_.values():
            if symbols is not None and pos.symbol not in symbols:
                continue
            mark = self.prices.get(pos.symbol, pos.entry)
            out.append(Position(
                symbol=pos.symbol, side=pos.side, contracts=float(pos.quantity), entry_price=float(pos.entry),
                mark_price=float(mark), leverage=float(self.leverage.get(pos.symbol, Decimal(1))),
                unrealized_pnl=float(self._unrealized(pos)), margin_mode="cross", hedged=True,
                take_profit=None if pos.take_profit is None else float(pos.take_profit),
                stop_loss=None if pos.stop_loss is None else float(pos.stop_loss),
            ))
        return out

    async def balance(self, asset: str = "USDT") -> Balance:
        used = sum((pos.quantity * pos.entry / self.leverage.get(pos.symbol, Decimal(1))
                    for pos in self.positions_.values()), ZERO)
        equity = self.cash + sum((self._unrealized(p) for p in self.positions_.values()), ZERO)
        return Balance(asset=asset, total=float(equity), free=float(equity - used), used=float(used))

    async def my_trades(self, symbol: str, since: int | None = None, limit: int | None = None) -> list[Trade]:
        rows = [t for t in self.trades if t.symbol == symbol and (since is None or (t.timestamp or 0) >= since)]
        return rows[-limit:] if limit else rows

    async def funding_history(self, symbol: str, since: int | None = None) -> list[FundingPayment]:
        return []

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        self.leverage[symbol] = to_decimal(leverage)

    # --- internals -------------------------------------------------------------------------------------------------

    def _fee_rate(self, symbol: str) -> Decimal:
        return self.taker_fees.get(symbol, self.default_fee)

    def _unrealized(self, pos: _PaperPosition) -> Decimal:
        mark = self.prices.get(pos.symbol, pos.entry)
        sign = 1 if pos.side is PositionSide.LONG else -1
        return (mark - pos.entry) * pos.quantity * sign

    def _trade(self, order_id: str | None, symbol: str, side: OrderSide, price: Decimal, qty: Decimal,
               ts_ms: int | None) -> Trade:
        fee = qty * price * self._fee_rate(symbol)
        self.cash -= fee
        trade = Trade(id=f"paper-t{len(self.trades) + 1}", order_id=order_id, symbol=symbol, side=side.value,
                      price=float(price), amount=float(qty), fee=float(fee),
                      timestamp=ts_ms or int(time.time() * 1000))
        self.trades.append(trade)
        return trade

    def _fill(self, order: _PaperOrder, price: Decimal, ts_ms: int | None) -> list[Trade]:
        req = order.req
        qty = to_decimal(req.amount)
        opening_side = PositionSide.LONG if req.side is OrderSide.BUY else PositionSide.SHORT
        if req.reduce_only:
            target = PositionSide.SHORT if opening_side is PositionSide.LONG else PositionSide.LONG
            key = (req.symbol, target)
            pos = self.positions_.get(key)
            if pos is None:
                order.status = "rejected"
                raise InvalidOrderError(f"paper: no {target.value} position in {req.symbol} to reduce")
            qty = min(qty, pos.quantity)
            trade = self._trade(order.id, req.symbol, req.side, price, qty, ts_ms)
            self._reduce(key, qty, price)
        else:
            trade = self._trade(order.id, req.symbol, req.side, price, qty, ts_ms)
            key = (req.symbol, opening_side)
            pos = self.positions_.get(key)
            if pos is None:
                pos = _PaperPosition(req.symbol, opening_side, qty, price)
                self.positions_[key] = pos
            else:
                total = pos.quantity + qty
                pos.entry = (pos.entry * pos.quantity + price * qty) / total
                pos.quantity = total
            if req.take_profit is not None:
                pos.take_profit = to_decimal(req.take_profit)
            if req.stop_loss is not None:
                pos.stop_loss = to_decimal(req.stop_loss)
        order.filled = qty
        order.average = price
        order.fee = to_decimal(trade.fee or 0)
        order.status = "closed"
        return [trade]

    def _reduce(self, key: tuple[str, PositionSide], qty: Decimal, price: Decimal) -> None:
        pos = self.positions_[key]
        sign = 1 if pos.side is PositionSide.LONG else -1
        self.cash += (price - pos.entry) * qty * sign
        pos.quantity -= qty
        if pos.quantity <= 0:
            del self.positions_[key]

    def _close_at(self, key: tuple[str, PositionSide], price: Decimal, ts_ms: int | None, why: str) -> list[Trade]:
        pos = self.positions_[key]
        side = OrderSide.SELL if pos.side is PositionSide.LONG else OrderSide.BUY
        trade = self._trade(f"paper-{why}-{next(self._ids)}", pos.symbol, side, price, pos.quantity, ts_ms)
        self._reduce(key, pos.quantity, price)
        return [trade]
