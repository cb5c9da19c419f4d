"""A damaged database is never written: SQLite's own check at start, and a guard on every connection afterwards.

`check_file` runs ``PRAGMA quick_check`` over a read-only connection (it cannot change the file, and a
read-only connection never checkpoints the WAL into it). :class:`DamageGuard` sits on the SQLAlchemy engine of one
:class:`~cts_desktop.storage.db.Database`: the first error that says the file is damaged — SQLite's
``SQLITE_CORRUPT``/``SQLITE_NOTADB`` ("database disk image is malformed", "file is not a database") or
PostgreSQL's ``data_corrupted``/``index_corrupted``, raised in any thread (the batched writer, an engine session, a
reader, the log sink) — *trips* it. From then on every statement that could write and every commit is refused,
on every connection of the engine, and the listeners are told once (the app stops its engines and tells the user).

Closing the last connection of a WAL database normally copies the WAL into the database file (a checkpoint). Once
tripped, the guard holds a read-only connection open on the file for the rest of the process: while it exists no
other connection may checkpoint on close, and it cannot checkpoint itself; so neither the app's shutdown nor the
garbage collector writes the damaged file again. It is released only to restore a backup in this process.
"""

from __future__ import annotations

import ctypes
import logging
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import OperationalError

log = logging.getLogger("cts.database.integrity")

SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26
DAMAGE_TEXTS = ("database disk image is malformed", "file is not a database")
PG_DAMAGE_STATES = frozenset({"XX001", "XX002"})  # data_corrupted, index_corrupted
REFUSED = "writes refused"
WROTE = "cts.wrote"  # connection info: the transaction under way has written
CHECK_LIMIT = 10  # problems quick_check reports at most (it stops there: a badly damaged file is not read twice)

_READ_ONLY = re.compile(r"^\s*(SELECT|EXPLAIN|PRAGMA\s+(quick_check|integrity_check|table_info|table_xinfo|"
                        r"index_list|index_info|foreign_key_list|schema_version|user_version|page_count|"
                        r"page_size|freelist_count|journal_mode|database_list)\b(?!\s*=))", re.IGNORECASE)


def is_damage_error(exc: BaseException) -> bool:
    """True when ``exc`` (or the driver error it wraps) says the database file or its pages are damaged."""
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in (SQLITE_CORRUPT, SQLITE_NOTADB):
        return True
    if getattr(orig, "sqlstate", None) in PG_DAMAGE_STATES:
        return True
    text = str(orig).lower()
    return isinstance(orig, sqlite3.DatabaseError) and any(t in text for t in DAMAGE_TEXTS)


def read_only_connection(path: Path) -> sqlite3.Connection:
    """A connection that cannot write ``path`` (nor create it), usable from any thread."""
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10, check_same_thread=False)


def check_file(path: Path, *, full: bool = False, limit: int = CHECK_LIMIT) -> list[str]:
    """What ``PRAGMA quick_check`` (``full``: ``integrity_check``, which also compares every index with its table)
    finds wrong with the SQLite file; empty = healthy. A file SQLite cannot open or read at all gives one line
    saying why. Never writes the file."""
    pragma = "integrity_check" if full else "quick_check"
    try:
        conn = read_only_connection(path)
    except sqlite3.Error as exc:
        return [f"cannot be opened: {exc}"]
    try:
        rows = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}({int(limit)})")]
    except sqlite3.Error as exc:
        return [str(exc)]
    finally:
        conn.close()
    lines = [line.strip() for row in rows if row != "ok" for line in row.splitlines()]
    return [line for line in lines if line and not line.startswith("*** in database")]


def summary(problems: list[str]) -> str:
    """The first problem, and how many more there are."""
    if not problems:
        return "no problem found"
    capped = "+" if len(problems) >= CHECK_LIMIT else ""  # quick_check stopped counting there
    more = f" and {len(problems) - 1}{capped} more" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


DamageListener = Callable[[str], None]


class DamageGuard:
    """Refuses writes to one database once it is known to be damaged; see the module docstring."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.file: Path | None = None  # the SQLite file, when there is one
        self._listeners: list[DamageListener] = []
        self._lock = threading.Lock()
        self._holder: sqlite3.Connection | None = None

    @property
    def tripped(self) -> bool:
        return self.reason is not None

    def on_damage(self, listener: DamageListener) -> None:
        """``listener(reason)`` is called once, in the thread that found the damage."""
        self._listeners.append(listener)

    def install(self, engine: Engine, file: Path | None) -> None:
        self.file = file
        event.listen(engine, "handle_error", self._on_error)
        event.listen(engine, "before_cursor_execute", self._before_execute, retval=True)
        event.listen(engine, "commit", self._before_commit)
        event.listen(engine, "rollback", lambda conn: conn.info.pop(WROTE, None))

    def trip(self, reason: str) -> None:
        """The database is damaged: stop every write from now on (idempotent: the first reason is kept, listeners
        hear it once)."""
        with self._lock:
            if self.reason is not None:
                return
            self.reason = f"the database is damaged ({reason}); restore a backup"
            self._hold_file()
        log.critical("%s: nothing more is written to it", self.reason)
        for listener in list(self._listeners):
            try:
                listener(reason)
            except Exception:  # one faulty listener must not keep the others from hearing it
                log.exception("database damage listener failed")

    def block(self, reason: str) -> None:
        """Refuse every write from now on for another ``reason`` (the file was replaced); nobody is told."""
        with self._lock:
            self.reason = self.reason or reason

    def release_file(self) -> None:
        """Close the read-only connection that keeps the file from being checkpointed (before restoring a backup
        in this process, once every other connection is closed)."""
        with self._lock:
            holder, self._holder = self._holder, None
        if holder is not None:
            holder.close()

    # --- engine events ----------------------------------------------------------------------------------------

    def _on_error(self, context: Any) -> None:
        original = context.original_exception
        if not self.tripped and is_damage_error(original):
            self.trip(str(getattr(original, "orig", original)))

    def _before_execute(self, conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                        _many: bool) -> tuple[str, Any]:
        if not _READ_ONLY.match(statement):
            if self.reason is not None:
                raise conn.dialect.loaded_dbapi.OperationalError(f"{REFUSED}: {self.reason}")
            conn.info[WROTE] = True
        return statement, parameters

    def _before_commit(self, conn: Any) -> None:
        """Refuse the commit of a transaction that wrote before the damage was found (one that only read has
        nothing to commit: let it end normally)."""
        if conn.info.pop(WROTE, False) and self.reason is not None:
            raise OperationalError("COMMIT", None,
                                   conn.dialect.loaded_dbapi.OperationalError(f"{REFUSED}: {self.reason}"))

    def _hold_file(self) -> None:
        if self.file is None or not self.file.exists():
            return
        try:
            holder = read_only_connection(self.file)
            holder.execute("PRAGMA schema_version").fetchone()
        except sqlite3.Error:
            # a header too damaged to read: no connection of this process is in WAL mode on it either
            return
        # never garbage-collected: at interpreter exit the last connection to close must not be a writable one
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(holder))
        self._holder = holder
