"""What every facade part shares: the services, the lazily built trading services and small helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cts_desktop.services import Services


class FacadeBase:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._process: Any = None

    async def dashboard_trading(self) -> Any:
        """The trading services (``services.trading``), importing ccxt/numba/aiohttp off the GUI thread first."""
        if not self.services.trading_loaded:
            import asyncio
            import importlib

            await asyncio.to_thread(importlib.import_module, "cts_desktop.trading")
        return self.services.trading

    def engine_status(self) -> Any:
        """The coordinator's EngineStatus, or None while the trading services are not built (engine stopped)."""
        return self.services.trading.coordinator.status() if self.services.trading_loaded else None


class NoStatus:
    engines: tuple[Any, ...] = ()


async def in_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


def write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def plain_error(exc: BaseException) -> str:
    """A one-line message for the user; database errors are already plain and password-free."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def logger(name: str) -> Any:
    import logging

    return logging.getLogger(name)
