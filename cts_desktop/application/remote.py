"""What the local control API (``control_api.py``) may read and do, in plain dataclasses and JSON-ready dicts: status,
health, metrics, engine commands, positions and orders, closing one position through its engine's order manager.

The same parts the Dashboard uses, so the API and the window never disagree about a figure.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cts_desktop.application.dashboard import ENGINE_COMMANDS, DashboardMetrics, DashboardPart
from cts_desktop.events.status import EngineState, EngineStatus, HealthStatus, TradeEngineStatus
from cts_desktop.storage.models import RealPosition

if TYPE_CHECKING:
    from cts_desktop.services import Services

CLOSABLE = ("open", "closing")


class CommandRefused(RuntimeError):
    """A command the rules refuse now (HTTP 409 with this plain message)."""


class NotFound(LookupError):
    """No such thing (HTTP 404)."""


@dataclass(frozen=True, slots=True)
class Health:
    status: str  # "ok" | "degraded" | "down"
    engine: str
    engine_health: str
    database_healthy: bool
    database_damaged: str | None
    writer_pending: int
    engines: int
    engines_in_error: int
    uptime_s: float

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def engine_dict(e: TradeEngineStatus) -> dict[str, Any]:
    return {
        "connection_id": e.connection_id, "connection": e.connection_name, "state": e.state.value,
        "link": e.connection.value, "paper": e.paper, "paused": e.paused, "health": e.health.label,
        "uptime_s": round(e.uptime_s, 1), "symbols": list(e.symbols), "real_open": e.real_open,
        "pseudo_open": e.pseudo_open, "balance_usdt": e.balance_usdt, "last_error": e.last_error,
        "loops": {loop.name: {"cycles": loop.cycles, "errors": loop.errors, "avg_ms": round(loop.avg_ms, 3),
                              "last_ms": round(loop.last_ms, 3)} for loop in e.loops},
    }


def status_dict(status: EngineStatus | None) -> dict[str, Any]:
    if status is None:
        return {"state": EngineState.STOPPED.value, "health": HealthStatus.UNKNOWN.label, "uptime_s": 0.0,
                "engines": [], "last_error": None}
    return {"state": status.state.value, "health": status.health.label, "uptime_s": round(status.uptime_s, 1),
            "main_enabled": status.main_enabled, "preset_enabled": status.preset_enabled,
            "active_positions": status.active_positions, "last_error": status.last_error,
            "engines": [engine_dict(e) for e in status.engines]}


class RemotePart:
    def __init__(self, services: Services, dashboard: DashboardPart) -> None:
        self.services = services
        self.dashboard = dashboard
        self.started_at = time.time()

    def status(self) -> dict[str, Any]:
        return status_dict(self.dashboard.engine_status())

    def health(self) -> Health:
        status = self.dashboard.engine_status()
        engines = status.engines if status is not None else ()
        damaged = self.services.safety.damage
        healthy_db = self.services.writer.stats.healthy and damaged is None
        in_error = sum(1 for e in engines if e.state is EngineState.ERROR)
        engine_health = status.health if status is not None else HealthStatus.UNKNOWN
        if not healthy_db:
            verdict = "down"
        elif in_error or engine_health >= HealthStatus.DEGRADED:
            verdict = "degraded"
        else:
            verdict = "ok"
        return Health(verdict, status.state.value if status is not None else EngineState.STOPPED.value,
                      engine_health.label, healthy_db, None if damaged is None else str(damaged),
                      self.services.writer.pending, len(engines), in_error, round(time.time() - self.started_at, 1))

    async def metrics(self) -> tuple[DashboardMetrics, EngineStatus | None]:
        return await self.dashboard.metrics(), self.dashboard.engine_status()

    async def command(self, name: str, close_positions: bool = False) -> dict[str, Any]:
        if name not in ENGINE_COMMANDS:
            raise NotFound(f"unknown engine command {name!r} (one of {', '.join(ENGINE_COMMANDS)})")
        from cts_desktop.engine.coordinator import CoordinatorError

        try:
            status = await self.dashboard.engine_command(name, close_positions)
        except CoordinatorError as error:
            raise CommandRefused(str(error)) from error
        return status_dict(status)

    async def positions(self) -> list[dict[str, Any]]:
        return [dataclasses.asdict(p) for p in await self.dashboard.positions()]

    async def orders(self, limit: int = 200) -> list[dict[str, Any]]:
        return [dataclasses.asdict(o) for o in await self.dashboard.orders(limit)]

    async def close_position(self, position_id: int) -> dict[str, Any]:
        """Close what is still open of one Real position with a reduce-only market order, through the order
        manager of the engine that trades its connection (write-ahead row and client id as every order)."""

        def read(session: Any) -> tuple[str, str, str] | None:
            row = session.get(RealPosition, position_id)
            return None if row is None else (row.connection_id, row.status, row.symbol)

        found = await self.services.db.run(read)
        if found is None:
            raise NotFound(f"no position {position_id}")
        connection_id, state, symbol = found
        if state not in CLOSABLE:
            raise CommandRefused(f"position {position_id} is {state}: nothing to close")
        engine = self.dashboard.trading.engines().get(connection_id)
        if engine is None or engine.orders is None:
            raise CommandRefused(f"position {position_id} ({symbol}): no engine runs for its connection; start "
                                 "trading first")
        outcome = await engine.orders.close_position(position_id, "manual")
        return {"position_id": position_id, "symbol": symbol, "order": outcome}


__all__ = ["CommandRefused", "Health", "NotFound", "RemotePart", "status_dict"]
