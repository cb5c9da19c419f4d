"""The database choice of the Settings screen: the database in use, test and migrate a target, save the choice for
the next start (a PostgreSQL password goes to the keyring); backups: list, back up now, restore (``DatabaseSafety``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from cts_desktop.application.common import in_thread, plain_error
from cts_desktop.services import Services, database_choice, save_database_choice
from cts_desktop.storage.db import Database, normalise_url, public_url, public_url_safe
from cts_desktop.storage.safety import BackupsState
from cts_desktop.storage.secrets import SecretRef

__all__ = ["BackupsState", "DatabasePart", "public_url_safe", "restore_backup_file"]


class DatabasePart:
    def __init__(self, services: Services) -> None:
        self.services = services

    def in_use(self) -> tuple[str, str, str | None]:
        """(dialect, password-free URL) of the database this process uses, and the saved choice for the next
        start (None = the embedded SQLite file)."""
        return self.services.db.dialect, self.services.db.display_url, database_choice(self.services.paths, None)

    async def size_cap(self, cap_bytes: int | None = None) -> str:
        """Measure the database against its size cap now and clean up if it is over (System › Database › Overall
        database size; ``cap_bytes`` overrides it); the outcome as one line for the Database page."""
        return (await self.services.size_watch.run_once(cap_bytes)).text()

    def last_size_cap(self) -> str | None:
        """The last size-cap round's outcome (None before the first round)."""
        report = self.services.size_watch.last_report
        return None if report is None else report.text()

    def default_sqlite_path(self) -> str:
        return str(self.services.paths.sqlite_file)

    def _database_target(self, url: str, password: str | None) -> tuple[str, str | None]:
        """The password-free URL and the password to use: typed, part of the URL, or the one in the keyring."""
        parsed = normalise_url(url)
        if parsed.get_backend_name() == "sqlite":
            return parsed.render_as_string(hide_password=False), None
        password = password or (str(parsed.password) if parsed.password else None)
        bare = parsed.set(password=None).render_as_string(hide_password=False)
        if not password:
            password = self.services.secrets.get(SecretRef.database(bare))
        return bare, password

    async def _on_database(self, url: str, password: str | None, action: Callable[[Database], str]) -> tuple[bool, str]:
        """Open the chosen database off the GUI thread, run ``action`` on it and dispose of it; (passed, message)."""
        def work() -> tuple[bool, str]:
            try:
                bare, secret = self._database_target(url, password)
                database = Database(bare, password=secret)
            except Exception as exc:
                return False, plain_error(exc)
            try:
                return True, action(database)
            except Exception as exc:
                return False, plain_error(exc)
            finally:
                database.dispose()

        return await in_thread(work)

    async def test(self, url: str, password: str | None = None) -> tuple[bool, str]:
        """Connect and run ``SELECT 1``; (passed, plain message)."""
        return await self._on_database(
            url, password, lambda db: f"Connected to {db.display_url}: SELECT 1 took {db.ping():.1f} ms.")

    async def migrate(self, url: str, password: str | None = None) -> tuple[bool, str]:
        """Create or upgrade the schema of the chosen database (Alembic)."""
        from cts_desktop.storage.backups import backup_before_upgrade, backup_folder

        # an SQLite file is backed up before it is upgraded
        backup = partial(backup_before_upgrade, folder=backup_folder(self.services.paths.data))
        return await self._on_database(
            url, password, lambda db: f"{db.display_url} is at schema revision {db.migrate(backup)}.")

    async def save(self, url: str | None, password: str | None = None) -> str:
        """Remember the database for the next start: None = the embedded SQLite file, an ``sqlite://`` URL, or a
        PostgreSQL URL whose password goes to the keyring (never to a file). Also stored as the
        ``system.database_url`` setting (password-free). Takes effect after a restart."""
        services = self.services

        def work() -> str:
            if url is None or not url.strip():
                save_database_choice(services.paths, None)
                services.settings.set("system.database_url", "")
                return "The embedded SQLite database will be used after a restart."
            bare, secret = self._database_target(url.strip(), password)
            if not bare.startswith("sqlite") and secret:
                services.secrets.set(SecretRef.database(bare), secret)
            save_database_choice(services.paths, bare)
            services.settings.set("system.database_url", bare)
            return f"Saved: {public_url(bare)} will be used after a restart (data is not copied)."

        return await in_thread(work)

    # --- backups ------------------------------------------------------------------------------------------------

    async def backups_state(self) -> BackupsState:
        """The backups folder, its backups (newest first), the policy, PostgreSQL's commands, damage/restore."""
        state: BackupsState = await in_thread(self.services.safety.state)
        return state

    async def backup_now(self) -> tuple[bool, str]:
        """Make a verified backup now; (made, plain message)."""
        try:
            made = await self.services.safety.backup_now()
        except Exception as exc:
            return False, plain_error(exc)
        return True, f"Backup made and verified: {made.path.name} ({made.size_bytes / 1e6:.1f} MB)."

    async def restore_backup(self, path: str) -> tuple[bool, str]:
        """Put a backup back in place of the SQLite database: refused (nothing changed) for a file that is not a
        valid backup or while another process has the database open; otherwise trading stops, the current file
        is kept aside and the app must be started again. (restored, plain message)"""
        from pathlib import Path

        try:
            result = await self.services.safety.restore(Path(path))
        except Exception as exc:
            return False, plain_error(exc)
        return True, result.describe()


def restore_backup_file(backup: Path, database: Path) -> tuple[bool, str]:
    """Put ``backup`` in place of the SQLite file ``database`` before any service opened it (the window's start
    on a damaged database): (restored, plain message)."""
    from cts_desktop.storage.backups import BackupError
    from cts_desktop.storage.restore import restore_backup

    try:
        return True, restore_backup(backup, database).describe()
    except BackupError as error:
        return False, str(error)
