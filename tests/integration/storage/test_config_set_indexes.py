"""Migration 0009 (issue 18) drops the config_sets indexes no query needs and counts sets by status through one
small index, on SQLite and PostgreSQL: the sets stay, the Dashboard's count and the lookup by identity still work,
and the database file of many sets is smaller."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from cts_desktop.application.dashboard_data import read_db_truth
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.migrate import alembic_config, head_revision
from cts_desktop.storage.models import Connection
from tests.integration.conftest import PG_URL

SETS = 20_000


def _upgrade(db: Database, revision: str) -> None:
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["schema"] = db.schema
        command.upgrade(config, revision)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at revision 0008 holding many sets of one connection."""
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    else:
        db = Database(PG_URL, schema=request.getfixturevalue("pg_schema"))
    _upgrade(db, "0008")
    with db.session() as s:
        s.add(Connection(id="c1", name="Index test", exchange="bybit", kind="replay"))
    with db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO config_sets (connection_id, symbol, indication_type, params, direction, tp, sl, trail_start, "
            "trail_stop, status, layer, stored_results, total_closed, stats, updated_at) VALUES ('c1', :symbol, "
            "'move', :params, 'long', 2.0, 0.5, 0.0, 0.0, :status, 'base', 0, 0, '{}', :now)"),
            [{"symbol": f"S{i % 8}", "params": f"({i},)", "status": ("active", "failed", "paused")[i % 3],
              "now": datetime.now(UTC)} for i in range(SETS)])
    try:
        yield db
    finally:
        db.dispose()


def _indexes(db: Database) -> set[str]:
    names = {str(ix["name"]) for ix in inspect(db.engine).get_indexes("config_sets", schema=db.schema)}
    return {name for name in names if name.startswith("ix_")}  # (PostgreSQL lists the unique constraint's too)


def _index_pages(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM dbstat WHERE name LIKE 'ix_config_sets%'")).scalar_one())


def test_unused_config_set_indexes_are_dropped_and_the_status_count_still_works(old_db: Database) -> None:
    assert _indexes(old_db) >= {"ix_config_sets_layer", "ix_config_sets_conn_symbol_status"}
    before = _index_pages(old_db) if old_db.is_sqlite else 0
    assert old_db.migrate() == head_revision()
    assert _indexes(old_db) == {"ix_config_sets_status"}
    if old_db.is_sqlite:
        assert _index_pages(old_db) * 2 < before
    with old_db.session() as s:
        truth = read_db_truth(s, datetime.now(UTC))
        assert truth.sets_by_status == {"active": 6_667, "failed": 6_667, "paused": 6_666}
        assert truth.indications_by_type == {"move": SETS}
        found = s.execute(text("SELECT id FROM config_sets WHERE connection_id = 'c1' AND symbol = 'S3' AND "
                               "indication_type = 'move' AND params = '(3,)' AND direction = 'long'")).all()
    assert len(found) == 1
