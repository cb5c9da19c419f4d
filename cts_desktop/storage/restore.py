"""Putting a backup back in place of the SQLite database, and telling the user how when the file is damaged.

:func:`restore_backup` refuses (and changes nothing) when the file is not a valid backup or when another process
has the database open. Otherwise it copies the backup next to the database first, unpacked when it is packed (a
full disk fails here, before anything moved), then renames the current file *and its*
``-wal``/``-shm``/``-journal`` *files* aside as one set — ``cts-replaced-<UTC time>.sqlite3`` and
``…sqlite3-wal`` keep together what SQLite needs to read it — and renames the copy into place. Nothing is ever
deleted. The app opens the restored file at its next start (and migrates it, with a backup first, when it is
from an older version).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cts_desktop.storage.backups import (
    STAMP,
    BackupError,
    BackupFile,
    is_packed,
    newest_backup,
    unpack,
    verify_backup,
)
from cts_desktop.storage.durable import fsync_file, fsync_folder
from cts_desktop.storage.integrity import summary
from cts_desktop.storage.sqlite_locks import in_use_by_another_process, processes_using

COMPANIONS = ("", "-wal", "-shm", "-journal")  # the main file first: its rename is the one that matters


class RestoreRefused(BackupError):
    """The restore did not happen; nothing was changed (the message says why)."""


@dataclass(frozen=True, slots=True)
class RestoreResult:
    backup: Path
    revision: str
    database: Path
    kept_aside: tuple[Path, ...]  # the previous database file and its companions, renamed

    def describe(self) -> str:
        aside = f" The previous file is kept as {self.kept_aside[0]}." if self.kept_aside else ""
        return f"Restored {self.backup} (schema revision {self.revision}) into {self.database}.{aside}"


def check_restorable(backup: Path, database: Path, *, this_process_has_it_open: bool = False) -> str:
    """Refuse a restore that must not happen (bad backup, database open in another process); returns the backup's
    revision. A process that has the database open itself can only ask the OS's table of open files (the lock
    probe would drop its locks): its caller closes the database and lets :func:`restore_backup` ask again."""
    try:
        revision = verify_backup(backup)
    except BackupError as exc:
        raise RestoreRefused(f"not restored: {exc}") from exc
    if backup.resolve() == database.resolve():
        raise RestoreRefused(f"not restored: {backup} is the database itself")
    if this_process_has_it_open:
        users = processes_using(database)
        in_use = bool(users)
    else:
        in_use = in_use_by_another_process(database)
        users = processes_using(database) if in_use else []
    if in_use:
        who = f" ({', '.join(users)})" if users else ""
        raise RestoreRefused(f"not restored: {database} is open in another CTS Desktop process{who}; quit it "
                             "first, then restore again")
    return revision


def restore_backup(backup: Path, database: Path, now: datetime | None = None) -> RestoreResult:
    """Replace ``database`` with a copy of ``backup`` (see the module docstring); :class:`RestoreRefused` if not."""
    revision = check_restorable(backup, database)
    stamp = f"{(now or datetime.now(UTC)).astimezone(UTC):{STAMP}}"
    incoming = database.with_name(f".{database.name}.restoring")
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        if is_packed(backup):
            unpack(backup, incoming)
        else:
            shutil.copyfile(backup, incoming)
            fsync_file(incoming)
    except (OSError, BackupError) as exc:
        incoming.unlink(missing_ok=True)
        raise RestoreRefused(f"not restored: copying {backup} next to the database failed: {exc}") from exc
    moved = _move_aside(database, database.with_name(f"{database.stem}-replaced-{stamp}{database.suffix}"))
    try:
        os.replace(incoming, database)
    except OSError as exc:
        for original, aside in moved:
            with contextlib.suppress(OSError):
                os.replace(aside, original)
        raise RestoreRefused(f"not restored: {exc}") from exc
    fsync_folder(database.parent)
    return RestoreResult(backup, revision, database, tuple(aside for _, aside in moved))


def _companions(database: Path) -> list[Path]:
    return [database.with_name(database.name + suffix) for suffix in COMPANIONS]


def _move_aside(database: Path, aside: Path) -> list[tuple[Path, Path]]:
    """Rename the database and its companion files to ``aside`` (+ the same suffixes); (original, new) pairs."""
    moved: list[tuple[Path, Path]] = []
    for original, target in zip(_companions(database), _companions(aside), strict=True):
        if original.exists():
            os.replace(original, target)
            moved.append((original, target))
    return moved


def restore_command(backup: Path | str, data_dir: Path | None = None) -> str:
    """The command line that restores ``backup`` for an app started with ``--data-dir data_dir``."""
    where = f' --data-dir "{data_dir}"' if data_dir is not None else ""
    return f'cts-desktop --restore-backup "{backup}"{where}'


def damage_message(database: Path, problems: list[str], folder: Path, data_dir: Path | None = None) -> str:
    """One message for the user: what is damaged, that nothing more is written, the newest backup and how to
    put it back."""
    text = (f"The database file {database} is damaged ({summary(problems)}). Trading does not run on it and "
            "nothing more is written to it.")
    newest: BackupFile | None = newest_backup(folder, database.stem)
    if newest is None:
        return (f"{text} There is no backup in {folder}. Keep the damaged file: SQLite's own tool may recover "
                f"most of it (sqlite3 \"{database}\" .recover), or move it out of the data folder to start with an "
                "empty database.")
    return (f"{text} Newest backup: {newest.describe()}. To restore it, run while CTS Desktop is not running:  "
            f"{restore_command(newest.path, data_dir)}  (or use Settings › System › Backups › Restore in the "
            "window). The damaged file is kept aside, never deleted.")
