"""What a trader does by hand on one connection — close one Real position, close every position of a symbol,
cancel one open order — through the connection's order manager like every order of the engine: a reduce-only
market close gets its write-ahead row and client id (``OrderManager.close_position``), a cancel goes to the
exchange first and its row follows the exchange's answer; each is logged and reconciled at the next sync."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.position_ledger import OPEN_STATES
from cts_desktop.events.trading import OrderChanged
from cts_desktop.storage.models import Order, RealPosition

log = logging.getLogger("cts.engine.manual")
CANCELLABLE = ("open", "partially_filled")
MANUAL_REASON = "manual"


class ManualActionError(Exception):
    """A manual action that cannot be done (said in plain words)."""


def _open_position(session: Session, connection_id: str, position_id: int) -> RealPosition | None:
    position = session.get(RealPosition, position_id)
    if position is None or position.connection_id != connection_id or position.status not in OPEN_STATES:
        return None
    return position


async def close_position(orders: OrderManager, position_id: int) -> str:
    """Close what is open of one Real position (reduce-only market order); returns the order's status."""
    connection_id = orders.connection_id
    position = await orders.db.run(lambda s: _open_position(s, connection_id, position_id))
    if position is None:
        raise ManualActionError(f"position #{position_id} is not open on this connection")
    log.warning("closing position #%s %s %s by hand", position_id, position.side, position.symbol,
                extra={"connection_id": connection_id, "symbol": position.symbol})
    return await orders.close_position(position_id, MANUAL_REASON)


async def close_symbol(orders: OrderManager, symbol: str) -> int:
    """Close every open Real position of ``symbol``; returns how many close orders went out."""
    connection_id = orders.connection_id
    ids = await orders.db.run(lambda s: list(s.execute(select(RealPosition.id).where(
        RealPosition.connection_id == connection_id, RealPosition.symbol == symbol,
        RealPosition.status.in_(OPEN_STATES))).scalars()))
    if not ids:
        raise ManualActionError(f"no open position in {symbol} on this connection")
    log.warning("closing every position of %s by hand (%d)", symbol, len(ids),
                extra={"connection_id": connection_id, "symbol": symbol})
    sent = 0
    for position_id in ids:
        status = await orders.close_position(position_id, MANUAL_REASON)
        sent += status not in ("nothing to close", "rejected", "failed")
    return sent


def _order(session: Session, connection_id: str, order_id: int) -> tuple[str, str | None, str, bool, str] | None:
    row = session.get(Order, order_id)
    if row is None or row.connection_id != connection_id:
        return None
    return row.symbol, row.exchange_order_id, row.client_order_id, bool(row.external), row.status


def _mark_cancelled(session: Session, order_id: int) -> None:
    row = session.get(Order, order_id)
    if row is not None and row.status in CANCELLABLE:
        row.status = "canceled"


async def cancel_order(orders: OrderManager, order_id: int) -> None:
    """Cancel one open order on the exchange, then mark its row cancelled."""
    connection_id = orders.connection_id
    found = await orders.db.run(lambda s: _order(s, connection_id, order_id))
    if found is None:
        raise ManualActionError(f"order #{order_id} is not an order of this connection")
    symbol, exchange_id, client_id, external, status = found
    if status not in CANCELLABLE:
        raise ManualActionError(f"order #{order_id} is {status}: there is nothing to cancel")
    await orders.broker.cancel_order(symbol, exchange_id, None if external and exchange_id else client_id)
    await orders.ledger(lambda s: _mark_cancelled(s, order_id))
    log.warning("order #%s (%s) on %s cancelled by hand", order_id, exchange_id or client_id, symbol,
                extra={"connection_id": connection_id, "symbol": symbol})
    orders.bus.publish(OrderChanged(key=connection_id, client_order_id=client_id, symbol=symbol, status="canceled",
                                    paper=orders.paper))
