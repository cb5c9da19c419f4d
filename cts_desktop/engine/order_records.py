"""The order manager's database work: each function runs inside one transaction (``Database.run``).

Kept apart from the exchange calls so the order of events is plain in ``order_manager.py``: the order row is
committed as ``pending`` *before* the order is sent, and every answer (or the lack of one) updates that row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cts_desktop.engine.pnl import FillRow, PositionPnl, position_pnl
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.exchanges.models import Position, Trade
from cts_desktop.storage.models import ExchangePosition, Fill, FundingPayment, Order, RealPosition
from cts_desktop.storage.types import to_decimal

OPEN_STATES = ("opening", "open", "closing")
UNRESOLVED_ORDER_STATES = ("pending", "unknown")


@dataclass(frozen=True, slots=True)
class NewEntry:
    connection_id: str
    set_id: int | None
    symbol: str
    direction: str
    paper: bool
    quantity: Decimal
    leverage: float
    take_profit: Decimal | None
    stop_loss: Decimal | None
    client_order_id: str


def order_status(order: ExchangeOrder) -> str:
    """Our order status from ccxt's: open / closed (= filled) / canceled / rejected."""
    status = (order.status or "").lower()
    if status == "closed":
        return "filled"
    if status in ("canceled", "cancelled", "expired"):
        return "canceled"
    if status == "rejected":
        return "rejected"
    if order.filled and order.filled > 0:
        return "partially_filled"
    return "open"


def insert_entry(session: Session, entry: NewEntry) -> tuple[int, int]:
    """The Real position (``opening``) and its entry order (``pending``), committed before anything is sent."""
    position = RealPosition(
        connection_id=entry.connection_id, set_id=entry.set_id, symbol=entry.symbol, side=entry.direction,
        paper=entry.paper, quantity=entry.quantity, take_profit=entry.take_profit, stop_loss=entry.stop_loss,
        leverage=entry.leverage, status="opening",
    )
    session.add(position)
    session.flush()
    order = Order(
        connection_id=entry.connection_id, client_order_id=entry.client_order_id, real_position_id=position.id,
        symbol=entry.symbol, side="buy" if entry.direction == "long" else "sell", order_type="market",
        quantity=entry.quantity, take_profit=entry.take_profit, stop_loss=entry.stop_loss, paper=entry.paper,
        status="pending",
    )
    session.add(order)
    session.flush()
    return position.id, order.id


def insert_exit_order(
    session: Session, connection_id: str, position_id: int, client_order_id: str, paper: bool
) -> Decimal:
    """A reduce-only market order closing what is still open of a Real position; returns its quantity — 0, and no
    order, when nothing is open any more (closed meanwhile, e.g. by its exchange-side stop: writing the order and
    marking the position ``closing`` anyway reopened a closed position, and the order row was never sent)."""
    position = session.get(RealPosition, position_id)
    assert position is not None
    if position.status not in OPEN_STATES:
        return Decimal(0)
    pnl = pnl_of(session, position)
    quantity = pnl.open_quantity if pnl.opened_quantity > 0 else position.quantity
    if quantity <= 0:
        return Decimal(0)
    session.add(Order(
        connection_id=connection_id, client_order_id=client_order_id, real_position_id=position_id,
        symbol=position.symbol, side="sell" if position.side == "long" else "buy", order_type="market",
        quantity=quantity, reduce_only=True, paper=paper, status="pending",
    ))
    position.status = "closing"
    return quantity


def apply_order_answer(session: Session, client_order_id: str, answer: ExchangeOrder) -> None:
    row = session.execute(select(Order).where(Order.client_order_id == client_order_id)).scalar_one()
    row.exchange_order_id = answer.id
    row.status = order_status(answer)
    row.filled = to_decimal(answer.filled or 0)
    if answer.average:
        row.average_price = to_decimal(answer.average)
    if answer.fee is not None:
        row.fee = to_decimal(answer.fee)
    position = session.get(RealPosition, row.real_position_id) if row.real_position_id else None
    if position is not None and not row.reduce_only:
        if row.status in ("filled", "partially_filled"):
            position.status = "open" if position.status == "opening" else position.status
            if answer.average:
                position.entry_price = to_decimal(answer.average)
        elif row.status in ("canceled", "rejected"):
            position.status = "failed"
            position.closed_at = datetime.now(UTC)


def mark_order_failed(session: Session, client_order_id: str, status: str, error: str) -> None:
    row = session.execute(select(Order).where(Order.client_order_id == client_order_id)).scalar_one()
    row.status = status
    row.error = error[:2000]
    if row.real_position_id and not row.reduce_only:
        position = session.get(RealPosition, row.real_position_id)
        if position is not None and position.status == "opening":
            position.status = "failed"
            position.close_reason = "order_failed"
            position.closed_at = datetime.now(UTC)
    elif row.real_position_id:
        position = session.get(RealPosition, row.real_position_id)
        if position is not None and position.status == "closing":
            position.status = "open"  # the close did not happen: the position is still there


def mark_order_unknown(session: Session, client_order_id: str, error: str) -> None:
    row = session.execute(select(Order).where(Order.client_order_id == client_order_id)).scalar_one()
    row.status = "unknown"
    row.error = error[:2000]


def unresolved_orders(session: Session, connection_id: str) -> list[tuple[str, str, datetime]]:
    rows = session.execute(
        select(Order.client_order_id, Order.symbol, Order.created_at).where(
            Order.connection_id == connection_id, Order.status.in_(UNRESOLVED_ORDER_STATES)
        )
    ).all()
    return [(r[0], r[1], r[2]) for r in rows]


def known_client_ids(session: Session, connection_id: str) -> set[str]:
    return set(session.execute(
        select(Order.client_order_id).where(Order.connection_id == connection_id)
    ).scalars())


def known_exchange_ids(session: Session, connection_id: str) -> set[str]:
    return {
        x for x in session.execute(
            select(Order.exchange_order_id).where(Order.connection_id == connection_id)
        ).scalars() if x
    }


def insert_external_order(session: Session, connection_id: str, order: ExchangeOrder, paper: bool) -> None:
    session.add(Order(
        connection_id=connection_id, client_order_id=order.client_id or f"ext-{order.id}"[:64],
        exchange_order_id=order.id, symbol=order.symbol, side=order.side, order_type=order.order_type or "limit",
        quantity=to_decimal(order.amount), price=None if order.price is None else to_decimal(order.price),
        paper=paper, external=True, status=order_status(order),
    ))


# --- fills, funding, positions -------------------------------------------------------------------------------------


def record_fills(session: Session, connection_id: str, trades: list[Trade]) -> list[int]:
    """Insert new fills (a fill already stored is skipped); returns the Real positions they touched."""
    if not trades:
        return []
    stored = set(session.execute(
        select(Fill.exchange_trade_id).where(
            Fill.connection_id == connection_id, Fill.exchange_trade_id.in_([t.id for t in trades])
        )
    ).scalars())
    touched: set[int] = set()
    for trade in trades:
        if trade.id in stored:
            continue
        order = None
        if trade.order_id:
            order = session.execute(
                select(Order).where(Order.connection_id == connection_id, Order.exchange_order_id == trade.order_id)
            ).scalar_one_or_none()
        session.add(Fill(
            connection_id=connection_id, order_id=order.id if order else None, exchange_trade_id=trade.id,
            symbol=trade.symbol, side=trade.side, quantity=to_decimal(trade.amount), price=to_decimal(trade.price),
            fee=to_decimal(trade.fee or 0),
            ts=datetime.fromtimestamp((trade.timestamp or 0) / 1000, UTC),
        ))
        stored.add(trade.id)
        position_id = order.real_position_id if order is not None else None
        if position_id is None:  # no order of ours: an exchange-side TP/SL (unknown, or recorded as external)
            position_id = _closing_target(session, connection_id, trade)
        if position_id is not None:
            touched.add(position_id)
    session.flush()
    return sorted(touched)


def _closing_target(session: Session, connection_id: str, trade: Trade) -> int | None:
    """A fill of an order we did not send (an exchange-side TP/SL): a sell closes the open long, a buy the short."""
    direction = "long" if trade.side == "sell" else "short"
    return session.execute(
        select(RealPosition.id).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == trade.symbol,
            RealPosition.side == direction, RealPosition.status.in_(OPEN_STATES),
        ).order_by(RealPosition.id)
    ).scalars().first()


def fills_of(session: Session, position: RealPosition) -> list[FillRow]:
    """Fills of the position's own orders, plus closing fills of orders we did not send routed to it (see
    ``_closing_target``): fills without an order row, and fills of orders recorded as external — an exchange-side
    TP/SL order that showed up in the open orders before it fired is such an order."""
    order_ids = list(session.execute(select(Order.id).where(Order.real_position_id == position.id)).scalars())
    linked = list(session.execute(select(Fill).where(Fill.order_id.in_(order_ids))).scalars()) if order_ids else []
    closing_side = "sell" if position.side == "long" else "buy"
    foreign_orders = select(Order.id).where(Order.connection_id == position.connection_id,
                                            Order.real_position_id.is_(None))
    unlinked = list(session.execute(
        select(Fill).where(
            Fill.connection_id == position.connection_id,
            or_(Fill.order_id.is_(None), Fill.order_id.in_(foreign_orders)), Fill.symbol == position.symbol,
            Fill.side == closing_side, Fill.ts >= position.opened_at - timedelta(seconds=5),
        ).order_by(Fill.id)
    ).scalars())
    rows = [FillRow(f.side, f.quantity, f.price, f.fee) for f in linked]
    opened = sum((f.quantity for f in linked if f.side != closing_side), Decimal(0))
    closed = sum((f.quantity for f in linked if f.side == closing_side), Decimal(0))
    for fill in unlinked:  # only as much as is still open
        if closed >= opened:
            break
        rows.append(FillRow(fill.side, fill.quantity, fill.price, fill.fee))
        closed += fill.quantity
    return rows


def pnl_of(session: Session, position: RealPosition) -> PositionPnl:
    return position_pnl(position.side, fills_of(session, position), position.funding or Decimal(0))


def settle_position(session: Session, position_id: int, exchange_has_it: bool | None) -> RealPosition:
    """Recompute a Real position from its fills; close it when its quantity is closed (or the exchange has none)."""
    position = session.get(RealPosition, position_id)
    assert position is not None
    pnl = pnl_of(session, position)
    if pnl.entry_price is not None:
        position.entry_price = pnl.entry_price
    if pnl.opened_quantity > 0:
        position.quantity = pnl.opened_quantity
    position.fees = pnl.fees
    position.realized_pnl = pnl.gross
    if pnl.exit_price is not None:
        position.exit_price = pnl.exit_price
    if position.status in OPEN_STATES and pnl.opened_quantity > 0:
        if pnl.is_closed or (exchange_has_it is False and pnl.closed_quantity > 0):
            position.status = "closed"
            position.closed_at = position.closed_at or datetime.now(UTC)
            position.close_reason = position.close_reason or _close_reason(position, pnl)
        elif position.status == "opening":
            position.status = "open"
    return position


def _close_reason(position: RealPosition, pnl: PositionPnl) -> str:
    if pnl.exit_price is None:
        return "closed"
    if position.take_profit is not None and (
        (position.side == "long" and pnl.exit_price >= position.take_profit)
        or (position.side == "short" and pnl.exit_price <= position.take_profit)
    ):
        return "take_profit"
    if position.stop_loss is not None and (
        (position.side == "long" and pnl.exit_price <= position.stop_loss)
        or (position.side == "short" and pnl.exit_price >= position.stop_loss)
    ):
        return "stop_loss"
    return "closed"


def record_funding(session: Session, connection_id: str, symbol: str, amount: Decimal, ts: datetime) -> bool:
    exists = session.execute(
        select(FundingPayment.id).where(
            FundingPayment.connection_id == connection_id, FundingPayment.symbol == symbol, FundingPayment.ts == ts
        )
    ).first()
    if exists:
        return False
    session.add(FundingPayment(connection_id=connection_id, symbol=symbol, amount=amount, ts=ts))
    holders = list(session.execute(
        select(RealPosition).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == symbol,
            RealPosition.opened_at <= ts, (RealPosition.closed_at.is_(None)) | (RealPosition.closed_at >= ts),
            RealPosition.status.in_((*OPEN_STATES, "closed")),
        )
    ).scalars())
    if len(holders) == 1:
        holders[0].funding = (holders[0].funding or Decimal(0)) + amount
    return True


def mirror_positions(session: Session, connection_id: str, positions: list[Position]) -> None:
    """Replace the connection's open exchange-position rows with what the exchange reports now."""
    current = {
        (p.symbol, p.side): p for p in session.execute(
            select(ExchangePosition).where(
                ExchangePosition.connection_id == connection_id, ExchangePosition.status == "open"
            )
        ).scalars()
    }
    seen = set()
    for pos in positions:
        if pos.contracts <= 0:
            continue
        key = (pos.symbol, pos.side.value)
        seen.add(key)
        row = current.get(key)
        if row is None:
            row = ExchangePosition(connection_id=connection_id, symbol=pos.symbol, side=pos.side.value,
                                   quantity=Decimal(0), entry_price=Decimal(0))
            session.add(row)
            real_id = session.execute(
                select(RealPosition.id).where(
                    RealPosition.connection_id == connection_id, RealPosition.symbol == pos.symbol,
                    RealPosition.side == pos.side.value, RealPosition.status.in_(OPEN_STATES),
                )
            ).scalars().first()
            row.real_position_id = real_id
        row.quantity = to_decimal(pos.contracts)
        row.entry_price = to_decimal(pos.entry_price)
        row.mark_price = None if pos.mark_price is None else to_decimal(pos.mark_price)
        row.leverage = pos.leverage
        row.unrealized_pnl = to_decimal(pos.unrealized_pnl or 0)
        row.sync_status = "synced"
    for key, row in current.items():
        if key not in seen:
            row.status = "closed"
            row.closed_at = datetime.now(UTC)


def open_real_positions(session: Session, connection_id: str) -> list[RealPosition]:
    return list(session.execute(
        select(RealPosition).where(
            RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
        )
    ).scalars())


def count_open(session: Session, connection_id: str, symbol: str | None = None, direction: str | None = None) -> int:
    query = select(func.count()).where(
        RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
    )
    if symbol is not None:
        query = query.where(RealPosition.symbol == symbol)
    if direction is not None:
        query = query.where(RealPosition.side == direction)
    return int(session.execute(query).scalar_one())


def last_entry_at(session: Session, connection_id: str, symbol: str, direction: str) -> datetime | None:
    return session.execute(
        select(func.max(RealPosition.opened_at)).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == symbol,
            RealPosition.side == direction, RealPosition.status != "failed",
        )
    ).scalar_one()


def net_result_since(session: Session, connection_id: str, since: datetime) -> Decimal:
    rows = session.execute(
        select(RealPosition.realized_pnl, RealPosition.fees, RealPosition.funding).where(
            RealPosition.connection_id == connection_id, RealPosition.closed_at >= since,
            RealPosition.status == "closed",
        )
    ).all()
    return sum((r[0] - r[1] + r[2] for r in rows), Decimal(0))
