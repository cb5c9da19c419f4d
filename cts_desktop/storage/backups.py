"""Online backups of the SQLite database: made with SQLite's backup API, verified, named, rotated.

A backup is one self-contained SQLite file (rollback-journal mode, no ``-wal``) packed with xz, in the backups
folder, named ``<db stem>-<UTC time>-r<schema revision>-<reason>.sqlite3.xz``
(``cts-20261207T040000Z-r0003-periodic.sqlite3.xz``), so the newest one and its revision are known from the folder
listing alone; ``xz -d`` (or 7-Zip) gives the plain database file back. Backups made before they were packed (no
``.xz``) and any plain database file the user picks are read as they are. It is written under a hidden ``.partial``
name and gets its real name only after it passed ``PRAGMA integrity_check`` and its Alembic revision was read
back; a folder never holds a half-written or unchecked backup under a backup's name. Rotation keeps the newest
backups of each reason and never touches another file.

The copy reads through a read-only connection in one backup step: one consistent snapshot, taken while the app
keeps writing (in WAL mode readers never block the writer), and the source file is never written. The copy is
checked, then drops what every start rebuilds by itself (:data:`REBUILT`: book snapshots, the candle cache) and is
compacted, so a backup holds only what cannot be had again, and is packed (a twentieth of the plain file: the
sets' rows repeat each other). These are blocking calls: the app runs them in a worker thread.
"""

from __future__ import annotations

import contextlib
import lzma
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy.engine import URL

from cts_desktop.storage.db import DatabaseError
from cts_desktop.storage.durable import fsync_file, fsync_folder
from cts_desktop.storage.integrity import check_file, read_only_connection, summary

FOLDER_NAME = "backups"
SUFFIX = ".sqlite3"
PACKED = ".xz"  # after SUFFIX: the file is packed with xz
PACK_PRESET = 1  # xz preset: 6 packs ~15 % tighter in ten times the time
_XZ_MAGIC = b"\xfd7zXZ\x00"
STAMP = "%Y%m%dT%H%M%SZ"
_NAME = re.compile(r"^(?P<stem>.+)-(?P<stamp>\d{8}T\d{6}Z)-r(?P<revision>[0-9A-Za-z_]+)-(?P<reason>[a-z-]+)"
                   r"\.sqlite3(\.xz)?$")


# Left out of every backup: each start rebuilds them. A book snapshot only spares the warm-up its replay (without
# one the engine replays the prehistory from scratch); candles are the cache of what the exchange serves again.
# Every other table is kept whole: sets (their ids are what results and positions point at), results, trading.
REBUILT = ("book_snapshots", "candles")


class BackupError(DatabaseError):
    """A backup could not be made, or a file is not a usable backup (the message says which and why)."""


class BackupReason(StrEnum):
    PERIODIC = "periodic"
    PRE_MIGRATION = "pre-migration"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class BackupFile:
    path: Path
    stem: str  # the database file's stem ("cts")
    made_at: datetime
    revision: str
    reason: BackupReason

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0

    def describe(self) -> str:
        return f"{self.path} (made {self.made_at:%Y-%m-%d %H:%M:%S} UTC, schema revision {self.revision})"


def backup_folder(data_folder: Path) -> Path:
    return data_folder / FOLDER_NAME


def backup_name(stem: str, made_at: datetime, revision: str, reason: BackupReason) -> str:
    return f"{stem}-{made_at.astimezone(UTC):{STAMP}}-r{revision}-{reason.value}{SUFFIX}{PACKED}"


def parse_backup(path: Path) -> BackupFile | None:
    """The backup a file name describes, or None for any other file."""
    match = _NAME.match(path.name)
    if match is None:
        return None
    try:
        reason = BackupReason(match["reason"])
        made_at = datetime.strptime(match["stamp"], STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
    return BackupFile(path, match["stem"], made_at, match["revision"], reason)


def list_backups(folder: Path, stem: str | None = None) -> list[BackupFile]:
    """The backups in ``folder`` (of the database named ``stem``, when given), newest first."""
    if not folder.is_dir():
        return []
    found = [b for b in map(parse_backup, folder.iterdir()) if b is not None and b.path.is_file()]
    return sorted((b for b in found if stem is None or b.stem == stem), key=lambda b: b.made_at, reverse=True)


def newest_backup(folder: Path, stem: str) -> BackupFile | None:
    backups = list_backups(folder, stem)
    return backups[0] if backups else None


def is_packed(path: Path) -> bool:
    """Whether the file is xz-packed (by its first bytes, not its name)."""
    with open(path, "rb") as handle:
        return handle.read(len(_XZ_MAGIC)) == _XZ_MAGIC


def unpack(packed: Path, target: Path) -> None:
    """Write the plain file of the xz-packed ``packed`` to ``target``; :class:`BackupError` when the packing is
    damaged (a cut or overwritten file)."""
    try:
        with lzma.open(packed, "rb") as source, open(target, "wb") as plain:
            shutil.copyfileobj(source, plain, 1 << 20)
    except (lzma.LZMAError, EOFError) as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"{packed} is not a valid backup: its xz packing is damaged ({exc})") from exc
    fsync_file(target)


@contextlib.contextmanager
def plain_file(path: Path) -> Iterator[Path]:
    """The SQLite file of a backup: the file itself when plain, else a temporary unpacked copy (deleted after)."""
    if not is_packed(path):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="cts-backup-") as folder:
        plain = Path(folder) / path.name.removesuffix(PACKED)
        unpack(path, plain)
        yield plain


def verify_backup(path: Path) -> str:
    """Check that ``path`` is a whole, undamaged CTS Desktop database this version can open (packed or plain);
    returns its schema revision. :class:`BackupError` says in plain words what is wrong with it."""
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with plain_file(path) as plain:
        return _verify_plain(plain, path)


def _verify_plain(plain: Path, path: Path) -> str:
    from cts_desktop.storage.migrate import is_known_revision

    problems = check_file(plain, full=True)
    if problems:
        raise BackupError(f"{path} is not a valid backup: {summary(problems)}")
    try:
        conn = read_only_connection(plain)
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{path} is not a CTS Desktop database (no schema revision: {exc})") from exc
    if row is None or not row[0]:
        raise BackupError(f"{path} is not a CTS Desktop database (its schema revision is empty)")
    revision = str(row[0])
    if not is_known_revision(revision):
        raise BackupError(f"{path} has schema revision {revision}, which this version of CTS Desktop does not "
                          "know (it was made by a newer version)")
    return revision


def make_backup(database: Path, folder: Path, reason: BackupReason, now: datetime | None = None) -> BackupFile:
    """Copy the SQLite file ``database`` into ``folder`` as a verified backup (see the module docstring)."""
    made_at = (now or datetime.now(UTC)).replace(microsecond=0)
    if not database.is_file():
        raise BackupError(f"there is no database file {database} to back up")
    partial = folder / f".{database.stem}-{made_at:{STAMP}}.partial"
    packed = partial.with_name(partial.name + PACKED)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _copy(database, partial)
        revision = verify_backup(partial)  # before anything is left out: a damaged source shows here
        _leave_out_rebuilt(partial)
        _pack(partial, packed)
        target = folder / backup_name(database.stem, made_at, revision, reason)
        os.replace(packed, target)
        partial.unlink()
        fsync_folder(folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
            packed.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BackupError(f"the backup of {database} into {folder} failed: {exc}") from exc
        raise
    return BackupFile(target, database.stem, made_at, revision, reason)


def backup_before_upgrade(database: Path, folder: Path) -> BackupFile:
    """The backup made before a schema upgrade; without it the upgrade does not happen."""
    try:
        return make_backup(database, folder, BackupReason.PRE_MIGRATION)
    except BackupError as exc:
        raise DatabaseError(f"the schema of {database} was not upgraded: the backup before the upgrade failed "
                            f"({exc}); the database is unchanged") from exc


def _copy(database: Path, target: Path) -> None:
    target.unlink(missing_ok=True)
    try:
        source = read_only_connection(database)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot read {database} to back it up: {exc}") from exc
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # one step: a consistent snapshot; the GIL is released while pages are copied
        copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, no -wal beside it
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {database} failed: {exc}") from exc
    finally:
        copy.close()
        source.close()
    fsync_file(target)


def _pack(plain: Path, packed: Path) -> None:
    with open(plain, "rb") as source, lzma.open(packed, "wb", preset=PACK_PRESET) as target:
        shutil.copyfileobj(source, target, 1 << 20)
    fsync_file(packed)


def _leave_out_rebuilt(path: Path) -> None:
    """Empty the tables of :data:`REBUILT` in the checked copy and compact it (``VACUUM``): what the next start
    rebuilds by itself is no backup's business, and it was over half of one (issue 18)."""
    copy = sqlite3.connect(path, isolation_level=None)
    try:
        present = {row[0] for row in copy.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in REBUILT:
            if table in present:
                copy.execute(f"DELETE FROM {table}")  # a name of REBUILT, not input
        copy.execute("VACUUM")
    except sqlite3.Error as exc:
        raise BackupError(f"the backup {path} could not be compacted: {exc}") from exc
    finally:
        copy.close()
    fsync_file(path)


def rotate(folder: Path, stem: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups of each reason of the database ``stem``; returns the deleted."""
    removed: list[Path] = []
    for reason in BackupReason:
        backups = [b for b in list_backups(folder, stem) if b.reason is reason]
        for old in backups[max(keep, 1):]:
            with contextlib.suppress(FileNotFoundError):
                old.path.unlink()
                removed.append(old.path)
    return removed


def postgres_commands(url: URL, schema: str | None = None) -> tuple[str, str]:
    """The ``pg_dump`` and ``pg_restore`` command lines for this PostgreSQL database (never with a password:
    the tools ask for it, or read ~/.pgpass / PGPASSFILE)."""
    where = [f"--host={url.host or 'localhost'}", f"--port={url.port or 5432}"]
    if url.username:
        where.append(f"--username={url.username}")
    where.append(f"--dbname={url.database or ''}")
    only = [f"--schema={schema}"] if schema else []
    target = f"{url.database or 'cts'}-YYYYMMDD.dump"
    dump = " ".join(["pg_dump", *where, *only, "--format=custom", f"--file={target}"])
    restore = " ".join(["pg_restore", *where, *only, "--clean", "--if-exists", target])
    return dump, restore
