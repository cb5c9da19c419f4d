"""A database that goes away and comes back: no log record is lost (SQLite locked; PostgreSQL cut off)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cts_desktop.monitoring.logging_setup import Category, configure_logging, get_logger
from cts_desktop.storage import models as m
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.writer import BatchedWriter
from tests.helpers.tcp_proxy import TcpProxy
from tests.helpers.waiting import wait_until
from tests.integration.conftest import PG_URL


def _log_through_outage(db: Database, tmp_path: Path, cut: Callable[[], None], restore: Callable[[], None]) -> None:
    writer = BatchedWriter(db, flush_interval=0.05, retry_pause_max=0.3)
    writer.start()
    handles = configure_logging(tmp_path / "logs" / "cts.log", "DEBUG", console=False)
    handles.attach_database(writer)
    log = get_logger(Category.ENGINE, "outage")
    try:
        for i in range(100):
            log.info("before %d", i, extra={"connection_id": "c1"})
        assert writer.flush(20)
        cut()
        for i in range(500):
            log.warning("during %d", i, extra={"connection_id": "c1", "context": {"i": i}})
        wait_until(lambda: not writer.stats.healthy, 20, "the writer noticing the outage")
        assert writer.pending > 0
        restore()
        for i in range(100):
            log.error("after %d", i)
        assert writer.flush(60), f"writer stuck: {writer.stats}"
        assert writer.stats.healthy
    finally:
        handles.close()
        writer.stop()
    with db.session() as s:
        messages = s.execute(select(m.LogRecord.message).where(m.LogRecord.logger == "cts.engine.outage")).scalars()
        got = list(messages)
        assert sorted(got) == sorted(
            [f"before {i}" for i in range(100)] + [f"during {i}" for i in range(500)]
            + [f"after {i}" for i in range(100)]
        )
        assert s.execute(select(func.count()).where(m.LogRecord.category == "engine")).scalar_one() == 700
    text = (tmp_path / "logs" / "cts.log").read_text()
    assert "during 499" in text and "after 99" in text


def test_sqlite_locked_then_released(tmp_path: Path) -> None:
    path = tmp_path / "cts.sqlite3"
    db = Database(sqlite_url(path), busy_timeout_ms=100)
    db.migrate()
    holder: dict[str, sqlite3.Connection] = {}

    def cut() -> None:
        conn = sqlite3.connect(path, timeout=5, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        holder["c"] = conn

    def restore() -> None:
        holder["c"].execute("ROLLBACK")
        holder["c"].close()

    _log_through_outage(db, tmp_path, cut, restore)
    db.dispose()


@pytest.fixture
def proxied_pg(pg_schema: str) -> Iterator[tuple[Database, TcpProxy]]:
    from sqlalchemy.engine import make_url

    target = make_url(PG_URL)
    proxy = TcpProxy(target.host or "127.0.0.1", target.port or 5432)
    port = proxy.start()
    db = Database(target.set(port=port), schema=pg_schema)
    db.migrate()
    yield db, proxy
    proxy.cut()
    db.dispose()


@pytest.mark.postgres
def test_postgres_server_vanishes_and_returns(proxied_pg: tuple[Database, TcpProxy], tmp_path: Path) -> None:
    db, proxy = proxied_pg
    _log_through_outage(db, tmp_path, proxy.cut, proxy.start)


def test_records_pending_at_shutdown_are_spooled_and_replayed(tmp_path: Path) -> None:
    path = tmp_path / "cts.sqlite3"
    db = Database(sqlite_url(path), busy_timeout_ms=50)
    db.migrate()
    spool = tmp_path / "logs" / "pending.jsonl"
    writer = BatchedWriter(db, flush_interval=0.05, retry_pause_max=0.1, spool_file=spool)
    writer.start()
    blocker = sqlite3.connect(path, timeout=5, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    for i in range(50):
        writer.insert("logs", {"ts_ms": i, "levelno": logging.INFO, "level": "INFO", "category": "system",
                               "logger": "cts.system", "message": f"spooled {i}"})
    writer.stop(timeout=0.5)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert spool.exists() and len(spool.read_text().splitlines()) == 50
    second = BatchedWriter(db, flush_interval=0.05, spool_file=spool)
    second.start()
    assert second.flush(20)
    second.stop()
    assert not spool.exists()
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(m.LogRecord)).scalar_one() == 50
    db.dispose()
