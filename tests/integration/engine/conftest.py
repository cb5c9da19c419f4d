"""Engine integration tests: a real SQLite DB, the loopback simulator, real ccxt classes, plain asyncio loop.

The simulator fixture, the loop hook and the loopback-only network guard are the exchange tests' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Connection
from tests.integration.exchanges.conftest import (  # noqa: F401  (fixtures and the loop hook, reused)
    _loopback_only,
    pytest_asyncio_loop_factories,
    sim,
)


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
