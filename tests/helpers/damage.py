"""Making a real app database with data, damaging it the way a failing disk does, and fingerprinting files."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JUNK_BYTES = 64 * 1024


def fill_logs(database: Path, rows: int, tag: str = "filler") -> None:
    """Add ``rows`` log records (a few MB for 20,000) to a migrated app database, then checkpoint the WAL so the
    data is in the file itself."""
    conn = sqlite3.connect(database)
    try:
        conn.executemany(
            "INSERT INTO logs (ts_ms, levelno, level, category, logger, message) "
            "VALUES (?, 20, 'INFO', 'system', 'test', ?)",
            ((1_700_000_000_000 + i, f"{tag} {i} " + "x" * 120) for i in range(rows)),
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def count_logs(database: Path, tag: str) -> int:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM logs WHERE message LIKE ?", (f"{tag} %",)).fetchone()[0])
    finally:
        conn.close()


def junk_in_the_middle(path: Path, size: int = JUNK_BYTES) -> None:
    """Overwrite ``size`` bytes at the middle of the file with random bytes (a damaged disk sector run)."""
    length = path.stat().st_size
    assert length > 2 * size, f"{path} is too small ({length} bytes) to damage only its middle"
    with open(path, "r+b") as handle:
        handle.seek(length // 2 - size // 2)
        handle.write(os.urandom(size))


def fingerprint(path: Path) -> tuple[str, int]:
    """(SHA-256, mtime in ns) of a file: both stay the same when nothing wrote it."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def log_row(message: str, ts_ms: int = 1) -> dict[str, object]:
    """A whole ``logs`` row, as the log sink queues it (one batch's rows must all have the same keys)."""
    return {"ts_ms": ts_ms, "levelno": 20, "level": "INFO", "category": "system", "logger": "test",
            "connection_id": None, "symbol": None, "message": message, "context": None, "exc_text": None}


@contextmanager
def held_open(database: Path) -> Iterator[int]:
    """Another process with the database open (as a running app has it) while the block runs; yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys\n"
         f"c = sqlite3.connect({str(database)!r}); c.execute('SELECT count(*) FROM logs').fetchone()\n"
         "print('open', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        yield holder.pid
    finally:
        holder.communicate("", timeout=10)
