"""The position ledger: which part of every fill opened or closed which Real position, and what is open now.

The exchange keeps one position per symbol and side (hedge mode) or per symbol (one-way); the app may hold several
Real positions inside it (several sets, up to N per direction). Every fill is therefore *allocated*:

* a fill of one of our orders goes to that order's position — an entry opens it, a reduce-only exit closes it up to
  what it holds, and what is left of the exit closes the other positions of the same exchange position;
* a closing fill of an order we did not send (an exchange-side stop of the whole side, a liquidation, a manual
  close) closes the positions of its side oldest first;
* a fill that explains a difference settled earlier without one (:class:`PositionAdjustment`) replaces it: the
  position keeps its quantity and gains its exit price.

A position's open quantity is ``opening fills - closing fills + adjustments``; the sum over a side's live positions
is what the reconciliation compares with the exchange. Every function here runs inside one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.engine.pnl import FillRow, PositionPnl, position_pnl
from cts_desktop.exchanges.models import Trade
from cts_desktop.storage.models import (
    Fill,
    FillAllocation,
    FundingAllocation,
    Order,
    PositionAdjustment,
    RealPosition,
)
from cts_desktop.storage.types import to_decimal

OPEN_STATES = ("opening", "open", "closing")
ZERO = Decimal(0)
SHARE_QUANTUM = Decimal("1e-18")  # the money columns' scale: fee and funding shares are exact to it
HORIZON = timedelta(days=2)  # unallocated fills older than this and than every live position are history
SKEW = timedelta(seconds=10)  # exchange time vs the local time rows are stamped with


@dataclass(frozen=True, slots=True)
class PositionChange:
    """A Real position after :func:`allocate_and_refresh`, with its status before."""

    id: int
    symbol: str
    side: str
    before: str
    after: str
    close_reason: str | None
    net: Decimal


@dataclass(frozen=True, slots=True)
class SideKey:
    symbol: str
    side: str  # long | short


def closing_key(fill: Fill) -> SideKey:
    """The side a fill reduces: a sell closes a long, a buy a short."""
    return SideKey(fill.symbol, "long" if fill.side == "sell" else "short")


def opening_key(fill: Fill) -> SideKey:
    return SideKey(fill.symbol, "long" if fill.side == "buy" else "short")


# --- storing fills -------------------------------------------------------------------------------------------------


def store_fills(session: Session, connection_id: str, trades: list[Trade]) -> int:
    """Insert the fills not stored yet, each linked to our order by its client id or exchange order id; returns
    how many were new. They are allocated by :func:`allocate`."""
    if not trades:
        return 0
    stored = set(session.execute(
        select(Fill.exchange_trade_id).where(
            Fill.connection_id == connection_id, Fill.exchange_trade_id.in_([t.id for t in trades])
        )
    ).scalars())
    added = 0
    for trade in trades:
        if trade.id in stored:
            continue
        order = _order_of(session, connection_id, trade)
        session.add(Fill(
            connection_id=connection_id, order_id=order.id if order else None, exchange_trade_id=trade.id,
            exchange_order_id=trade.order_id or None, symbol=trade.symbol, side=trade.side,
            quantity=to_decimal(trade.amount), price=to_decimal(trade.price), fee=to_decimal(trade.fee or 0),
            ts=datetime.fromtimestamp((trade.timestamp or 0) / 1000, UTC),
        ))
        stored.add(trade.id)
        added += 1
    session.flush()
    return added


def _order_of(session: Session, connection_id: str, trade: Trade) -> Order | None:
    if trade.client_id:
        order = session.execute(
            select(Order).where(Order.connection_id == connection_id, Order.client_order_id == trade.client_id)
        ).scalar_one_or_none()
        if order is not None:
            return order
    if trade.order_id:
        return session.execute(
            select(Order).where(Order.connection_id == connection_id, Order.exchange_order_id == trade.order_id)
        ).scalars().first()
    return None


def side_of_our_order(session: Session, connection_id: str, trade: Trade) -> str | None:
    order = _order_of(session, connection_id, trade)
    return None if order is None else order.side


def link_order_fills(session: Session, order: Order) -> set[int]:
    """The order's exchange id is known now: fills stored before that carry it are linked, and allocated again
    (an unlinked closing fill was spread oldest first; it belongs to this order's position). Returns the positions
    whose allocations changed."""
    if not order.exchange_order_id:
        return set()
    fills = list(session.execute(
        select(Fill).where(Fill.connection_id == order.connection_id, Fill.order_id.is_(None),
                           Fill.exchange_order_id == order.exchange_order_id)
    ).scalars())
    touched: set[int] = set()
    for fill in fills:
        fill.order_id = order.id
        touched |= _unallocate(session, fill)
    session.flush()
    return touched


def _unallocate(session: Session, fill: Fill) -> set[int]:
    allocations = list(session.execute(select(FillAllocation).where(FillAllocation.fill_id == fill.id)).scalars())
    explained = list(session.execute(
        select(PositionAdjustment).where(PositionAdjustment.fill_id == fill.id)
    ).scalars())
    touched = {a.real_position_id for a in allocations} | {a.real_position_id for a in explained}
    for row in (*allocations, *explained):
        session.delete(row)
    return touched


# --- allocating ----------------------------------------------------------------------------------------------------


def allocate(session: Session, connection_id: str, now: datetime | None = None) -> set[int]:
    """Allocate what is unallocated of every recent fill (see the module docstring); returns the Real positions
    whose fills changed. Idempotent: a fully allocated fill is not looked at again."""
    now = now or datetime.now(UTC)
    horizon = now - HORIZON
    oldest_live = session.execute(
        select(func.min(RealPosition.opened_at)).where(
            RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
        )
    ).scalar_one()
    if oldest_live is not None:
        horizon = min(horizon, oldest_live - SKEW)
    fills = list(session.execute(
        select(Fill).where(Fill.connection_id == connection_id, Fill.ts >= horizon).order_by(Fill.ts, Fill.id)
    ).scalars())
    done: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for fill_id, quantity in session.execute(
        select(FillAllocation.fill_id, FillAllocation.quantity).where(
            FillAllocation.fill_id.in_([f.id for f in fills])
        )
    ).all():
        done[fill_id] += to_decimal(quantity)
    touched: set[int] = set()
    for fill in fills:
        remainder = fill.quantity - done[fill.id]
        if remainder > 0:
            touched |= _allocate_fill(session, fill, remainder)
    return touched


def _allocate_fill(session: Session, fill: Fill, remainder: Decimal) -> set[int]:
    order = session.get(Order, fill.order_id) if fill.order_id is not None else None
    own = session.get(RealPosition, order.real_position_id) if order and order.real_position_id else None
    if own is not None and order is not None and not order.reduce_only:  # our entry
        _add(session, fill, own, remainder, opening=True)
        return {own.id}
    touched: set[int] = set()
    if own is not None:  # our exit: its own position first
        share = min(remainder, max(open_quantity(session, own.id), ZERO))
        if share > 0:
            remainder -= _add(session, fill, own, share, opening=False)
            touched.add(own.id)
    key = closing_key(fill)
    for other in _live_on(session, fill.connection_id, key, fill.ts):
        if remainder <= 0:
            return touched
        share = min(remainder, open_quantity(session, other.id))
        if share > 0 and not _has_allocation(session, fill.id, other.id):
            remainder -= _add(session, fill, other, share, opening=False)
            touched.add(other.id)
    if remainder > 0:
        remainder, explained = _explain_adjustments(session, fill, key, remainder, closing=True)
        touched |= explained
    if remainder > 0 and own is None:  # not ours: it may have opened an external position found earlier
        touched |= _explain_adjustments(session, fill, opening_key(fill), remainder, closing=False)[1]
    return touched


def _has_allocation(session: Session, fill_id: int, position_id: int) -> bool:
    return session.execute(
        select(FillAllocation.id).where(FillAllocation.fill_id == fill_id,
                                        FillAllocation.real_position_id == position_id)
    ).first() is not None


def _add(session: Session, fill: Fill, position: RealPosition, quantity: Decimal, *, opening: bool) -> Decimal:
    """Allocate ``quantity`` of ``fill`` to ``position`` (merged into an existing allocation of the same pair);
    the fee share is pro rata, and the share that completes the fill takes what is left of its fee."""
    existing = session.execute(
        select(FillAllocation).where(FillAllocation.fill_id == fill.id,
                                     FillAllocation.real_position_id == position.id)
    ).scalar_one_or_none()
    shares = session.execute(
        select(FillAllocation.real_position_id, FillAllocation.quantity, FillAllocation.fee).where(
            FillAllocation.fill_id == fill.id
        )
    ).all()
    done = sum((to_decimal(q) for _, q, _ in shares), ZERO)
    if done + quantity >= fill.quantity:
        fee = fill.fee - sum((to_decimal(f) for pid, _, f in shares if pid != position.id), ZERO)
        quantity = fill.quantity - done
    else:
        fee = (fill.fee * quantity / fill.quantity).quantize(SHARE_QUANTUM)
    if existing is None:
        session.add(FillAllocation(fill_id=fill.id, real_position_id=position.id, quantity=quantity, fee=fee,
                                   opening=opening))
    else:
        existing.quantity += quantity
        existing.fee = fee if done + quantity >= fill.quantity else existing.fee + fee
    session.flush()
    return quantity


def _live_on(session: Session, connection_id: str, key: SideKey, before: datetime) -> list[RealPosition]:
    """The live positions of one exchange position that were opened before ``before``, oldest first."""
    return list(session.execute(
        select(RealPosition).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == key.symbol,
            RealPosition.side == key.side, RealPosition.status.in_(OPEN_STATES),
            RealPosition.opened_at <= before + SKEW,
        ).order_by(RealPosition.opened_at, RealPosition.id)
    ).scalars())


def _explain_adjustments(
    session: Session, fill: Fill, key: SideKey, remainder: Decimal, *, closing: bool
) -> tuple[Decimal, set[int]]:
    """A fill that arrives after its difference was settled without it: it takes the adjustment's place (a closing
    fill for a position closed without one, an opening fill for an external position's quantity)."""
    sign = -1 if closing else 1
    adjusted: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for position_id, quantity in session.execute(
        select(PositionAdjustment.real_position_id, PositionAdjustment.quantity).where(
            PositionAdjustment.connection_id == fill.connection_id, PositionAdjustment.symbol == key.symbol,
            PositionAdjustment.side == key.side,
        ).order_by(PositionAdjustment.real_position_id)
    ).all():
        adjusted[position_id] += to_decimal(quantity)
    touched: set[int] = set()
    for position_id, total in sorted(adjusted.items()):
        unexplained = total * sign
        if remainder <= 0 or unexplained <= 0:
            continue
        position = session.get(RealPosition, position_id)
        if position is None or position.opened_at > fill.ts + SKEW or _has_allocation(session, fill.id, position_id):
            continue
        share = _add(session, fill, position, min(remainder, unexplained), opening=not closing)
        remainder -= share
        session.add(PositionAdjustment(
            connection_id=fill.connection_id, real_position_id=position_id, symbol=key.symbol, side=key.side,
            quantity=-sign * share, db_quantity=ZERO, exchange_quantity=ZERO, fill_id=fill.id,
            reason=f"explained by the exchange's fill {fill.exchange_trade_id}",
        ))
        touched.add(position_id)
    session.flush()
    return remainder, touched


# --- quantities and money ----------------------------------------------------------------------------------------


def open_quantity(session: Session, position_id: int) -> Decimal:
    opened, closed, adjusted = _quantities(session, position_id)
    return opened - closed + adjusted


def _quantities(session: Session, position_id: int) -> tuple[Decimal, Decimal, Decimal]:
    """Opened and closed by fills, and adjusted, summed in Decimal (SQLite keeps money as text: SUM would add
    doubles)."""
    opened = closed = ZERO
    for opening, quantity in session.execute(
        select(FillAllocation.opening, FillAllocation.quantity).where(FillAllocation.real_position_id == position_id)
    ).all():
        if opening:
            opened += to_decimal(quantity)
        else:
            closed += to_decimal(quantity)
    adjusted = sum((to_decimal(q) for q in session.execute(
        select(PositionAdjustment.quantity).where(PositionAdjustment.real_position_id == position_id)
    ).scalars()), ZERO)
    return opened, closed, adjusted


def fill_rows(session: Session, position_id: int) -> list[FillRow]:
    rows = session.execute(
        select(Fill.side, FillAllocation.quantity, Fill.price, FillAllocation.fee)
        .join(Fill, Fill.id == FillAllocation.fill_id)
        .where(FillAllocation.real_position_id == position_id).order_by(Fill.ts, Fill.id)
    ).all()
    return [FillRow(side, to_decimal(q), to_decimal(p), to_decimal(f)) for side, q, p, f in rows]


def funding_of(session: Session, position_id: int) -> Decimal:
    return sum((to_decimal(a) for a in session.execute(
        select(FundingAllocation.amount).where(FundingAllocation.real_position_id == position_id)
    ).scalars()), ZERO)


def pnl_of(session: Session, position: RealPosition) -> PositionPnl:
    return position_pnl(position.side, fill_rows(session, position.id), funding_of(session, position.id))


def refresh_position(session: Session, position: RealPosition) -> None:
    """Recompute a position from its allocations, adjustments and funding; open, close or revive it to match."""
    pnl = pnl_of(session, position)
    opened, closed, adjusted = _quantities(session, position.id)
    position.open_quantity = opened - closed + adjusted
    if pnl.entry_price is not None:
        position.entry_price = pnl.entry_price
    if opened > 0 or adjusted > 0:
        position.quantity = opened + max(adjusted, ZERO)
    position.fees = pnl.fees
    position.realized_pnl = pnl.gross
    position.funding = pnl.funding
    if pnl.exit_price is not None:
        position.exit_price = pnl.exit_price
    ever_held = opened > 0 or adjusted > 0
    if position.status == "failed" and opened > 0 and position.open_quantity > 0:
        # an entry given up as never sent that the exchange filled after all (its fill arrived later)
        position.status, position.closed_at, position.close_reason = "open", None, None
    elif position.status in OPEN_STATES and ever_held and position.open_quantity <= 0:
        position.status = "closed"
        position.closed_at = position.closed_at or datetime.now(UTC)
        position.close_reason = position.close_reason or close_reason(position, pnl, closed)
    elif position.status == "opening" and position.open_quantity > 0:
        position.status = "open"
    elif position.status == "closed" and position.open_quantity > 0:
        position.status, position.closed_at = "open", None  # a settlement undone by a late fill


def close_reason(position: RealPosition, pnl: PositionPnl, closed_by_fills: Decimal) -> str:
    if closed_by_fills <= 0 or pnl.exit_price is None:
        return "reconciled"
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


def live_quantities(session: Session, connection_id: str) -> dict[SideKey, Decimal]:
    """What the DB holds open per exchange position (symbol and side)."""
    totals: dict[SideKey, Decimal] = defaultdict(lambda: ZERO)
    for symbol, side, quantity in session.execute(
        select(RealPosition.symbol, RealPosition.side, RealPosition.open_quantity).where(
            RealPosition.connection_id == connection_id, RealPosition.status.in_(OPEN_STATES)
        )
    ).all():
        totals[SideKey(symbol, side)] += to_decimal(quantity)
    return dict(totals)


def allocate_and_refresh(session: Session, connection_id: str, also: set[int] | None = None) -> list[PositionChange]:
    """Allocate new fills, then recompute every position they (or ``also``) touched."""
    changes = []
    for position_id in sorted(allocate(session, connection_id) | (also or set())):
        position = session.get(RealPosition, position_id)
        if position is None:
            continue
        before = position.status
        refresh_position(session, position)
        changes.append(PositionChange(position.id, position.symbol, position.side, before, position.status,
                                      position.close_reason,
                                      position.realized_pnl - position.fees + position.funding))
    session.flush()
    return changes
