"""The Monitoring screen: log statistics, timeline, keyset-paged log viewer, export, service health, auto-restart
history and the stored alerts. The log and health types the tab shows are re-exported here."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from cts_desktop.application.common import in_thread
from cts_desktop.monitoring import health
from cts_desktop.monitoring.alerts import AlertRow, acknowledge, list_alerts
from cts_desktop.monitoring.health import RestartEvent, ServiceHealth
from cts_desktop.monitoring.logging_setup import Category
from cts_desktop.monitoring.stats import (
    HourBucket,
    LogEntry,
    LogFilter,
    MonitoringOverview,
    count_logs,
    iter_logs,
    log_connections,
    log_page,
    monitoring_overview,
    time_text,
    timeline,
    write_csv,
    write_json,
)
from cts_desktop.services import Services

__all__ = [
    "AlertRow", "Category", "HourBucket", "LogEntry", "LogFilter", "MonitoringOverview", "MonitoringPart",
    "RestartEvent", "ServiceHealth", "time_text",
]


class MonitoringPart:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._load: health.LoadSampler | None = None

    async def overview(self) -> MonitoringOverview:
        """Log statistics, hourly error rate, top errors and criticals of the last hour."""
        now = int(time.time() * 1000)
        return await self.services.db.run(lambda session: monitoring_overview(session, now))

    async def timeline(self, limit: int = 200) -> list[LogEntry]:
        return await self.services.db.run(lambda session: timeline(session, limit))

    async def log_page(self, flt: LogFilter, after: tuple[int, int] | None = None, limit: int = 200
                       ) -> list[LogEntry]:
        """A page of the log viewer, newest first, keyset-paged (``after`` = the last row's (ts_ms, id))."""
        return await self.services.db.run(lambda session: log_page(session, flt, after, limit))

    async def log_count(self, flt: LogFilter) -> int:
        return await self.services.db.run(lambda session: count_logs(session, flt))

    async def log_connections(self) -> list[str]:
        return await self.services.db.run(log_connections)

    async def export_logs(self, flt: LogFilter, path: str, fmt: str) -> int:
        """Write the records matching ``flt`` to ``path`` as ``csv`` or ``json``; returns the number written."""
        if fmt not in ("csv", "json"):
            raise ValueError(f"unknown export format {fmt!r}: use csv or json")

        def work(session: Session) -> int:
            with open(path, "w", encoding="utf-8", newline="") as out:
                entries = iter_logs(session, flt)
                return write_csv(entries, out) if fmt == "csv" else write_json(entries, out, flt)

        return await self.services.db.run(work)

    async def health(self) -> list[ServiceHealth]:
        """Health rows: database, writer, process and machine load, engines, their loops and the enabled
        connections."""
        services = self.services
        if self._load is None:
            self._load = health.shared_sampler()
        sampler = self._load

        def work() -> list[ServiceHealth]:
            rows = [health.database_health(services.db), health.writer_health(services.writer)]
            rows += sampler.sample()
            with services.db.session() as session:
                rows += health.engine_health(session, health.now_utc())
            return rows

        return await in_thread(work)

    async def restart_history(self, limit: int = 100) -> list[RestartEvent]:
        return await self.services.db.run(lambda session: health.restart_history(session, limit))

    async def alerts(self, include_acknowledged: bool = False) -> list[AlertRow]:
        """The stored alerts, newest first. The rules are evaluated by the services' alert monitor
        (monitoring/alert_monitor.py) whether or not this tab is shown; reading raises nothing."""
        return await self.services.db.run(lambda session: list_alerts(session, include_acknowledged))

    async def acknowledge_alerts(self, ids: list[int]) -> int:
        return await self.services.db.run(lambda session: acknowledge(session, ids, datetime.now(UTC)))
