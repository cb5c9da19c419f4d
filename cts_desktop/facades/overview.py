"""Overview queries shared by the window and the dashboard: app overview, connection rows, recent log rows and
the CPU/memory load of this process and of the machine."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.facades.base import FacadeBase, in_thread
from cts_desktop.storage.models import Connection, EngineState, LogRecord, RealPosition


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    id: str
    name: str
    exchange: str
    kind: str
    enabled: bool
    active: bool
    live_trade: bool
    last_test_ok: bool | None
    last_test_message: str | None


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    ts_ms: int
    level: str
    category: str
    connection_id: str | None
    message: str
    exc_text: str | None


@dataclass(frozen=True, slots=True)
class SystemLoad:
    app_cpu_pct: float
    app_memory_mb: float
    machine_cpu_pct: float
    machine_memory_pct: float


@dataclass(frozen=True, slots=True)
class Overview:
    database: str
    database_kind: str
    database_revision: str
    database_size_bytes: int
    database_healthy: bool
    writer_pending: int
    connections_total: int
    connections_enabled: int
    open_positions: int
    engine_status: str
    errors_24h: int
    warnings_24h: int
    secrets_backend: str
    secrets_usable: bool

class OverviewFacade(FacadeBase):
    async def overview(self) -> Overview:
        services = self.services
        since = int((time.time() - 24 * 3600) * 1000)

        def read(session: Session) -> tuple[int, int, int, str, int, int]:
            total = session.execute(select(func.count()).select_from(Connection)).scalar_one()
            enabled = session.execute(select(func.count()).where(Connection.is_enabled.is_(True))).scalar_one()
            open_positions = session.execute(
                select(func.count()).where(RealPosition.status.in_(("opening", "open", "closing")))
            ).scalar_one()
            state = session.get(EngineState, "*")
            errors = session.execute(
                select(func.count()).where(LogRecord.ts_ms >= since, LogRecord.levelno >= 40)
            ).scalar_one()
            warnings = session.execute(
                select(func.count()).where(LogRecord.ts_ms >= since, LogRecord.levelno == 30)
            ).scalar_one()
            return total, enabled, open_positions, state.status if state else "stopped", errors, warnings

        total, enabled, open_positions, engine, errors, warnings = await services.db.run(read)
        size = await in_thread(services.db.size_bytes)
        status = services.secrets.status()
        return Overview(
            database=services.db.display_url,
            database_kind=services.db.dialect,
            database_revision=services.revision,
            database_size_bytes=size,
            database_healthy=services.writer.stats.healthy,
            writer_pending=services.writer.pending,
            connections_total=total,
            connections_enabled=enabled,
            open_positions=open_positions,
            engine_status=engine,
            errors_24h=errors,
            warnings_24h=warnings,
            secrets_backend=services.secrets.backend_name(),
            secrets_usable=status.usable,
        )

    async def connections(self) -> list[ConnectionRow]:
        def read(session: Session) -> list[ConnectionRow]:
            rows = session.execute(select(Connection).order_by(Connection.name)).scalars()
            return [
                ConnectionRow(
                    r.id, r.name, r.exchange, r.kind, r.is_enabled, r.is_active, r.is_live_trade,
                    r.last_test_ok, r.last_test_message,
                )
                for r in rows
            ]

        return await self.services.db.run(read)

    async def recent_logs(self, limit: int = 200, min_level: int = 0) -> list[LogRow]:
        def read(session: Session) -> list[LogRow]:
            rows = session.execute(
                select(LogRecord)
                .where(LogRecord.levelno >= min_level)
                .order_by(LogRecord.id.desc())
                .limit(limit)
            ).scalars()
            return [
                LogRow(r.id, r.ts_ms, r.level, r.category, r.connection_id, r.message, r.exc_text) for r in rows
            ]

        return await self.services.db.run(read)

    def system_load(self) -> SystemLoad:
        """CPU and memory of this process and of the machine (psutil; the first CPU reading is 0 by design)."""
        import psutil

        if self._process is None:
            self._process = psutil.Process(os.getpid())
            self._process.cpu_percent(None)
            psutil.cpu_percent(None)
        memory = psutil.virtual_memory()
        return SystemLoad(
            app_cpu_pct=float(self._process.cpu_percent(None)),
            app_memory_mb=self._process.memory_info().rss / (1024 * 1024),
            machine_cpu_pct=float(psutil.cpu_percent(None)),
            machine_memory_pct=float(memory.percent),
        )
