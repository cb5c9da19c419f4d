"""The order manager's database work: each function runs inside one transaction (``Database.run``).

Kept apart from the exchange calls so the order of events is plain in ``order_manager.py``: the order row is
committed as ``pending`` *before* the order is sent, and every answer (or the lack of one) updates that row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.position_ledger import OPEN_STATES
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.exchanges.models import Position
from cts_desktop.storage.models import ExchangePosition, FillAllocation, FundingPayment, Order, RealPosition
from cts_desktop.storage.types import to_decimal

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
    held = ledger.open_quantity(session, position.id)
    ever_filled = session.execute(
        select(FillAllocation.id).where(FillAllocation.real_position_id == position.id)
    ).first() is not None
    quantity = held if ever_filled or position.origin == "external" else position.quantity
    if quantity <= 0:
        return Decimal(0)
    session.add(Order(
        connection_id=connection_id, client_order_id=client_order_id, real_position_id=position_id,
        symbol=position.symbol, side="sell" if position.side == "long" else "buy", order_type="market",
        quantity=quantity, reduce_only=True, paper=paper, status="pending",
    ))
    position.status = "closing"
    return quantity


def apply_order_answer(session: Session, client_order_id: str, answer: ExchangeOrder) -> set[int]:
    """Record the exchange's answer for one of our orders; fills stored before its exchange id was known are
    linked now. Returns the Real positions whose fills changed."""
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
            position.status = "open" if position.status in ("opening", "failed") else position.status
            position.closed_at = None if position.status == "open" else position.closed_at
            if answer.average and position.entry_price is None:
                position.entry_price = to_decimal(answer.average)
        elif row.status in ("canceled", "rejected") and position.status == "opening":
            position.status = "failed"
            position.close_reason = "order_" + row.status
            position.closed_at = datetime.now(UTC)
    elif position is not None and row.status in ("canceled", "rejected") and position.status == "closing":
        position.status = "open"  # the close did not happen: the position is still there
    touched = ledger.link_order_fills(session, row)
    if position is not None:
        touched.add(position.id)
    return touched


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


# --- positions ------------------------------------------------------------------------------------------------------


def mirror_positions(session: Session, connection_id: str, positions: list[Position], *,
                     complete: bool = True) -> None:
    """Replace the connection's open exchange-position rows with what the exchange reports now. ``complete``: the
    list is every open position (a REST read) and rows not in it are closed; else it holds pushed updates (private
    stream) and only the listed positions change — one listed without contracts closes its row."""
    current = {
        (p.symbol, p.side): p for p in session.execute(
            select(ExchangePosition).where(
                ExchangePosition.connection_id == connection_id, ExchangePosition.status == "open"
            )
        ).scalars()
    }
    seen = set()
    for pos in positions:
        key = (pos.symbol, pos.side.value)
        if pos.contracts <= 0:
            if not complete and key in current:
                current[key].status = "closed"
                current[key].closed_at = datetime.now(UTC)
            continue
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
        # a pushed update may lack a figure (BingX's account stream has no mark price): the last one read stays
        if complete or pos.mark_price is not None:
            row.mark_price = None if pos.mark_price is None else to_decimal(pos.mark_price)
        if complete or pos.leverage is not None:
            row.leverage = pos.leverage
        if complete or pos.unrealized_pnl is not None:
            row.unrealized_pnl = to_decimal(pos.unrealized_pnl or 0)
        if complete or pos.liquidation_price is not None:
            row.liquidation_price = None if pos.liquidation_price is None else to_decimal(pos.liquidation_price)
        row.sync_status = "synced"
    for key, row in current.items():
        if complete and key not in seen:
            row.status = "closed"
            row.closed_at = datetime.now(UTC)


def open_real_positions(session: Session, connection_id: str) -> list[RealPosition]:
    return list(session.execute(
        select(RealPosition).where(
            RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
        )
    ).scalars())


def count_open(session: Session, connection_id: str, symbol: str | None = None, direction: str | None = None) -> int:
    """Live positions; per symbol and direction only the app's own (an external position found on the exchange
    does not take a set's place)."""
    query = select(func.count()).where(
        RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
    )
    if symbol is not None:
        query = query.where(RealPosition.symbol == symbol, RealPosition.origin != "external")
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
    """What trading did to the account since ``since``, as the exchange's wallet shows it: realised PnL less fees
    of the positions closed since, less the fees already paid on positions still open, plus every funding
    payment since (held positions pay it too). The daily-loss kill switch compares it with the balance."""
    closed = session.execute(
        select(RealPosition.realized_pnl, RealPosition.fees).where(
            RealPosition.connection_id == connection_id, RealPosition.closed_at >= since,
            RealPosition.status == "closed",
        )
    ).all()
    open_fees = session.execute(
        select(RealPosition.fees).where(
            RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
        )
    ).scalars()
    funding = session.execute(
        select(FundingPayment.amount).where(FundingPayment.connection_id == connection_id, FundingPayment.ts >= since)
    ).scalars()
    return (
        sum((to_decimal(pnl) - to_decimal(fees) for pnl, fees in closed), Decimal(0))
        - sum((to_decimal(f) for f in open_fees), Decimal(0))
        + sum((to_decimal(a) for a in funding), Decimal(0))
    )


def positions_of_order(session: Session, client_order_id: str) -> set[int]:
    position_id = session.execute(
        select(Order.real_position_id).where(Order.client_order_id == client_order_id)
    ).scalar_one_or_none()
    return set() if position_id is None else {position_id}


def unresolved_symbols(session: Session, connection_id: str) -> set[str]:
    return set(session.execute(
        select(Order.symbol).where(Order.connection_id == connection_id, Order.status.in_(UNRESOLVED_ORDER_STATES))
    ).scalars())
