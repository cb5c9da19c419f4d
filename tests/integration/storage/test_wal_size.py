"""The SQLite ``-wal`` file does not keep the size of the largest round ever written: once SQLite starts it over
after a checkpoint it is cut back to :data:`~cts_desktop.storage.db.WAL_SIZE_LIMIT`."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from cts_desktop.storage.db import WAL_SIZE_LIMIT, Database, sqlite_url
from cts_desktop.storage.models import BookSnapshot, Connection


def test_the_wal_is_cut_back_after_a_large_round(tmp_path: Path) -> None:
    path = tmp_path / "cts.sqlite3"
    wal = path.with_name("cts.sqlite3-wal")
    db = Database(sqlite_url(path))
    try:
        db.migrate()
        with db.session() as s:
            s.add(Connection(id="c1", name="WAL test", exchange="bybit", kind="replay"))
            s.flush()
            s.add_all(BookSnapshot(connection_id="c1", symbol=f"S{i}", payload=os.urandom(4 << 20)) for i in range(4))
        assert wal.stat().st_size > 3 * WAL_SIZE_LIMIT  # the round went through the WAL
        with db.engine.connect() as conn:
            conn.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))  # what the auto-checkpoint does
        with db.session() as s:  # the next write starts the WAL over
            s.add(Connection(id="c2", name="WAL test 2", exchange="bybit", kind="replay"))
        assert wal.stat().st_size <= WAL_SIZE_LIMIT
    finally:
        db.dispose()
