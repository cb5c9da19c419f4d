"""Funding payments and their shares of the Real positions that held the symbol at the settlement.

The exchange charges funding per exchange position (Bybit names the side it charged) or per symbol (BingX's income
list names none). Either way the payments of one settlement (symbol and time) are shared by every Real position
that held quantity then, pro rata by that quantity: with a known side among that side's positions, without one by
signed quantity (a net payment ``P = -rate * price * (longs - shorts)`` gives each long ``P * q / (longs -
shorts)`` and each short the opposite sign). Shares are exact to the money scale and add up to the payments; a
settlement is shared again from scratch whenever one of its payments arrives, so the order of arrival never
matters. Every function here runs inside one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cts_desktop.engine.position_ledger import SHARE_QUANTUM, SKEW, ZERO
from cts_desktop.exchanges.models import FundingPayment as FundingReport
from cts_desktop.storage.models import (
    Fill,
    FillAllocation,
    FundingAllocation,
    FundingPayment,
    PositionAdjustment,
    RealPosition,
)
from cts_desktop.storage.types import to_decimal


def payment_id(report: FundingReport) -> str:
    """The exchange's id of the settlement, or one derived from its fields where the exchange gives none."""
    if report.id:
        return report.id[:120]
    return f"{report.symbol}:{report.timestamp}:{report.side or ''}:{report.amount!r}"[:120]


def record_funding(session: Session, connection_id: str, reports: list[FundingReport]) -> set[int]:
    """Store the payments not stored yet and share every settlement they belong to; returns the positions whose
    funding changed."""
    known = set(session.execute(
        select(FundingPayment.exchange_id).where(
            FundingPayment.connection_id == connection_id,
            FundingPayment.exchange_id.in_([payment_id(r) for r in reports]),
        )
    ).scalars()) if reports else set()
    settlements: set[tuple[str, datetime]] = set()
    for report in reports:
        key = payment_id(report)
        if report.timestamp is None or key in known:
            continue
        ts = datetime.fromtimestamp(report.timestamp / 1000, UTC)
        session.add(FundingPayment(connection_id=connection_id, exchange_id=key, symbol=report.symbol,
                                   side=report.side or "", amount=to_decimal(report.amount), ts=ts))
        known.add(key)
        settlements.add((report.symbol, ts))
    session.flush()
    touched: set[int] = set()
    for symbol, ts in sorted(settlements):
        touched |= share_settlement(session, connection_id, symbol, ts)
    return touched


def share_settlement(session: Session, connection_id: str, symbol: str, ts: datetime) -> set[int]:
    """(Re)compute the shares of every payment of one settlement."""
    payments = list(session.execute(
        select(FundingPayment).where(FundingPayment.connection_id == connection_id, FundingPayment.symbol == symbol,
                                     FundingPayment.ts == ts)
    ).scalars())
    ids = [p.id for p in payments]
    touched = set(session.execute(
        select(FundingAllocation.real_position_id).where(FundingAllocation.funding_payment_id.in_(ids))
    ).scalars())
    session.execute(delete(FundingAllocation).where(FundingAllocation.funding_payment_id.in_(ids)))
    held = held_at(session, connection_id, symbol, ts)
    # a payment says someone held: when nobody does at the settlement's time, a closing fill stamped to the second
    # (BingX) in the settlement's own second was counted before it — it came after: the exchange settled first
    second = _aware(ts).replace(microsecond=0)
    before = held_at(session, connection_id, symbol, ts, closes_until=second - timedelta(microseconds=1))
    for payment in payments:
        weights = _weights(held, payment.side)
        if sum(weights.values(), ZERO) == 0:
            weights = _weights(before, payment.side)
        touched |= _split(session, payment, weights)
    session.flush()
    return touched


def _weights(held: dict[int, tuple[str, Decimal]], side: str) -> dict[int, Decimal]:
    """Each position's part of a payment: by quantity among the payment's side; a payment without a side (BingX)
    by signed quantity (longs and shorts pay opposite ways), or by quantity when both sides are equal (a net
    payment says nothing of each side's part)."""
    if side in ("long", "short"):
        return {pid: q for pid, (s, q) in held.items() if s == side}
    signed = {pid: (q if s == "long" else -q) for pid, (s, q) in held.items()}
    if sum(signed.values(), ZERO) == 0:
        return {pid: q for pid, (_, q) in held.items()}
    return signed


def _split(session: Session, payment: FundingPayment, weights: dict[int, Decimal]) -> set[int]:
    total = sum(weights.values(), ZERO)
    if not weights or total == 0:
        return set()
    given = ZERO
    ordered = sorted(weights.items())
    for n, (position_id, weight) in enumerate(ordered):
        last = n == len(ordered) - 1
        share = payment.amount - given if last else (payment.amount * weight / total).quantize(SHARE_QUANTUM)
        given += share
        session.add(FundingAllocation(funding_payment_id=payment.id, real_position_id=position_id, amount=share))
    return {position_id for position_id, _ in ordered}


def held_at(session: Session, connection_id: str, symbol: str, ts: datetime,
            closes_until: datetime | None = None) -> dict[int, tuple[str, Decimal]]:
    """Per Real position of ``symbol``: its side and the quantity it held at ``ts`` — fills up to then (a fill at
    the very time of the settlement counts as before it: the exchanges settle after) and the settled differences
    noted by then (those later explained by fills are left to the fills)."""
    positions = list(session.execute(
        select(RealPosition).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == symbol,
            RealPosition.status != "failed", RealPosition.opened_at <= ts + SKEW,
            (RealPosition.closed_at.is_(None)) | (RealPosition.closed_at >= ts - SKEW),
        )
    ).scalars())
    if not positions:
        return {}
    quantity: dict[int, Decimal] = defaultdict(lambda: ZERO)
    ids = [p.id for p in positions]
    for position_id, opening, amount, when in session.execute(
        select(FillAllocation.real_position_id, FillAllocation.opening, FillAllocation.quantity, Fill.ts)
        .join(Fill, Fill.id == FillAllocation.fill_id)
        .where(FillAllocation.real_position_id.in_(ids), Fill.ts <= ts)
    ).all():
        if not opening and closes_until is not None and _aware(when) > closes_until:
            continue  # a close stamped in the settlement's own second: taken as after it (see share_settlement)
        quantity[position_id] += to_decimal(amount) if opening else -to_decimal(amount)
    adjustments: dict[int, list[tuple[Decimal, datetime, bool]]] = defaultdict(list)
    for position_id, amount, when, fill_id in session.execute(
        select(PositionAdjustment.real_position_id, PositionAdjustment.quantity, PositionAdjustment.ts,
               PositionAdjustment.fill_id).where(PositionAdjustment.real_position_id.in_(ids))
    ).all():
        adjustments[position_id].append((to_decimal(amount), when, fill_id is not None))
    for position_id, rows in adjustments.items():
        if sum((amount for amount, _, _ in rows), ZERO) == 0:
            continue  # settled and later explained by fills: the fills tell the history
        quantity[position_id] += sum((a for a, when, explained in rows if not explained and when <= ts), ZERO)
    return {p.id: (p.side, quantity[p.id]) for p in positions if quantity[p.id] > 0}


def _aware(moment: datetime) -> datetime:
    """A stored time as UTC (SQLite gives it back without its zone)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
