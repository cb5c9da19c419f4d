"""The trade journal and the equity curve: closed Real positions with their fees, funding, net result, close
reason and set, filtered; their net result per day, week or month; each connection's equity from its balance
snapshots. Paper and live are kept apart everywhere (a row says which; bars and curves are per kind).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.services import Services
from cts_desktop.storage.models import BalanceSnapshot, ConfigSet, RealPosition

PERIODS = ("day", "week", "month")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class JournalFilter:
    connection_id: str = ""
    symbol: str = ""
    kind: str = ""  # "" both | "paper" | "live"
    reason: str = ""
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 5000


@dataclass(frozen=True, slots=True)
class JournalRow:
    id: int
    connection_id: str
    symbol: str
    side: str
    paper: bool
    quantity: Decimal
    entry_price: Decimal | None
    exit_price: Decimal | None
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net: Decimal
    close_reason: str
    set_text: str  # the set that opened it ("" for an external or Preset position)
    opened_at: datetime
    closed_at: datetime

    @property
    def kind(self) -> str:
        return "paper" if self.paper else "live"

    @property
    def held_s(self) -> float:
        return (self.closed_at - self.opened_at).total_seconds()


@dataclass(frozen=True, slots=True)
class PnlBar:
    start: datetime  # the period's first day (UTC)
    kind: str  # paper | live
    net: Decimal
    trades: int


@dataclass(frozen=True, slots=True)
class EquityPoint:
    ts: datetime
    balance: Decimal
    equity: Decimal  # balance with unrealised PnL


@dataclass(frozen=True, slots=True)
class EquityCurve:
    connection_id: str
    kind: str  # paper | live | unknown (snapshots stored before the kind was recorded)
    points: list[EquityPoint]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _set_text(cs: ConfigSet | None) -> str:
    if cs is None:
        return ""
    trail = f" trail {cs.trail_start:g}/{cs.trail_stop:g}" if cs.trail_stop else ""
    return f"{cs.indication_type}({cs.params}) {cs.direction} tp {cs.tp:g} sl {cs.sl:g}{trail}"


def journal_rows(session: Session, flt: JournalFilter) -> list[JournalRow]:
    query = select(RealPosition, ConfigSet).outerjoin(ConfigSet, ConfigSet.id == RealPosition.set_id).where(
        RealPosition.status == "closed", RealPosition.closed_at.is_not(None))
    if flt.connection_id:
        query = query.where(RealPosition.connection_id == flt.connection_id)
    if flt.symbol:
        query = query.where(RealPosition.symbol == flt.symbol)
    if flt.kind:
        query = query.where(RealPosition.paper.is_(flt.kind == "paper"))
    if flt.reason:
        query = query.where(RealPosition.close_reason == flt.reason)
    if flt.since is not None:
        query = query.where(RealPosition.closed_at >= flt.since)
    if flt.until is not None:
        query = query.where(RealPosition.closed_at < flt.until)
    out = []
    for p, cs in session.execute(query.order_by(RealPosition.closed_at.desc(), RealPosition.id.desc())
                                 .limit(flt.limit)).all():
        assert p.closed_at is not None
        pnl, fees, funding = p.realized_pnl or ZERO, p.fees or ZERO, p.funding or ZERO
        out.append(JournalRow(
            id=p.id, connection_id=p.connection_id, symbol=p.symbol, side=p.side, paper=bool(p.paper),
            quantity=p.quantity, entry_price=p.entry_price, exit_price=p.exit_price, realized_pnl=pnl, fees=fees,
            funding=funding, net=pnl - fees + funding, close_reason=p.close_reason or "", set_text=_set_text(cs),
            opened_at=_utc(p.opened_at), closed_at=_utc(p.closed_at),
        ))
    return out


def period_start(at: datetime, period: str) -> datetime:
    """The first day (UTC midnight) of the day, ISO week (Monday) or month ``at`` falls in."""
    day = _utc(at).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def pnl_bars(rows: list[JournalRow], period: str) -> list[PnlBar]:
    """Net result per period and kind (paper and live apart), oldest first."""
    net: dict[tuple[datetime, str], Decimal] = defaultdict(lambda: ZERO)
    trades: dict[tuple[datetime, str], int] = defaultdict(int)
    for row in rows:
        key = (period_start(row.closed_at, period), row.kind)
        net[key] += row.net
        trades[key] += 1
    return [PnlBar(start, kind, net[(start, kind)], trades[(start, kind)]) for start, kind in sorted(net)]


def equity_curves(session: Session, connection_id: str = "", since: datetime | None = None,
                  max_points: int = 5000) -> list[EquityCurve]:
    """Each connection's balance snapshots as (balance, equity) points, per kind, oldest first (evenly thinned
    to ``max_points``)."""
    query = select(BalanceSnapshot.connection_id, BalanceSnapshot.paper, BalanceSnapshot.ts, BalanceSnapshot.total,
                   BalanceSnapshot.equity)
    if connection_id:
        query = query.where(BalanceSnapshot.connection_id == connection_id)
    if since is not None:
        query = query.where(BalanceSnapshot.ts >= since)
    curves: dict[tuple[str, str], list[EquityPoint]] = defaultdict(list)
    for cid, paper, ts, total, equity in session.execute(query.order_by(BalanceSnapshot.ts, BalanceSnapshot.id)):
        kind = "unknown" if paper is None else "paper" if paper else "live"
        curves[(str(cid), kind)].append(EquityPoint(_utc(ts), total, total if equity is None else equity))
    out = []
    for (cid, kind), points in sorted(curves.items()):
        step = max(1, -(-len(points) // max_points))
        thinned = points[::step]
        if thinned[-1] is not points[-1]:
            thinned.append(points[-1])
        out.append(EquityCurve(cid, kind, thinned))
    return out


class JournalPart:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def rows(self, flt: JournalFilter | None = None) -> list[JournalRow]:
        keep = flt or JournalFilter()
        return await self.services.db.run(lambda session: journal_rows(session, keep))

    async def equity(self, connection_id: str = "", since: datetime | None = None) -> list[EquityCurve]:
        return await self.services.db.run(lambda session: equity_curves(session, connection_id, since))

    @staticmethod
    def bars(rows: list[JournalRow], period: str = "day") -> list[PnlBar]:
        return pnl_bars(rows, period)
