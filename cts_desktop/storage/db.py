"""Opening the database: SQLite (default, a file in the data folder) or PostgreSQL by URL.

SQLite runs in WAL mode with foreign keys and a busy timeout so readers never wait for the writer. A PostgreSQL URL
is given *without* its password; the password comes from the keyring (``database:<url>:password``) and is put into
the connection at connect time only, so it is never written to a file, a log line or an exception text.

Storage calls are synchronous SQLAlchemy; services on the asyncio loop reach them through :meth:`Database.run`
(a worker thread), and high-rate rows go through the batched writer (``storage/writer.py``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from cts_desktop.storage.integrity import REFUSED, DamageGuard
from cts_desktop.storage.schema_head import newest_revision, stored_revision

log = logging.getLogger("cts.database")

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
# the -wal file is cut back to this size whenever SQLite starts it over after a checkpoint: one large round (a book
# snapshot of every symbol, tens of MB) grows it, and without a limit it kept that size for good (issue 18)
WAL_SIZE_LIMIT = 4 << 20


AFTER_COMMIT = "cts.after_commit"


def after_commit(session: Session, fn: Callable[[], None]) -> None:
    """Run ``fn`` once ``session``'s transaction (from :meth:`Database.session`) has committed, never after a
    rollback: a cache of what the database holds learns it only when the database holds it."""
    session.info.setdefault(AFTER_COMMIT, []).append(fn)


class DatabaseError(RuntimeError):
    """A database problem in plain words (locked, corrupt, unreachable, bad URL); never contains a password."""


class DatabaseDamagedError(DatabaseError):
    """The database file is damaged: the app does not open it for writing; the message says how to restore."""

    def __init__(self, message: str, *, database: Path | None = None, backup: Path | None = None) -> None:
        super().__init__(message)
        self.database = database
        self.backup = backup  # the newest backup, if any


def public_url(url: str | URL) -> str:
    """The URL as shown to a user or written to a log: the password, if any, is hidden."""
    parsed = make_url(url) if isinstance(url, str) else url
    return parsed.render_as_string(hide_password=True)


def normalise_url(url: str) -> URL:
    """Accept ``postgresql://`` and ``postgres://`` and pick the psycopg 3 driver; refuse unknown schemes."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseError(f"not a database URL: {public_url_safe(url)}") from exc
    backend = parsed.get_backend_name()
    if backend in ("postgres", "postgresql"):
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return parsed
    raise DatabaseError(f"unsupported database '{backend}': use SQLite or PostgreSQL")


def public_url_safe(url: str) -> str:
    """Best-effort redaction for a string that may not even parse as a URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url


def sqlite_url(path: Path) -> URL:
    return URL.create("sqlite", database=str(path))


@dataclass(frozen=True, slots=True)
class DatabaseSpec:
    """What another process of the app needs to open the same database (a warm-up worker storing the sets it
    computed). The password travels only in memory — pickled through the pipe to the worker — never into a file,
    the URL or a log line (``repr`` leaves it out)."""

    url: str  # without a password
    schema: str | None
    busy_timeout_ms: int
    password: str | None = field(default=None, repr=False)

    def open(self) -> Database:
        return Database(self.url, password=self.password, schema=self.schema, busy_timeout_ms=self.busy_timeout_ms)


class Database:
    """One database: its engine, a session factory, migrations and health information."""

    def __init__(
        self,
        url: str | URL,
        *,
        password: str | None = None,
        schema: str | None = None,
        echo: bool = False,
        busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS,
    ) -> None:
        self.busy_timeout_ms = busy_timeout_ms
        self.url = normalise_url(url) if isinstance(url, str) else url
        self.schema = schema
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._password = password  # kept for spec() only (another process opening this database)
        self.engine = self._create_engine(password, echo)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        self.created_now = False  # set by migrate(): True when this start created the schema (first start)
        self.guard = DamageGuard()
        self.guard.install(self.engine, self.sqlite_file)

    # --- engine -----------------------------------------------------------------------------------------------

    def _create_engine(self, password: str | None, echo: bool) -> Engine:
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            database = self.url.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            connect_args["timeout"] = self.busy_timeout_ms / 1000
            connect_args["check_same_thread"] = False
            engine = create_engine(self.url, echo=echo, connect_args=connect_args, pool_pre_ping=True)
            busy = self.busy_timeout_ms
            event.listen(engine, "connect", lambda conn, _rec: _sqlite_pragmas(conn, busy))
            return engine
        if password:
            connect_args["password"] = password  # handed to psycopg only; never part of the URL string
        if self.schema:
            connect_args["options"] = f"-csearch_path={self.schema}"
        connect_args.setdefault("connect_timeout", 5)
        return create_engine(
            self.url, echo=echo, connect_args=connect_args, pool_pre_ping=True, pool_size=5, max_overflow=5
        )

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, or None (PostgreSQL, in-memory SQLite)."""
        database = (self.url.database or "") if self.is_sqlite else ""
        return Path(database) if database and database != ":memory:" else None

    def spec(self) -> DatabaseSpec | None:
        """How another process opens this database; None for an in-memory SQLite database (only this process
        has it)."""
        if self.is_sqlite and (self.url.database or ":memory:") == ":memory:":
            return None
        password = self._password or (str(self.url.password) if self.url.password else None)
        return DatabaseSpec(self.url.set(password=None).render_as_string(hide_password=False), self.schema,
                            self.busy_timeout_ms, password)

    @property
    def display_url(self) -> str:
        return public_url(self.url)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def dispose(self) -> None:
        self.engine.dispose()

    # --- sessions -----------------------------------------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on error."""
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.info.pop(AFTER_COMMIT, None)
                session.rollback()
                raise
            for fn in session.info.pop(AFTER_COMMIT, ()):
                fn()

    async def run(self, fn: Callable[[Session], T]) -> T:
        """Run ``fn(session)`` in a worker thread and commit; the asyncio loop never waits on the database."""

        def work() -> T:
            with self.session() as session:
                return fn(session)

        return await asyncio.to_thread(work)

    # --- migrations and health ------------------------------------------------------------------------------------

    def migrate(self, before_upgrade: Callable[[Path], object] | None = None) -> str:
        """Bring the schema to the newest revision (Alembic); returns the revision now applied. A SQLite file that
        is about to be upgraded is first given to ``before_upgrade`` (the backup before every migration; an
        exception from it leaves the schema as it was)."""
        try:
            current = stored_revision(self.engine, self.schema)
            self.created_now = current is None
            if current is not None and current == newest_revision():
                return current  # nothing to upgrade: Alembic is not even imported (storage/schema_head.py)
            from cts_desktop.storage.migrate import head_revision, upgrade_to_head

            file = self.sqlite_file
            if before_upgrade is not None and file is not None and current is not None \
                    and current != head_revision():
                before_upgrade(file)
            return upgrade_to_head(self.engine, self.schema)
        except DBAPIError as exc:
            raise DatabaseError(describe_db_error(exc, self.display_url)) from exc

    def ping(self) -> float:
        """Round trip of ``SELECT 1`` in milliseconds; raises :class:`DatabaseError` when unreachable."""
        import time

        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise DatabaseError(describe_db_error(exc, self.display_url)) from exc
        return (time.perf_counter() - started) * 1000

    def size_bytes(self) -> int:
        """Database size: the SQLite file (+ WAL) or ``pg_database_size``."""
        if self.is_sqlite:
            database = self.url.database or ""
            if not database or database == ":memory:":
                return 0
            total = 0
            for suffix in ("", "-wal", "-shm"):
                candidate = Path(database + suffix)
                if candidate.exists():
                    total += candidate.stat().st_size
            return total
        with self.engine.connect() as conn:
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())

    def integrity_check(self) -> list[str]:
        """Problems found by the database's own check (empty list = healthy)."""
        if not self.is_sqlite:
            self.ping()
            return []
        with self.engine.connect() as conn:
            rows = [str(r[0]) for r in conn.execute(text("PRAGMA integrity_check"))]
            fk = conn.execute(text("PRAGMA foreign_key_check")).fetchall()
        problems = [r for r in rows if r != "ok"]
        problems += [f"foreign key violation: {tuple(r)}" for r in fk]
        return problems


def _sqlite_pragmas(dbapi_connection: Any, busy_timeout_ms: int) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # a new file gives deleted pages back to the disk step by step (storage/size_cap.py); an existing file
        # keeps its mode until the size cap's one full VACUUM switches it
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def describe_db_error(exc: BaseException, where: str) -> str:
    """A plain message for the usual database failures; the URL is always the password-free one."""
    text_ = str(getattr(exc, "orig", exc)).lower()
    if text_.startswith(REFUSED):  # the damage guard's refusal says itself why
        return f"{where}: {getattr(exc, 'orig', exc)}"
    if "database is locked" in text_:
        return f"the database {where} is locked by another program; close it and try again"
    if "file is not a database" in text_ or "malformed" in text_:
        return f"the database file {where} is damaged (not a valid SQLite database); restore a backup"
    if "unable to open database" in text_:
        return f"cannot open the database file {where}: check the folder exists and is writable"
    if "password authentication failed" in text_ or "no password supplied" in text_:
        return f"PostgreSQL at {where} refused the login: check the user and the password in the keyring"
    if "connection refused" in text_ or "could not connect" in text_ or "timeout" in text_:
        return f"cannot reach the database server {where}: is it running and reachable?"
    if "does not exist" in text_ and "database" in text_:
        return f"the database {where} does not exist on the server"
    return f"database error on {where}: {type(getattr(exc, 'orig', exc)).__name__}"
