"""Periodic backups while the app runs, behind the System › Database settings "Backup interval" and "Backups kept".

A backup is due when the newest backup of the database in the folder (of any reason: periodic, manual, before a
migration) is older than the interval — so a restart neither skips one nor makes an extra one. The scheduler
looks every ``tick_s`` seconds (reading the settings each time, so a change takes effect at the next look), makes
the backup in a worker thread and then rotates. A backup that fails its check is a sign of a damaged source: the
source gets a ``quick_check`` and ``on_damage`` hears what it found.

For PostgreSQL the scheduler does nothing: the server's own tools (``pg_dump``) back it up; it says so once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cts_desktop.storage.background import LoopTask
from cts_desktop.storage.backups import BackupError, BackupFile, BackupReason, make_backup, newest_backup, rotate
from cts_desktop.storage.integrity import check_file

log = logging.getLogger("cts.storage.backups")

TICK_S = 60.0
INTERVAL_KEY = "system.backup_interval_hours"
KEEP_KEY = "system.backup_count"


@dataclass(frozen=True, slots=True)
class BackupPolicy:
    interval_hours: float
    keep: int

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> BackupPolicy:
        interval, keep = values[INTERVAL_KEY], values[KEEP_KEY]
        assert isinstance(interval, int | float) and isinstance(keep, int), (interval, keep)
        return cls(interval_hours=float(interval), keep=int(keep))

    @property
    def interval(self) -> timedelta:
        return timedelta(hours=self.interval_hours)


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class BackupScheduler(LoopTask):
    def __init__(
        self,
        database: Path | None,
        folder: Path,
        values: Callable[[], Mapping[str, object]],
        *,
        on_damage: Callable[[list[str]], None] | None = None,
        clock: Clock = utc_now,
        tick_s: float = TICK_S,
    ) -> None:
        super().__init__("periodic backups")
        self.database = database
        self.folder = folder
        self.values = values
        self.on_damage = on_damage
        self.clock = clock
        self.tick_s = tick_s
        self.last: BackupFile | None = None
        self._last_error: str | None = None
        self._lock = asyncio.Lock()

    @property
    def policy(self) -> BackupPolicy:
        return BackupPolicy.from_values(self.values())

    def next_due(self) -> datetime:
        """When the next periodic backup is made: the newest backup's time plus the interval (now if none)."""
        assert self.database is not None
        newest = newest_backup(self.folder, self.database.stem)
        return self.clock() if newest is None else newest.made_at + self.policy.interval

    async def run_due(self) -> BackupFile | None:
        """Make a periodic backup when one is due; None when not due (or there is nothing to back up)."""
        if self.database is None or not self.database.exists():
            return None
        if await asyncio.to_thread(self.next_due) > self.clock():
            return None
        return await self.backup(BackupReason.PERIODIC)

    async def backup(self, reason: BackupReason) -> BackupFile:
        """Make one backup now (in a worker thread) and rotate; :class:`BackupError` when it failed."""
        if self.database is None:
            raise BackupError("this database is not a SQLite file: back it up with the server's own tools")
        database = self.database
        async with self._lock:  # one backup at a time (the periodic round and a "Back up now")
            started = time.perf_counter()
            try:
                made = await asyncio.to_thread(make_backup, database, self.folder, reason, self.clock())
            except BackupError:
                problems = await asyncio.to_thread(check_file, database)
                if problems and self.on_damage is not None:
                    self.on_damage(problems)
                raise
            removed = await asyncio.to_thread(rotate, self.folder, database.stem, self.policy.keep)
        self.last = made
        log.info("backup made: %s (%.1f MB) in %.1f s%s", made.path, made.size_bytes / 1e6,
                 time.perf_counter() - started, f"; {len(removed)} older backup(s) removed" if removed else "")
        return made

    # --- lifecycle --------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.database is None:
            log.info("periodic backups: none made by the app on this database server; back it up with the "
                     "server's own tools (pg_dump, see Settings › System › Backups)")
            return
        super().start(loop)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                await self.run_due()
                self._last_error = None
            except Exception as exc:  # a full disk or a locked folder: try again at the next look, never stop the app
                if str(exc) != self._last_error:  # said once, not at every look
                    log.error("periodic backup failed (tried again every %.0f s): %s", self.tick_s, exc)
                self._last_error = str(exc)
