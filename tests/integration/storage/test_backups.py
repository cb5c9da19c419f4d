"""Backups of the SQLite database: made online and verified, named with time and revision, rotated, made before a
migration, and restored — the current file moved aside with its WAL, never deleted; bad backups and a database
open in another process are refused with a plain message and nothing changes."""

from __future__ import annotations

import lzma
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import select

from cts_desktop.engine.persistence import load_snapshots
from cts_desktop.storage.backups import (
    BackupError,
    BackupReason,
    backup_before_upgrade,
    is_packed,
    list_backups,
    make_backup,
    parse_backup,
    plain_file,
    postgres_commands,
    rotate,
    unpack,
    verify_backup,
)
from cts_desktop.storage.db import Database, DatabaseError, normalise_url, sqlite_url
from cts_desktop.storage.migrate import alembic_config, current_revision, head_revision
from cts_desktop.storage.models import BookSnapshot, Candle, ConfigSet, Connection, PseudoResult
from cts_desktop.storage.restore import RestoreRefused, restore_backup
from tests.helpers.damage import count_logs, fill_logs, fingerprint, held_open, junk_in_the_middle

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A migrated app database with a few MB of log rows."""
    path = tmp_path / "data" / "cts.sqlite3"
    db = Database(sqlite_url(path))
    db.migrate()
    db.dispose()
    fill_logs(path, 2_000, tag="first")
    return path


def test_backup_is_verified_self_contained_and_named_with_time_and_revision(database: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "backups"
    made = make_backup(database, folder, BackupReason.PERIODIC, now=T0)
    assert made.path.name == f"cts-20261201T080000Z-r{head_revision()}-periodic.sqlite3.xz"
    assert parse_backup(made.path) == made
    assert sorted(p.name for p in folder.iterdir()) == [made.path.name]  # no -wal, no .partial left
    assert is_packed(made.path) and made.size_bytes * 5 < database.stat().st_size  # log rows pack well
    with plain_file(made.path) as plain, sqlite3.connect(plain) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert count_logs(plain, "first") == 2_000
    older = folder / "cts-20261130T080000Z-r0009-manual.sqlite3"  # a backup made before they were packed
    older.write_bytes(lzma.decompress(made.path.read_bytes()))
    assert parse_backup(older) is not None and verify_backup(older) == head_revision()


def test_backup_restore_round_trip_keeps_the_replaced_file_and_its_wal(database: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "backups"
    made = make_backup(database, folder, BackupReason.MANUAL, now=T0)
    fill_logs(database, 500, tag="later")
    # the app is not running, but its last session left a WAL with rows in it
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("INSERT INTO logs (ts_ms, levelno, level, category, logger, message) "
                 "VALUES (1, 20, 'INFO', 'system', 'test', 'later in the wal')")
    conn.commit()
    wal = database.with_name("cts.sqlite3-wal")
    assert wal.stat().st_size > 0
    replaced = fingerprint(database)
    result = restore_backup(made.path, database, now=T0 + timedelta(hours=1))
    conn.close()  # (after the restore: a close would have checkpointed the WAL into the replaced file)
    assert count_logs(database, "first") == 2_000 and count_logs(database, "later") == 0
    aside = tmp_path / "data" / "cts-replaced-20261201T090000Z.sqlite3"
    assert result.kept_aside[0] == aside and fingerprint(aside)[0] == replaced[0]
    assert aside.with_name(aside.name + "-wal") in result.kept_aside  # the WAL went along with its file
    assert count_logs(aside, "later") == 501  # nothing of the replaced data is lost, the row in its WAL included
    assert not wal.exists() or wal.stat().st_size == 0
    assert made.path.exists()  # the backup stays a backup
    assert str(made.path) in result.describe() and str(aside) in result.describe()


def test_rotation_keeps_the_newest_n_of_each_reason_and_nothing_else(database: Path, tmp_path: Path) -> None:
    folder = tmp_path / "backups"
    for hour in range(5):
        make_backup(database, folder, BackupReason.PERIODIC, now=T0 + timedelta(hours=hour))
    before_migration = make_backup(database, folder, BackupReason.PRE_MIGRATION, now=T0 - timedelta(days=30))
    other = folder / "notes.txt"
    other.write_text("mine", encoding="utf-8")
    removed = rotate(folder, "cts", keep=3)
    assert len(removed) == 2
    kept = list_backups(folder, "cts")
    assert [b.made_at.hour for b in kept if b.reason is BackupReason.PERIODIC] == [12, 11, 10]
    assert before_migration in kept and other.exists()


def _database_at_revision(path: Path, revision: str) -> Database:
    """A database made by an older version of the app: its schema at ``revision``."""
    db = Database(sqlite_url(path))
    config = alembic_config()
    with db.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    assert current_revision(db.engine) == revision
    return db


def test_a_database_at_an_older_revision_is_backed_up_before_it_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "data" / "cts.sqlite3"
    db = _database_at_revision(path, "0002")
    folder = tmp_path / "data" / "backups"
    assert db.migrate(partial(backup_before_upgrade, folder=folder)) == head_revision()
    db.dispose()
    (backup,) = list_backups(folder, "cts")
    assert backup.reason is BackupReason.PRE_MIGRATION and backup.revision == "0002"
    with plain_file(backup.path) as plain, sqlite3.connect(plain) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == "0002"
    # at the newest revision already: no backup
    db = Database(sqlite_url(path))
    db.migrate(partial(backup_before_upgrade, folder=folder))
    db.dispose()
    assert len(list_backups(folder, "cts")) == 1


@pytest.mark.parametrize("damage", ["truncated", "junk", "not sqlite", "other schema", "newer app"])
def test_restore_refuses_what_is_not_a_valid_backup_and_changes_nothing(
        database: Path, tmp_path: Path, damage: str) -> None:
    bad = make_backup(database, tmp_path / "backups", BackupReason.MANUAL, now=T0).path
    if damage == "truncated":
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 3])
    elif damage == "junk":
        junk_in_the_middle(bad, 4 * 1024)
    elif damage == "not sqlite":
        bad.write_text("hello", encoding="utf-8")
    elif damage == "other schema":
        bad.unlink()
        with sqlite3.connect(bad) as conn:
            conn.execute("CREATE TABLE t (x)")
    else:
        plain = tmp_path / "plain.sqlite3"
        unpack(bad, plain)
        with sqlite3.connect(plain) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999'")
        bad.write_bytes(lzma.compress(plain.read_bytes()))
    before, listing = fingerprint(database), sorted(database.parent.iterdir())
    with pytest.raises(RestoreRefused) as refused:
        restore_backup(bad, database)
    message = str(refused.value)
    assert message.startswith("not restored: ") and str(bad) in message
    expected = {"truncated": "not a valid backup", "junk": "not a valid backup", "not sqlite": "not a valid backup",
                "other schema": "not a CTS Desktop database", "newer app": "newer version"}[damage]
    assert expected in message
    assert fingerprint(database) == before and sorted(database.parent.iterdir()) == listing


def test_restore_is_refused_while_another_process_has_the_database_open(database: Path, tmp_path: Path) -> None:
    made = make_backup(database, tmp_path / "backups", BackupReason.MANUAL, now=T0)
    with held_open(database) as pid:
        before = fingerprint(database)
        with pytest.raises(RestoreRefused) as refused:
            restore_backup(made.path, database)
        assert "open in another CTS Desktop process" in str(refused.value) and f"pid {pid}" in str(refused.value)
        assert fingerprint(database) == before
    restore_backup(made.path, database)  # once it is closed, the restore goes through


def test_a_failed_backup_leaves_no_partial_file(tmp_path: Path) -> None:
    not_sqlite = tmp_path / "cts.sqlite3"
    not_sqlite.write_text("not a database", encoding="utf-8")
    folder = tmp_path / "backups"
    with pytest.raises(BackupError):
        make_backup(not_sqlite, folder, BackupReason.MANUAL)
    assert list(folder.iterdir()) == []


def test_postgres_commands_name_host_and_database_but_never_the_password() -> None:
    url = normalise_url("postgresql://trader:s3cret-pw@db.example:6543/cts")
    dump, restore = postgres_commands(url, "cts_schema")
    assert dump.startswith("pg_dump --host=db.example --port=6543 --username=trader --dbname=cts")
    assert "--schema=cts_schema" in dump and "--format=custom" in dump
    assert restore.startswith("pg_restore --host=db.example") and "--clean" in restore
    assert "s3cret-pw" not in dump + restore


def test_no_upgrade_without_its_backup(tmp_path: Path) -> None:
    db = _database_at_revision(tmp_path / "data" / "cts.sqlite3", "0002")
    blocked = tmp_path / "data" / "backups"
    blocked.write_text("a file where the backups folder should be", encoding="utf-8")
    with pytest.raises(DatabaseError, match="was not upgraded: the backup before the upgrade failed"):
        db.migrate(partial(backup_before_upgrade, folder=blocked))
    assert current_revision(db.engine) == "0002"
    db.dispose()


def _trading_database(path: Path) -> Database:
    """An app database with a set, one of its results, a 2-MB book snapshot and a day of candles."""
    db = Database(sqlite_url(path))
    db.migrate()
    with db.session() as s:
        s.add(Connection(id="c1", name="Backup test", exchange="bybit", kind="replay"))
        s.flush()
        cs = ConfigSet(connection_id="c1", symbol="BTC/USDT:USDT", indication_type="direction", params="(5.0,)",
                       direction="long", tp=1.0, sl=0.5)
        s.add(cs)
        s.flush()
        s.add(PseudoResult(set_id=cs.id, opened_ms=1, closed_ms=2, entry=0.0, exit=0.0, result_pc=0.4,
                           reason="closed"))
        s.add(BookSnapshot(connection_id="c1", symbol="BTC/USDT:USDT", payload=os.urandom(2 << 20)))
        s.add_all(Candle(connection_id="c1", symbol="BTC/USDT:USDT", timeframe="1m", ts=i * 60_000, open=1.0,
                         high=1.0, low=1.0, close=1.0, volume=1.0) for i in range(1_440))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


def test_a_backup_leaves_out_what_the_next_start_rebuilds_and_restores_into_a_database_the_engine_starts_from(
        tmp_path: Path) -> None:
    source = tmp_path / "data" / "cts.sqlite3"
    _trading_database(source).dispose()
    made = make_backup(source, tmp_path / "data" / "backups", BackupReason.PERIODIC, now=T0)
    assert made.size_bytes < source.stat().st_size - (2 << 20), "the snapshot and the candles are left out"
    with plain_file(made.path) as plain, sqlite3.connect(plain) as conn:
        counts = {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                  for t in ("book_snapshots", "candles", "config_sets", "pseudo_results", "connections")}
    assert counts == {"book_snapshots": 0, "candles": 0, "config_sets": 1, "pseudo_results": 1, "connections": 1}

    target = tmp_path / "other" / "cts.sqlite3"
    restore_backup(made.path, target)
    db = Database(sqlite_url(target))
    try:
        assert db.migrate() == head_revision() and db.integrity_check() == []
        with db.session() as s:
            assert load_snapshots(s, "c1") == {}  # the engine's start: no snapshot, the warm-up builds the books
            stored = s.execute(select(ConfigSet.id, PseudoResult.result_pc).join(PseudoResult)).all()
        assert [tuple(r) for r in stored] == [(1, 0.4)]  # results still point at their set
    finally:
        db.dispose()
