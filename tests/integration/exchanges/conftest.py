"""Exchange integration tests: the loopback simulator in-process and real ccxt classes pointed at it.

These tests are pure asyncio (no Qt), so they run on a plain asyncio loop instead of the suite's qasync loop.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A stepped (speed 0) simulator: the market moves only when a test calls ``sim.market.step``."""
    server = SimulatorServer(SimulatorConfig(speed=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def point_ccxt_at(exchange: object, base_url: str) -> None:
    """Override every API root of a ccxt exchange with the simulator (BingX roots end in /openApi)."""
    api = exchange.urls["api"]  # type: ignore[attr-defined]
    suffix = "/openApi" if exchange.id == "bingx" else ""  # type: ignore[attr-defined]
    exchange.urls["api"] = {name: base_url + suffix for name in api}  # type: ignore[attr-defined]
