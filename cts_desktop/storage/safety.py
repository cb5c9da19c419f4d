"""The database's safety while the app runs (no Qt): the check at start, periodic backups, the response to damage,
and restoring a backup — from the command line or from the running app.

At start a SQLite file that fails ``PRAGMA quick_check`` is not opened for writing at all
(:func:`ensure_undamaged` raises :class:`~cts_desktop.storage.db.DatabaseDamagedError`). While running, the
database's :class:`~cts_desktop.storage.integrity.DamageGuard` refuses every write from the first damage error on;
:class:`DatabaseSafety` then stops the engines and the background rounds, and publishes one
:class:`~cts_desktop.events.app.DatabaseDamaged` whose message names the newest backup and how to restore it
(the window shows it, headless mode logs it, prints it and exits with status 3).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cts_desktop.events.app import DatabaseDamaged
from cts_desktop.events.bus import EventBus
from cts_desktop.storage.backup_scheduler import TICK_S, BackupPolicy, BackupScheduler, Clock, utc_now
from cts_desktop.storage.backups import (
    BackupError,
    BackupFile,
    BackupReason,
    backup_folder,
    list_backups,
    newest_backup,
    postgres_commands,
)
from cts_desktop.storage.db import Database, DatabaseDamagedError
from cts_desktop.storage.integrity import check_file, summary
from cts_desktop.storage.restore import RestoreResult, check_restorable, damage_message, restore_backup

log = logging.getLogger("cts.system.database")

RESTART_REASON = "a backup was restored in place of this database: restart CTS Desktop to open it"


def ensure_undamaged(db: Database, folder: Path, data_dir: Path | None) -> None:
    """Refuse to open a SQLite file that ``PRAGMA quick_check`` finds damaged (read-only: nothing is written)."""
    file = db.sqlite_file
    if file is None or not file.exists() or file.stat().st_size == 0:
        return
    started = time.perf_counter()
    problems = check_file(file)
    log.info("quick_check of %s: %s in %.2f s", file, summary(problems) if problems else "ok",
             time.perf_counter() - started)
    if problems:
        newest = newest_backup(folder, file.stem)
        raise DatabaseDamagedError(damage_message(file, problems, folder, data_dir),
                                   database=file, backup=newest.path if newest else None)


@dataclass(frozen=True, slots=True)
class BackupsState:
    """What the Backups section of the Database page shows."""

    sqlite: bool
    folder: Path
    backups: tuple[BackupFile, ...]
    policy: BackupPolicy
    postgres_commands: tuple[str, str] | None  # (back up, restore) for a PostgreSQL database
    damage: str | None  # the damage message, once the database is damaged
    restored: str | None  # what was restored, once a backup was restored in this process


class DatabaseSafety:
    """The guard's response and the backups of one process's database. What it must stop it is given as callables
    by the services that own it: ``halt`` stops trading and the background rounds, ``close_writers`` the log sink
    and the batched writer (before a restore closes the database for good)."""

    def __init__(
        self, db: Database, data_folder: Path, settings: Callable[[], Mapping[str, object]], bus: EventBus, *,
        data_dir: Path | None, halt: Callable[[], Awaitable[None]], close_writers: Callable[[], Awaitable[None]],
        clock: Clock = utc_now, tick_s: float = TICK_S,
    ) -> None:
        self.db = db
        self.bus = bus
        self.data_dir = data_dir
        self.halt = halt
        self.close_writers = close_writers
        self.database = db.sqlite_file
        self.folder = backup_folder(data_folder)
        self.scheduler = BackupScheduler(self.database, self.folder, settings,
                                         on_damage=lambda problems: self.db.guard.trip(problems[0]),
                                         clock=clock, tick_s=tick_s)
        self.damage: str | None = None
        self.restored: RestoreResult | None = None
        self.response: asyncio.Task[str] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.db.guard.on_damage(self._guard_tripped)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.scheduler.start(loop)

    def stop(self) -> None:
        self.scheduler.stop()

    async def aclose(self) -> None:
        await self.scheduler.aclose()

    # --- damage -----------------------------------------------------------------------------------------------

    def _guard_tripped(self, reason: str) -> None:
        """Called once, in whichever thread met the damage: the response runs on the loop."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._start_response, reason)

    def _start_response(self, reason: str) -> None:
        self.response = asyncio.get_running_loop().create_task(self.respond(reason), name="database damaged")

    async def respond(self, reason: str) -> str:
        """Stop everything that writes, then tell the user once; returns the message."""
        if self.database is not None:
            problems = await asyncio.to_thread(check_file, self.database) or [reason]
            message = damage_message(self.database, problems, self.folder, self.data_dir)
        else:
            restore = postgres_commands(self.db.url, self.db.schema)[1]
            message = (f"The PostgreSQL database {self.db.display_url} reports damaged data ({reason}). Trading is "
                       f"stopped and nothing more is written. Restore a dump with the server's tools:  {restore}")
        self.damage = message
        log.critical(message)
        try:
            self.scheduler.stop()
            await self.halt()
        finally:
            self.bus.publish(DatabaseDamaged(message=message))
        return message

    # --- backups and restore ----------------------------------------------------------------------------------

    def state(self) -> BackupsState:
        """The Backups section's content (lists a folder: call it off the GUI thread)."""
        stem = self.database.stem if self.database is not None else None
        return BackupsState(
            sqlite=self.database is not None, folder=self.folder,
            backups=tuple(list_backups(self.folder, stem)) if stem else (), policy=self.scheduler.policy,
            postgres_commands=None if self.database is not None else postgres_commands(self.db.url, self.db.schema),
            damage=self.damage, restored=self.restored.describe() if self.restored else None,
        )

    async def backup_now(self) -> BackupFile:
        if self.db.guard.tripped:
            raise BackupError("no backup is made of a damaged database (it would copy the damage)")
        return await self.scheduler.backup(BackupReason.MANUAL)

    async def restore(self, backup: Path) -> RestoreResult:
        """Restore ``backup`` in place of the database this process uses: refused (nothing stopped, nothing
        changed) for a bad backup or a database open in another process; otherwise trading and every writer stop,
        the database is closed for good in this process, and the app must be started again."""
        database = self.database
        if database is None:
            raise BackupError("a PostgreSQL database is restored with the server's tools (pg_restore)")
        await asyncio.to_thread(partial(check_restorable, backup, database, this_process_has_it_open=True))
        log.warning("restoring %s: stopping trading and closing the database", backup)
        await self._close_database()
        self.restored = await asyncio.to_thread(restore_backup, backup, database)
        log.warning("%s", self.restored.describe())
        return self.restored

    async def _close_database(self) -> None:
        self.scheduler.stop()
        await self.halt()
        await self.close_writers()
        self.db.guard.block(RESTART_REASON)  # nothing in this process reads stale state into the restored file
        self.db.dispose()
        self.db.guard.release_file()


__all__ = ["BackupsState", "DatabaseSafety", "ensure_undamaged"]
