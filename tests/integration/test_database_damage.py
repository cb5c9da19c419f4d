"""A damaged database is never written: refused at start by ``PRAGMA quick_check``, and when damage is met while
the app runs (here: 64 KiB of junk written into the middle of the live file) trading stops, one message names the
newest backup and how to restore it, and the file's bytes and mtime stay as they were — through every write path
the app has and through its shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, OperationalError

from cts_desktop.engine.coordinator import CoordinatorError
from cts_desktop.events.app import DatabaseDamaged
from cts_desktop.events.status import EngineState
from cts_desktop.services import AppOptions, Services
from cts_desktop.startup import StartupError, open_services
from cts_desktop.storage.backups import BackupReason, backup_folder, make_backup
from cts_desktop.storage.db import Database, DatabaseDamagedError, sqlite_url
from cts_desktop.storage.integrity import is_damage_error
from cts_desktop.storage.models import LogRecord
from tests.helpers.damage import fill_logs, fingerprint, junk_in_the_middle, log_row
from tests.helpers.waiting import until

LOG_ROWS = 20_000  # ~4 MB: the middle of the file is log pages, far from the schema


def _app_database_with_a_backup(data_dir: Path) -> tuple[Path, Path]:
    """An app database with data (created by the app itself), backed up, then grown further."""
    Services(AppOptions(data_dir=data_dir, console_log=False)).close()
    database = data_dir / "data" / "cts.sqlite3"
    fill_logs(database, LOG_ROWS, tag="kept")
    backup = make_backup(database, backup_folder(data_dir / "data"), BackupReason.MANUAL).path
    fill_logs(database, 2_000, tag="after the backup")
    return database, backup


@pytest.mark.parametrize("damage", ["junk in the middle", "junk header", "truncated"])
def test_a_damaged_file_is_refused_at_start_and_the_message_names_the_newest_backup(
        data_dir: Path, damage: str) -> None:
    database, backup = _app_database_with_a_backup(data_dir)
    if damage == "junk in the middle":
        junk_in_the_middle(database)
    elif damage == "junk header":
        with open(database, "r+b") as handle:
            handle.write(b"\x5a" * 100)
    else:
        with open(database, "r+b") as handle:
            handle.truncate(database.stat().st_size // 3)
    before = fingerprint(database)
    with pytest.raises(DatabaseDamagedError) as damaged:
        Services(AppOptions(data_dir=data_dir, console_log=False))
    message = str(damaged.value)
    assert f"The database file {database} is damaged" in message
    assert f'cts-desktop --restore-backup "{backup}" --data-dir "{data_dir}"' in message
    assert damaged.value.backup == backup
    with pytest.raises(StartupError) as startup:
        open_services(AppOptions(data_dir=data_dir, console_log=False))
    assert str(startup.value) == message
    assert fingerprint(database) == before


@pytest.mark.asyncio(loop_factories=["qasync"])
async def test_damage_met_while_trading_stops_the_engines_and_nothing_more_is_written(data_dir: Path) -> None:
    database, backup = _app_database_with_a_backup(data_dir)
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    told: list[DatabaseDamaged] = []
    heard = asyncio.Event()
    services.bus.subscribe(DatabaseDamaged, lambda event: (told.append(event), heard.set()))
    try:
        services.start(asyncio.get_running_loop())
        coordinator = services.trading.coordinator
        status = await coordinator.start()
        assert status.state is EngineState.RUNNING and status.engines  # the Replay connection trades
        assert services.writer.flush()
        with services.db.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        junk_in_the_middle(database)  # the disk goes bad under the running app
        with pytest.raises(DBAPIError, match="malformed"):  # any reader meets it first
            await services.db.run(lambda s: s.execute(select(func.max(func.length(LogRecord.message)))).scalar())
        await asyncio.wait_for(heard.wait(), timeout=30)
        assert coordinator.status().state is EngineState.STOPPED and not coordinator.engines
        (event,) = told
        assert str(backup) in event.message and "--restore-backup" in event.message
        assert services.safety.damage == event.message
        damaged = fingerprint(database)

        # every way the app writes is refused from now on, and says why
        services.writer.insert("logs", log_row("after the damage"))
        assert not services.writer.flush(timeout=1)
        with pytest.raises(OperationalError, match="writes refused: the database is damaged"):
            services.settings.set("system.backup_count", 3)
        with pytest.raises(OperationalError, match="writes refused"):
            await services.db.run(lambda s: s.execute(insert(LogRecord).values(
                ts_ms=2, levelno=20, level="INFO", category="system", logger="t", message="x")))
        with pytest.raises(CoordinatorError, match="damaged"):
            await coordinator.start()
        assert await services.db.run(lambda s: s.execute(text("SELECT 1")).scalar()) == 1  # reads still work
        await services.stop_monitoring()
        await services.stop_trading()
    finally:
        services.close()
    assert fingerprint(database) == damaged


def test_the_guard_refuses_writes_and_commits_but_lets_reads_through(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    heard: list[str] = []
    db.guard.on_damage(heard.append)
    with db.session() as session:  # a transaction under way when the damage is found
        session.execute(insert(LogRecord).values(ts_ms=1, levelno=20, level="INFO", category="system",
                                                 logger="t", message="in flight"))
        db.guard.trip("database disk image is malformed")
        with pytest.raises(OperationalError, match="writes refused"):
            session.commit()
        session.rollback()
    db.guard.trip("a second report")
    assert heard == ["database disk image is malformed"]  # once, the first report
    for statement in ("INSERT INTO settings (key, value) VALUES ('k', '1')", "PRAGMA journal_mode=DELETE",
                      "DELETE FROM logs", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"):
        with pytest.raises(OperationalError, match="writes refused"), db.engine.connect() as conn:
            conn.exec_driver_sql(statement)
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LogRecord)).scalar() == 0
        assert conn.exec_driver_sql("PRAGMA quick_check").scalar() == "ok"
    db.dispose()


def test_damage_errors_are_told_apart_from_other_database_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(sqlite3.DatabaseError) as not_a_db:
        sqlite3.connect(junk).execute("SELECT * FROM sqlite_master")
    assert is_damage_error(not_a_db.value)
    locked = sqlite3.OperationalError("database is locked")
    assert not is_damage_error(locked)
    assert not is_damage_error(ValueError("malformed JSON"))


@pytest.mark.asyncio(loop_factories=["qasync"])
async def test_headless_mode_stops_when_the_database_is_found_damaged(data_dir: Path) -> None:
    from cts_desktop.headless import serve

    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    try:
        stop = asyncio.Event()
        served = asyncio.get_running_loop().create_task(serve(services, stop))
        await until(lambda: served.done() or (services.trading_loaded and services.trading.coordinator.engines),
                    60, "the engines to start")
        assert not served.done()
        await asyncio.to_thread(services.db.guard.trip, "database disk image is malformed")  # as a reader would
        await asyncio.wait_for(served, timeout=60)  # serve returns by itself: headless mode exits (status 3)
        assert services.safety.damage is not None and "is damaged" in services.safety.damage
        assert not services.trading.coordinator.engines
    finally:
        services.close()
