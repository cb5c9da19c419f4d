"""Engine integration tests: a real SQLite DB, the loopback simulator, real ccxt classes, plain asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Connection


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(SimulatorConfig(speed=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def engine_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    with db.session() as s:
        s.add(Connection(id="c1", name="Replay test", exchange="bybit", kind="replay"))
    try:
        yield db
    finally:
        db.dispose()
