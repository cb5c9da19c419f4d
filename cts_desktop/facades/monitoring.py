"""Monitoring tab: log statistics, timeline, keyset-paged log viewer, export, service health, auto-restart history
and the stored alerts."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from cts_desktop.facades.base import FacadeBase, in_thread


class MonitoringFacade(FacadeBase):
    async def monitoring_overview(self) -> Any:
        """Log statistics, hourly error rate, top errors and criticals of the last hour (stats.MonitoringOverview)."""
        from cts_desktop.monitoring.stats import monitoring_overview

        now = int(time.time() * 1000)
        return await self.services.db.run(lambda session: monitoring_overview(session, now))

    async def activity_timeline(self, limit: int = 200) -> list[Any]:
        from cts_desktop.monitoring.stats import timeline

        return await self.services.db.run(lambda session: timeline(session, limit))

    async def log_page(self, flt: Any, after: tuple[int, int] | None = None, limit: int = 200) -> list[Any]:
        """A page of the log viewer (stats.LogFilter → list of stats.LogEntry), newest first, keyset-paged."""
        from cts_desktop.monitoring.stats import log_page

        return await self.services.db.run(lambda session: log_page(session, flt, after, limit))

    async def log_count(self, flt: Any) -> int:
        from cts_desktop.monitoring.stats import count_logs

        return await self.services.db.run(lambda session: count_logs(session, flt))

    async def log_connections(self) -> list[str]:
        from cts_desktop.monitoring.stats import log_connections

        return await self.services.db.run(log_connections)

    async def export_logs(self, flt: Any, path: str, fmt: str) -> int:
        """Write the records matching ``flt`` to ``path`` as ``csv`` or ``json``; returns the number written."""
        from cts_desktop.monitoring.stats import iter_logs, write_csv, write_json

        if fmt not in ("csv", "json"):
            raise ValueError(f"unknown export format {fmt!r}: use csv or json")

        def work(session: Session) -> int:
            with open(path, "w", encoding="utf-8", newline="") as out:
                entries = iter_logs(session, flt)
                return write_csv(entries, out) if fmt == "csv" else write_json(entries, out, flt)

        return await self.services.db.run(work)

    async def health(self) -> list[Any]:
        """Health rows (monitoring.health.ServiceHealth): database, writer, process and machine load, engines,
        their loops and the enabled connections."""
        from cts_desktop.monitoring import health

        services = self.services
        if getattr(self, "_load_sampler", None) is None:
            self._load_sampler = health.LoadSampler()
        sampler = self._load_sampler

        def work() -> list[Any]:
            rows = [health.database_health(services.db), health.writer_health(services.writer)]
            rows += sampler.sample()
            with services.db.session() as session:
                rows += health.engine_health(session, health.now_utc())
            return rows

        result: list[Any] = await in_thread(work)
        return result

    async def restart_history(self, limit: int = 100) -> list[Any]:
        from cts_desktop.monitoring.health import restart_history

        return await self.services.db.run(lambda session: restart_history(session, limit))

    async def alerts(self, include_acknowledged: bool = False) -> list[Any]:
        """The stored alerts (monitoring.alerts.AlertRow), newest first. The rules are evaluated by the services'
        alert monitor (monitoring/alert_monitor.py) whether or not this tab is shown; reading raises nothing."""
        from cts_desktop.monitoring.alerts import list_alerts

        return await self.services.db.run(lambda session: list_alerts(session, include_acknowledged))

    async def acknowledge_alerts(self, ids: list[int]) -> int:
        from datetime import UTC, datetime

        from cts_desktop.monitoring.alerts import acknowledge

        return await self.services.db.run(lambda session: acknowledge(session, ids, datetime.now(UTC)))
