"""Backup, check and restore times of the SQLite database at a realistic size (issue 14's backups).

Builds (in a temporary folder, or ``--keep DIR``) an app database migrated to the newest revision and grown with
log rows to about ``--mb`` megabytes (logs are the largest table of a long-running app), then measures what the
app does with it: the start-up ``PRAGMA quick_check``, one online backup (copy with SQLite's backup API, then
``PRAGMA integrity_check`` and the revision read back) while a writer thread keeps committing rows as the app's
batched writer does, and a restore of that backup (its check, the copy, the renames). The page cache is warm (the
file was just written); a cold start reads the file from disk first.

Usage: ``python bench/backup.py [--mb 1000] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from cts_desktop.storage.backups import BackupReason, make_backup, verify_backup
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.integrity import check_file
from cts_desktop.storage.restore import restore_backup

ROW = "x" * 400
T = TypeVar("T")


def build(database: Path, megabytes: int) -> None:
    db = Database(sqlite_url(database))
    db.migrate()
    db.dispose()
    conn = sqlite3.connect(database)
    batch = 20_000
    while database.stat().st_size < megabytes * 1_000_000:
        conn.executemany(
            "INSERT INTO logs (ts_ms, levelno, level, category, logger, message) "
            "VALUES (?, 20, 'INFO', 'engine', 'cts.engine', ?)", ((i, f"{i} {ROW}") for i in range(batch)))
        conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def keep_writing(database: Path, stop: threading.Event, counter: list[int]) -> None:
    """One commit of 500 rows a second, as the app's batched writer does while trading."""
    conn = sqlite3.connect(database, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    while not stop.wait(1.0):
        conn.executemany("INSERT INTO logs (ts_ms, levelno, level, category, logger, message) "
                         "VALUES (?, 20, 'INFO', 'engine', 'cts.engine', 'during the backup')",
                         ((i,) for i in range(500)))
        conn.commit()
        counter[0] += 1
    conn.close()


def timed(label: str, fn: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = fn()
    print(f"{label:<52} {time.perf_counter() - started:7.2f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1000)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="cts-backup-bench-"))
    database = root / "data" / "cts.sqlite3"
    if not database.exists():
        timed(f"build a {args.mb} MB database", lambda: build(database, args.mb))
    print(f"database: {database} {database.stat().st_size / 1e6:.0f} MB")
    problems = timed("start-up PRAGMA quick_check", lambda: check_file(database))
    assert problems == [], problems
    stop, commits = threading.Event(), [0]
    writer = threading.Thread(target=keep_writing, args=(database, stop, commits))
    writer.start()
    folder = root / "data" / "backups"
    made = timed("online backup (copy + integrity_check + revision)",
                 lambda: make_backup(database, folder, BackupReason.MANUAL))
    stop.set()
    writer.join()
    print(f"backup: {made.path.name} {made.size_bytes / 1e6:.0f} MB; the writer committed {commits[0]} times "
          "meanwhile")
    timed("its integrity_check + revision alone", lambda: verify_backup(made.path))
    timed("restore (check + copy + renames)", lambda: restore_backup(made.path, database))


if __name__ == "__main__":
    main()
