"""What the parts of the application layer share: the trading services, built on first use, and small helpers.

The trading services (connections, the offline Replay, the engine coordinator) import ccxt, numba and aiohttp:
:class:`TradingAccess` imports them in a worker thread before building them, so a screen that needs them never
stalls the GUI thread, and a screen that only reads the database never loads them.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from cts_desktop.events.status import EngineStatus, TradeEngineStatus

if TYPE_CHECKING:
    from cts_desktop.engine.connection_engine import ConnectionEngine
    from cts_desktop.exchanges.connections import ConnectionConfig
    from cts_desktop.services import Services
    from cts_desktop.trading import Trading

T = TypeVar("T")


class TradingAccess:
    """The process's trading services, loaded on first use (see the module docstring)."""

    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def loaded(self) -> bool:
        return self.services.trading_loaded

    async def get(self) -> Trading:
        """The trading services, importing ccxt/numba/aiohttp off the GUI thread first."""
        if not self.services.trading_loaded:
            await asyncio.to_thread(importlib.import_module, "cts_desktop.trading")
        return self.services.trading

    def status(self) -> EngineStatus | None:
        """The coordinator's status, or None while the trading services are not built (engine never started)."""
        return self.services.trading.coordinator.status() if self.services.trading_loaded else None

    def engine_statuses(self) -> dict[str, TradeEngineStatus]:
        """The running engines' statuses by connection id (none while the trading services are not built)."""
        status = self.status()
        return {} if status is None else {e.connection_id: e for e in status.engines}

    def engines(self) -> dict[str, ConnectionEngine]:
        """The running connection engines by connection id (none while the trading services are not built)."""
        return self.services.trading.coordinator.engines if self.services.trading_loaded else {}

    async def connection_configs(self) -> list[ConnectionConfig]:
        """Every stored connection, read without building the trading services when they are not built yet."""
        if self.services.trading_loaded:
            return await in_thread(self.services.trading.connections.list)
        from cts_desktop.storage.connections_store import SqlConnectionStore

        return await in_thread(SqlConnectionStore(self.services.db).list)


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    return await asyncio.to_thread(fn, *args)


def write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def plain_error(exc: BaseException) -> str:
    """A one-line message for the user; database errors are already plain and password-free."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
