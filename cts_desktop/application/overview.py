"""The window's own figures (status bar, tray): app overview, the running engines' status, open positions, recent
log rows and whether closing hides the window. Also the connection and log rows other screens list."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.application.common import TradingAccess, in_thread
from cts_desktop.application.dashboard_data import OPEN_STATUSES
from cts_desktop.events.status import EngineStatus
from cts_desktop.services import Services
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


def connection_rows(session: Session) -> list[ConnectionRow]:
    rows = session.execute(select(Connection).order_by(Connection.name)).scalars()
    return [ConnectionRow(r.id, r.name, r.exchange, r.kind, r.is_enabled, r.is_active, r.is_live_trade,
                          r.last_test_ok, r.last_test_message) for r in rows]


def log_rows(session: Session, limit: int, min_level: int = 0, connection_id: str | None = None) -> list[LogRow]:
    """The newest log records (of one connection when given), newest first."""
    query = select(LogRecord).where(LogRecord.levelno >= min_level)
    if connection_id is not None:
        query = query.where(LogRecord.connection_id == connection_id)
    rows = session.execute(query.order_by(LogRecord.id.desc()).limit(limit)).scalars()
    return [LogRow(r.id, r.ts_ms, r.level, r.category, r.connection_id, r.message, r.exc_text) for r in rows]


class OverviewPart:
    def __init__(self, services: Services, trading: TradingAccess) -> None:
        self.services = services
        self.trading = trading

    async def overview(self) -> Overview:
        services = self.services
        since = int((time.time() - 24 * 3600) * 1000)

        def read(session: Session) -> tuple[int, int, int, str, int, int]:
            total = session.execute(select(func.count()).select_from(Connection)).scalar_one()
            enabled = session.execute(select(func.count()).where(Connection.is_enabled.is_(True))).scalar_one()
            open_positions = session.execute(
                select(func.count()).where(RealPosition.status.in_(OPEN_STATUSES))
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

    def engine_status(self) -> EngineStatus | None:
        """The running coordinator's own state (the stored row lags behind); None before the engine was built."""
        return self.trading.status()

    async def live_engines(self) -> list[str]:
        """Names of the connections whose engine runs now with live trade on (closing the window asks first)."""
        running = self.trading.engine_statuses()
        if not running:
            return []
        return [c.name for c in await self.trading.connection_configs() if c.id in running and c.is_live_trade]

    async def open_position_count(self) -> int:
        """Real positions opening, open or closing (the tray asks before quitting)."""
        return await self.services.db.run(lambda session: int(session.execute(
            select(func.count()).where(RealPosition.status.in_(OPEN_STATUSES))).scalar_one()))

    async def recent_logs(self, limit: int = 200, min_level: int = 0) -> list[LogRow]:
        return await self.services.db.run(lambda session: log_rows(session, limit, min_level))

    def close_to_tray(self) -> bool:
        """Closing the window hides it in the tray (Settings › System), where a tray exists."""
        return bool(self.services.settings.get("system.close_to_tray"))
