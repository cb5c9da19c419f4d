"""The retention cleanup behind the System settings "Automatic database cleanup" (DOMAIN Part 2 §9.1).

What grows without bound while the app trades around the clock — log records, cycle metrics, balance snapshots,
acknowledged alerts and recorded candles — is deleted once older than its retention period. Trading records
(orders, fills, positions, funding) are never touched: PnL must stay reproducible from stored rows. Each table is
deleted in chunks so a large backlog never holds the database lock for long (the batched writer keeps writing).

:class:`RetentionCleaner` runs :func:`purge` on the asyncio loop every ``system.cleanup_interval_hours`` (the
first round a minute after start), the database work in a thread.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, delete, select

from cts_desktop.storage.background import LoopTask
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Alert, BalanceSnapshot, Candle, CycleMetric, LogRecord

log = logging.getLogger("cts.storage.retention")

DAY_MS = 86_400_000
CHUNK_ROWS = 5_000
FIRST_ROUND_DELAY_S = 60.0


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    enabled: bool
    log_days: int
    metrics_days: int
    market_data_days: int
    interval_hours: float

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> RetentionPolicy:
        def number(key: str) -> float:
            value = values[key]
            assert isinstance(value, int | float), key
            return float(value)

        return cls(
            enabled=bool(values["system.automatic_cleanup"]),
            log_days=int(number("system.log_retention_days")),
            metrics_days=int(number("monitoring.metrics_retention_days")),
            market_data_days=int(number("system.market_data_retention_days")),
            interval_hours=number("system.cleanup_interval_hours"),
        )


@dataclass(slots=True)
class PurgeReport:
    deleted: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deleted.values())


def purge(db: Database, policy: RetentionPolicy, now_ms: int | None = None) -> PurgeReport:
    """Delete what is older than its retention period (one short transaction per chunk)."""
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    log_cut = now_ms - policy.log_days * DAY_MS
    metrics_cut = now_ms - policy.metrics_days * DAY_MS
    market_cut = now_ms - policy.market_data_days * DAY_MS
    report = PurgeReport()
    report.deleted["logs"] = _chunked(db, LogRecord, LogRecord.ts_ms < log_cut)
    report.deleted["cycle_metrics"] = _chunked(db, CycleMetric, CycleMetric.ts_ms < metrics_cut)
    report.deleted["balance_snapshots"] = _chunked(db, BalanceSnapshot, BalanceSnapshot.ts < _utc(metrics_cut))
    report.deleted["alerts"] = _chunked(db, Alert, Alert.acknowledged_at.is_not(None),
                                        Alert.created_at < _utc(log_cut))
    with db.session() as session:  # composite key: one statement, the index on the key makes it a range delete
        result = session.execute(delete(Candle).where(Candle.ts < market_cut))
        report.deleted["candles"] = int(getattr(result, "rowcount", 0) or 0)
    return report


def _chunked(db: Database, model: type[LogRecord | CycleMetric | BalanceSnapshot | Alert],
             *where: ColumnElement[bool]) -> int:
    """Delete the matching rows of a table with an integer ``id``, :data:`CHUNK_ROWS` per transaction."""
    total = 0
    while True:
        with db.session() as session:
            ids = list(session.execute(select(model.id).where(*where).limit(CHUNK_ROWS)).scalars())
            if not ids:
                return total
            session.execute(delete(model).where(model.id.in_(ids)))
            total += len(ids)


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class RetentionCleaner(LoopTask):
    """Runs :func:`purge` periodically while the app runs (headless or with a window)."""

    def __init__(self, db: Database, values: Callable[[], Mapping[str, object]],
                 first_delay_s: float = FIRST_ROUND_DELAY_S) -> None:
        super().__init__("retention cleanup")
        self.db = db
        self.values = values
        self.first_delay_s = first_delay_s
        self.last_report: PurgeReport | None = None

    async def run_once(self) -> PurgeReport | None:
        policy = RetentionPolicy.from_values(self.values())
        if not policy.enabled:
            return None
        started = time.perf_counter()
        report = await asyncio.to_thread(purge, self.db, policy)
        self.last_report = report
        if report.total:
            log.info("retention cleanup deleted %d rows in %.1f s: %s", report.total,
                     time.perf_counter() - started, ", ".join(f"{k} {v}" for k, v in report.deleted.items() if v))
        return report

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await self.run_once()
            except Exception:  # a locked or lost database: try again next round, never stop the app
                log.exception("retention cleanup failed; it runs again at the next interval")
            hours = RetentionPolicy.from_values(self.values()).interval_hours
            await asyncio.sleep(hours * 3600.0)
