"""The journal and equity read models on both databases: closed positions with their nets, paper and live apart,
net per day/week/month, equity curves per connection and kind from the balance snapshots."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from cts_desktop.application.journal import JournalFilter, equity_curves, journal_rows, period_start, pnl_bars
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import BalanceSnapshot, Connection, RealPosition

T0 = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday


def seed(db: Database) -> list[tuple[bool, Decimal, datetime]]:
    rows = [(True, Decimal("12.5"), Decimal("0.5"), Decimal("-0.25"), T0),
            (True, Decimal("-4"), Decimal("0.5"), Decimal(0), T0 + timedelta(hours=3)),
            (False, Decimal("7"), Decimal("1"), Decimal("0.1"), T0 + timedelta(days=1)),
            (True, Decimal("3"), Decimal("0"), Decimal(0), T0 + timedelta(days=6))]  # the next week
    with db.session() as s:
        s.add(Connection(id="c1", name="one", exchange="bybit"))
        s.flush()
        for paper, pnl, fees, funding, closed in rows:
            s.add(RealPosition(connection_id="c1", symbol="BTC/USDT:USDT", side="long", paper=paper,
                               quantity=Decimal("0.01"), entry_price=Decimal(60000), exit_price=Decimal(60100),
                               realized_pnl=pnl, fees=fees, funding=funding, status="closed",
                               close_reason="take_profit", opened_at=closed - timedelta(minutes=30),
                               closed_at=closed))
        s.add(RealPosition(connection_id="c1", symbol="BTC/USDT:USDT", side="long", paper=True,
                           quantity=Decimal("0.01"), status="open"))
        for k, (paper, total, equity) in enumerate([(True, "10000", "10010"), (True, "10005", "9990"),
                                                    (False, "500", None)]):
            s.add(BalanceSnapshot(connection_id="c1", total=Decimal(total), free=Decimal(total), used=Decimal(0),
                                  paper=paper, equity=None if equity is None else Decimal(equity),
                                  ts=T0 + timedelta(minutes=k)))
    return [(paper, pnl - fees + funding, closed) for paper, pnl, fees, funding, closed in rows]


def test_journal_rows_bars_and_equity(db: Database) -> None:
    truth = seed(db)
    with db.session() as s:
        rows = journal_rows(s, JournalFilter())
        live = journal_rows(s, JournalFilter(kind="live"))
        week = journal_rows(s, JournalFilter(since=T0, until=T0 + timedelta(days=2)))
        curves = equity_curves(s, "c1")
    assert [(r.paper, r.net, r.closed_at) for r in rows] == sorted(truth, key=lambda t: t[2], reverse=True)
    assert [r.net for r in live] == [Decimal("6.1")] and live[0].kind == "live"
    assert len(week) == 3
    days = pnl_bars(rows, "day")
    assert [(b.start, b.kind, b.net, b.trades) for b in days] == [
        (period_start(T0, "day"), "paper", Decimal("12.5") - Decimal("0.5") - Decimal("0.25") - Decimal("4.5"), 2),
        (period_start(T0 + timedelta(days=1), "day"), "live", Decimal("6.1"), 1),
        (period_start(T0 + timedelta(days=6), "day"), "paper", Decimal(3), 1)]
    weeks = pnl_bars(rows, "week")
    assert [(b.start.date().isoformat(), b.kind, b.trades) for b in weeks] == [
        ("2026-11-30", "live", 1), ("2026-11-30", "paper", 2), ("2026-12-07", "paper", 1)]
    months = pnl_bars(rows, "month")
    assert sum(b.net for b in months) == sum(t[1] for t in truth) and {b.start.day for b in months} == {1}
    assert [(c.kind, [(p.balance, p.equity) for p in c.points]) for c in curves] == [
        ("live", [(Decimal(500), Decimal(500))]),
        ("paper", [(Decimal(10000), Decimal(10010)), (Decimal(10005), Decimal(9990))])]
