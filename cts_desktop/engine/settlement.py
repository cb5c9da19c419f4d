"""Settling a difference between the DB and the exchange that no fill explains, once, with its reason.

Used by the reconciliation after the fills were read again and the difference stayed. The DB holds more than the
exchange: the positions whose exit order the exchange reported filled go first, then the oldest; each is reduced by
a negative :class:`PositionAdjustment` (closed as ``reconciled`` when nothing is left). The exchange holds more:
our own entries whose order the exchange reported filled beyond the fills it listed take it first; the rest is an
*external* position (opened on the exchange by someone else), shown and closable like any other, never counted
against a set's limit. A fill that arrives later takes the adjustment's place (``position_ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.position_ledger import OPEN_STATES, ZERO, SideKey
from cts_desktop.storage.models import FillAllocation, Order, PositionAdjustment, RealPosition
from cts_desktop.storage.types import to_decimal


@dataclass(frozen=True, slots=True)
class Settled:
    position_id: int
    quantity: Decimal  # signed: < 0 closed without a fill, > 0 held without a fill
    reason: str


@dataclass(slots=True)
class Settlement:
    key: SideKey
    db_quantity: Decimal
    exchange_quantity: Decimal
    parts: list[Settled] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return "; ".join(p.reason for p in self.parts)


def settle(
    session: Session, connection_id: str, key: SideKey, exchange_quantity: Decimal, exchange_entry: Decimal | None,
    paper: bool,
) -> Settlement:
    live = _live(session, connection_id, key)
    for position in live:
        ledger.refresh_position(session, position)
    db_quantity = sum((p.open_quantity for p in live), ZERO)
    settlement = Settlement(key, db_quantity, exchange_quantity)
    difference = exchange_quantity - db_quantity
    if difference < 0:
        _close_without_fills(session, settlement, live, -difference)
    elif difference > 0:
        _open_without_fills(session, connection_id, settlement, live, difference, exchange_entry, paper)
    session.flush()
    return settlement


def _live(session: Session, connection_id: str, key: SideKey) -> list[RealPosition]:
    return list(session.execute(
        select(RealPosition).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == key.symbol,
            RealPosition.side == key.side, RealPosition.status.in_(OPEN_STATES),
        ).order_by(RealPosition.opened_at, RealPosition.id)
    ).scalars())


def _close_without_fills(session: Session, settlement: Settlement, live: list[RealPosition], excess: Decimal) -> None:
    exiting = {pid for pid in session.execute(
        select(Order.real_position_id).where(Order.real_position_id.in_([p.id for p in live]), Order.reduce_only,
                                             Order.status.in_(("filled", "partially_filled")))
    ).scalars()}
    for position in sorted(live, key=lambda p: p.id not in exiting):  # stable: oldest first within each group
        quantity = min(excess, position.open_quantity)
        if quantity <= 0:
            continue
        why = "its exit order filled" if position.id in exiting else "closed on the exchange"
        reason = (f"{settlement.key.symbol} {settlement.key.side}: the exchange holds {settlement.exchange_quantity}, "
                  f"the DB {settlement.db_quantity}; {quantity} of position {position.id} closed without a fill from "
                  f"the exchange ({why})")
        _adjust(session, settlement, position, -quantity, reason)
        excess -= quantity
        if excess <= 0:
            return


def _open_without_fills(
    session: Session, connection_id: str, settlement: Settlement, live: list[RealPosition], deficit: Decimal,
    entry: Decimal | None, paper: bool,
) -> None:
    for position, unreported in _entries_filled_beyond_fills(session, live):
        quantity = min(deficit, unreported)
        reason = (f"{settlement.key.symbol} {settlement.key.side}: the exchange holds {settlement.exchange_quantity}, "
                  f"the DB {settlement.db_quantity}; {quantity} held by position {position.id}, whose entry the "
                  f"exchange reported filled without listing the fill")
        _adjust(session, settlement, position, quantity, reason)
        deficit -= quantity
        if deficit <= 0:
            return
    external = next((p for p in live if p.origin == "external"), None)
    if external is None:
        external = RealPosition(
            connection_id=connection_id, set_id=None, symbol=settlement.key.symbol, side=settlement.key.side,
            paper=paper, quantity=ZERO, entry_price=entry, status="open", origin="external",
        )
        session.add(external)
        session.flush()
    reason = (f"{settlement.key.symbol} {settlement.key.side}: the exchange holds {settlement.exchange_quantity}, the "
              f"DB {settlement.db_quantity}; {deficit} was not opened by this app: kept as external position "
              f"{external.id}")
    _adjust(session, settlement, external, deficit, reason)


def _entries_filled_beyond_fills(session: Session, live: list[RealPosition]) -> list[tuple[RealPosition, Decimal]]:
    out = []
    for position in live:
        if position.origin == "external":
            continue
        reported = sum((to_decimal(f) for f in session.execute(
            select(Order.filled).where(Order.real_position_id == position.id, Order.reduce_only.is_(False))
        ).scalars()), ZERO)
        opened = sum((to_decimal(q) for q in session.execute(
            select(FillAllocation.quantity).where(FillAllocation.real_position_id == position.id,
                                                  FillAllocation.opening)
        ).scalars()), ZERO)
        adjusted = sum((q for q in map(to_decimal, session.execute(  # money is text on SQLite: compared here
            select(PositionAdjustment.quantity).where(PositionAdjustment.real_position_id == position.id)
        ).scalars()) if q > 0), ZERO)
        if reported - opened - adjusted > 0:
            out.append((position, reported - opened - adjusted))
    return out


def _adjust(session: Session, settlement: Settlement, position: RealPosition, quantity: Decimal, reason: str) -> None:
    session.add(PositionAdjustment(
        connection_id=position.connection_id, real_position_id=position.id, symbol=settlement.key.symbol,
        side=settlement.key.side, quantity=quantity, db_quantity=settlement.db_quantity,
        exchange_quantity=settlement.exchange_quantity, reason=reason,
    ))
    session.flush()
    ledger.refresh_position(session, position)
    settlement.parts.append(Settled(position.id, quantity, reason))
