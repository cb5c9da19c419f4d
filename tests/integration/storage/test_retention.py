"""The retention cleanup deletes what is older than its period, never a trading record, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from cts_desktop.domain.settings import default_values
from cts_desktop.storage import models as m
from cts_desktop.storage.db import Database
from cts_desktop.storage.retention import DAY_MS, RetentionCleaner, RetentionPolicy, purge

NOW_MS = 1_790_000_000_000


def _at(days_ago: float) -> int:
    return int(NOW_MS - days_ago * DAY_MS)


def _dt(days_ago: float) -> datetime:
    return datetime.fromtimestamp(_at(days_ago) / 1000, UTC)


def _seed(db: Database) -> None:
    with db.session() as s:
        s.add(m.Connection(id="c1", name="Bybit X03", exchange="bybit"))
        s.flush()
        for days in (0.5, 6, 31, 400):
            s.add(m.LogRecord(ts_ms=_at(days), levelno=20, level="INFO", category="system", logger="t",
                              message=f"{days} days old"))
            s.add(m.CycleMetric(connection_id="c1", loop="main", ts_ms=_at(days), duration_ms=1.0))
            s.add(m.BalanceSnapshot(connection_id="c1", total=Decimal("10"), free=Decimal("10"), used=Decimal(0),
                                    ts=_dt(days)))
            s.add(m.Candle(connection_id="c1", symbol="BTC/USDT:USDT", timeframe="1m", ts=_at(days), open=1.0,
                           high=1.0, low=1.0, close=1.0, volume=1.0))
            s.add(m.Alert(severity="warning", source="t", message="acknowledged", created_at=_dt(days),
                          acknowledged_at=_dt(days)))
            s.add(m.Alert(severity="critical", source="t", message="open", created_at=_dt(days)))
            s.add(m.Order(connection_id="c1", client_order_id=f"cts-{days}", symbol="BTC/USDT:USDT", side="buy",
                          order_type="market", quantity=Decimal("0.01"), status="filled", created_at=_dt(days)))


def _count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def test_purge_keeps_what_is_within_each_period(db: Database) -> None:
    _seed(db)
    policy = RetentionPolicy(enabled=True, log_days=30, metrics_days=7, market_data_days=30, interval_hours=24)
    report = purge(db, policy, now_ms=NOW_MS)
    assert report.deleted == {"logs": 2, "cycle_metrics": 2, "balance_snapshots": 2, "alerts": 2, "candles": 2}
    assert _count(db, m.LogRecord) == 2 and _count(db, m.Candle) == 2
    assert _count(db, m.CycleMetric) == 2 and _count(db, m.BalanceSnapshot) == 2
    with db.session() as s:
        kept = sorted(r.message for r in s.execute(select(m.LogRecord)).scalars())
        open_alerts = s.execute(select(func.count()).select_from(m.Alert).where(
            m.Alert.acknowledged_at.is_(None))).scalar_one()
    assert kept == ["0.5 days old", "6 days old"]
    assert open_alerts == 4  # an alert nobody acknowledged stays, however old
    assert _count(db, m.Order) == 4  # trading records are never deleted
    assert purge(db, policy, now_ms=NOW_MS).total == 0


@pytest.mark.asyncio
async def test_cleaner_follows_the_settings(db: Database) -> None:
    _seed(db)
    values = dict(default_values())
    values["system.automatic_cleanup"] = False
    cleaner = RetentionCleaner(db, lambda: values, first_delay_s=0)
    assert await cleaner.run_once() is None and _count(db, m.LogRecord) == 4
    values["system.automatic_cleanup"] = True
    values["system.log_retention_days"] = 1
    report = await cleaner.run_once()  # against the real clock: every seeded row is years old but the newest
    assert report is not None and _count(db, m.LogRecord) == 0 and report.deleted["logs"] == 4
