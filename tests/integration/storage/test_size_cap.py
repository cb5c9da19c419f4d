"""The database size cap cleans up (issue 16 item 6), on a real SQLite file and on PostgreSQL: over the cap, the
oldest candles go first, then logs, cycle metrics and pseudo results, until the data is under 90 % of the cap;
the space is given back (SQLite: the file shrinks; a file made before incremental vacuum is switched by one VACUUM);
positions and settings are never touched; under the cap nothing is deleted."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Candle, ConfigSet, Connection, CycleMetric, LogRecord, PseudoResult, RealPosition
from cts_desktop.storage.size_cap import TARGET_SHARE, data_bytes, enforce_cap, file_bytes
from tests.integration.conftest import PG_URL

ROWS = 6_000


def fill(db: Database) -> None:
    """Candles, logs, cycle metrics and pseudo results of one connection, oldest first; one open live position."""
    pad = "x" * 120
    with db.session() as s:
        s.add(Connection(id="c1", name="Bybit X03", exchange="bybit", kind="predefined", margin_type="cross",
                         position_mode="hedge", settings={}))
        s.flush()
        s.add(ConfigSet(id=1, connection_id="c1", symbol="BTC/USDT:USDT", indication_type="direction", params="3",
                        direction="long", tp=2.0, sl=1.0, stored_results=ROWS))
        s.add(RealPosition(connection_id="c1", symbol="BTC/USDT:USDT", side="long", paper=False,
                           quantity=Decimal("0.01"), status="open"))
        s.flush()
        s.execute(insert(Candle), [dict(connection_id="c1", symbol="BTC/USDT:USDT", timeframe="1m", ts=i * 60_000,
                                        open=1.0, high=1.0, low=1.0, close=1.0, volume=1.0) for i in range(ROWS * 4)])
        s.execute(insert(LogRecord), [dict(ts_ms=i, levelno=20, level="INFO", category="engine", logger="cts",
                                           message=f"line {i} {pad}") for i in range(ROWS)])
        s.execute(insert(CycleMetric), [dict(connection_id="c1", loop="main", ts_ms=i, duration_ms=1.0)
                                        for i in range(ROWS)])
        s.execute(insert(PseudoResult), [dict(set_id=1, opened_ms=i, closed_ms=i + 1, entry=1.0, exit=1.0,
                                              result_pc=0.1, reason="tp") for i in range(ROWS)])


def count(db: Database, model: type) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        database = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    else:
        database = Database(PG_URL, schema=request.getfixturevalue("pg_schema"))
    database.migrate()
    fill(database)
    try:
        yield database
    finally:
        database.dispose()


def test_under_the_cap_nothing_is_deleted(db: Database) -> None:
    size = data_bytes(db)
    report = enforce_cap(db, size + 1)
    assert not report.over and report.deleted == {} and count(db, Candle) == ROWS * 4


def test_over_the_cap_the_oldest_candles_go_first(db: Database) -> None:
    size = data_bytes(db)
    file_before = file_bytes(db)
    with db.session() as s:
        oldest = s.execute(select(func.min(Candle.ts))).scalar_one()
    cap = int(size * 0.97)  # a little over: deleting part of the candles is enough
    report = enforce_cap(db, cap)
    assert report.over and report.size_after < cap * TARGET_SHARE and data_bytes(db) == report.size_after
    assert 0 < report.deleted["candles"] < ROWS * 4 and set(report.deleted) == {"candles"}
    with db.session() as s:
        assert s.execute(select(func.min(Candle.ts))).scalar_one() > oldest  # the oldest went
    assert (count(db, LogRecord), count(db, CycleMetric), count(db, PseudoResult)) == (ROWS, ROWS, ROWS)
    assert count(db, RealPosition) == 1 and count(db, Connection) == 1
    assert report.reclaimed_bytes > 0 and file_bytes(db) < file_before  # the space is given back
    assert "over its cap" in report.text() and "candles" in report.text()


def test_far_over_the_cap_every_kind_goes_in_order_and_trading_rows_stay(db: Database) -> None:
    size = data_bytes(db)
    report = enforce_cap(db, int(size * 0.35))
    assert report.size_after < int(size * 0.35) * TARGET_SHARE
    assert count(db, Candle) == 0 and report.deleted["candles"] == ROWS * 4
    assert report.deleted.get("logs", 0) > 0
    later = list(report.deleted)
    assert later == ["candles", "logs", "cycle metrics", "pseudo results"][: len(later)]
    assert count(db, RealPosition) == 1
    with db.session() as s:  # each set's count of stored results follows what is left
        assert s.get(ConfigSet, 1).stored_results == count(db, PseudoResult)  # type: ignore[union-attr]


def test_an_old_sqlite_file_is_switched_to_incremental_vacuum(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as conn:  # made by an older version: auto_vacuum NONE before any table
        conn.execute("PRAGMA auto_vacuum=NONE")
        conn.execute("CREATE TABLE seed (x)")
        conn.execute("DROP TABLE seed")
    db = Database(sqlite_url(path))
    db.migrate()
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA auto_vacuum")).scalar_one() == 0
    fill(db)
    before = file_bytes(db)
    report = enforce_cap(db, int(data_bytes(db) * 0.9))
    with db.engine.connect() as c:
        assert c.execute(text("PRAGMA auto_vacuum")).scalar_one() == 2  # incremental from now on
    assert report.reclaimed_bytes > 0 and file_bytes(db) < before
    db.dispose()
