"""The services of one app process, built in one place (no Qt here): paths, logging, secrets, database, writer,
settings, the event bus and the alert monitor. ``app.py`` builds them for the GUI or headless mode and the UI
reaches them only through the application layer (``application/``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from cts_desktop import __version__
from cts_desktop.engine.heap import steady_malloc
from cts_desktop.events.app import DatabaseHealthChanged, SettingsChanged
from cts_desktop.events.bus import EventBus
from cts_desktop.monitoring.alert_monitor import AlertMonitor
from cts_desktop.monitoring.logging_setup import LoggingHandles, configure_logging, set_level
from cts_desktop.monitoring.notifier import Notifier
from cts_desktop.monitoring.redaction import RedactingFilter, SecretRedactor
from cts_desktop.paths import AppPaths, resolve_paths
from cts_desktop.storage.backups import backup_before_upgrade, backup_folder
from cts_desktop.storage.db import Database, DatabaseError, normalise_url, public_url_safe, sqlite_url
from cts_desktop.storage.retention import RetentionCleaner
from cts_desktop.storage.safety import DatabaseSafety, ensure_undamaged
from cts_desktop.storage.secrets import SecretRef, SecretStore, SecretStoreError
from cts_desktop.storage.settings_store import SettingsStore
from cts_desktop.storage.size_watch import SizeWatch
from cts_desktop.storage.writer import BatchedWriter
from cts_desktop.system.private_files import private_umask, tighten

if TYPE_CHECKING:
    from cts_desktop.trading import Trading

log = logging.getLogger("cts.system")

DATABASE_CHOICE_FILE = "database.json"
DB_PASSWORD_ENV = "CTS_DB_PASSWORD"  # the PostgreSQL password without showing it on the command line
SECRETS_CHOICE_FILE = "secrets.json"


@dataclass(frozen=True, slots=True)
class ControlOptions:
    """The local control API (``application/control_api.py``): off unless the command line turns it on."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port (written to <data>/control.json)
    unix_socket: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None


@dataclass(slots=True)
class AppOptions:
    data_dir: Path | None = None
    db_url: str | None = None
    log_level: str | None = None
    headless: bool = False
    console_log: bool = True
    secrets_file: Path | None = None
    secrets_passphrase: str | None = field(default=None, repr=False)
    replay_speed: float = 1.0
    alert_interval_s: float | None = None  # None: the monitoring.global_health_interval_s setting
    control: ControlOptions = field(default_factory=ControlOptions)
    db_password: str | None = field(default=None, repr=False)  # asked on the terminal (--ask-db-password)


def database_choice(paths: AppPaths, cli_url: str | None) -> str | None:
    """The configured PostgreSQL URL (without password): the command line wins over the saved choice."""
    if cli_url:
        return cli_url
    choice = paths.config / DATABASE_CHOICE_FILE
    if choice.exists():
        url = json.loads(choice.read_text(encoding="utf-8")).get("url")
        return str(url) if url else None
    return None


def save_database_choice(paths: AppPaths, url: str | None) -> None:
    """Remember the database for the next start (the URL never contains the password)."""
    target = paths.config / DATABASE_CHOICE_FILE
    if url is None:
        target.unlink(missing_ok=True)
        return
    parsed = normalise_url(url)
    if parsed.password:
        raise ValueError("the saved database URL must not contain a password (it belongs in the keyring)")
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps({"url": parsed.render_as_string(hide_password=False)}), encoding="utf-8")
    os.replace(tmp, target)


def secrets_file_choice(paths: AppPaths) -> Path | None:
    """The encrypted secrets file the user opted in to earlier (only its path is remembered, never the passphrase)."""
    choice = paths.config / SECRETS_CHOICE_FILE
    if not choice.exists():
        return None
    path = json.loads(choice.read_text(encoding="utf-8")).get("encrypted_file")
    return Path(path) if path else None


def save_secrets_file_choice(paths: AppPaths, path: Path | None) -> None:
    target = paths.config / SECRETS_CHOICE_FILE
    if path is None:
        target.unlink(missing_ok=True)
        return
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps({"encrypted_file": str(path)}), encoding="utf-8")
    os.replace(tmp, target)


def open_database(url: str | None, paths: AppPaths, secrets: SecretStore, given: str | None = None) -> Database:
    """SQLite in the data folder, or PostgreSQL with its password from the keyring.

    A password typed into the URL, or ``given`` (CTS_DB_PASSWORD, or asked on the terminal), is moved to the keyring
    and removed from the URL before anything else sees it.
    """
    if not url:
        return Database(sqlite_url(paths.sqlite_file))
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return Database(parsed)
    password = parsed.password
    bare = parsed.set(password=None)
    ref = SecretRef.database(bare.render_as_string(hide_password=False))
    if password:
        secrets.set(ref, str(password))
    elif given:
        password = given
        with contextlib.suppress(SecretStoreError):  # kept for the next start where a keyring exists
            secrets.set(ref, given)
    else:
        password = secrets.get(ref)
    return Database(bare, password=str(password) if password else None)


class Services:
    """Everything the app runs, in start order; :meth:`close` undoes it in reverse."""

    def __init__(self, options: AppOptions) -> None:
        self.options = options
        steady_malloc()  # large freed blocks go back to the system, not into the heap for good (weeks in the tray)
        private_umask()  # the database, logs, backups and exports are for this user only (POSIX)
        self.paths = resolve_paths(options.data_dir).ensure()
        self.redactor = SecretRedactor()
        self.redaction = RedactingFilter(self.redactor)
        self.logging: LoggingHandles = configure_logging(
            self.paths.log_file, options.log_level or "INFO", console=options.console_log, filters=[self.redaction]
        )
        log.info("CTS Desktop %s starting; data folder %s", __version__, self.paths.data)
        tighten((self.paths.data, self.paths.config, self.paths.logs, self.paths.cache))  # an older install
        self.secrets_file = options.secrets_file or secrets_file_choice(self.paths)
        self._secrets_file_open = False
        if self.secrets_file is None:
            self.secrets = SecretStore(on_secret=self.redactor.add)
        else:
            # the user chose the file: never fall back to another store, where the keys are not
            from keyring.backends import fail

            self.secrets = SecretStore(backend=fail.Keyring(), on_secret=self.redactor.add)  # type: ignore[no-untyped-call]
        if self.secrets_file is not None and options.secrets_passphrase:
            self.secrets.use_encrypted_file(self.secrets_file, options.secrets_passphrase)
            self._secrets_file_open = True
        elif self.secrets_file is not None:
            log.warning("secrets: the encrypted secrets file %s is locked until its passphrase is given",
                        self.secrets_file)
        if not self.secrets.status().usable and self.secrets_file is None:
            log.warning("secrets: %s", self.secrets.status().message)
        if options.db_url and normalise_url(options.db_url).password:
            log.warning("database: the password given in --db-url was readable by every local user in the process's "
                        "command line (/proc/<pid>/cmdline, ps) for as long as it ran. It is moved to the keyring "
                        "now; from now on give the URL without it, or pass it in CTS_DB_PASSWORD (or "
                        "--ask-db-password), which never show it")
        self.db = open_database(database_choice(self.paths, options.db_url), self.paths, self.secrets,
                                options.db_password or os.environ.get(DB_PASSWORD_ENV) or None)
        ensure_undamaged(self.db, backup_folder(self.paths.data), options.data_dir)
        self.revision = self.db.migrate(partial(backup_before_upgrade, folder=backup_folder(self.paths.data)))
        log.info("database %s at revision %s", self.db.display_url, self.revision)
        self.writer = BatchedWriter(self.db, spool_file=self.paths.logs / "pending-db-rows.jsonl")
        self.logging.attach_database(self.writer)  # queued now, written once the writer starts
        self.bus = EventBus()
        self.settings = SettingsStore(self.db, self.bus)
        self.settings.load()
        if not options.db_url:
            self._show_database_in_use()
        if options.log_level is None:
            set_level(str(self.settings.get("system.log_level")))
        self.alert_monitor = AlertMonitor(self.db, self.writer, self.settings.values, self.bus,
                                          interval_s=options.alert_interval_s)
        self.retention = RetentionCleaner(self.db, self.settings.values)
        self.size_watch = SizeWatch(self.db, self.writer, self.settings.values)
        self.notifier = Notifier(self.bus, self.settings.values, self.secrets, self.db, on_secret=self.redactor.add)
        self.safety = DatabaseSafety(self.db, self.paths.data, self.settings.values, self.bus,
                                     data_dir=options.data_dir, halt=self._halt_for_the_database,
                                     close_writers=self._close_writers)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._notifier_start: asyncio.Task[None] | None = None
        self.bus.subscribe(SettingsChanged, self._on_settings_changed)
        self.writer.on_health_change(self._on_writer_health)
        self.started = False
        self._trading: Trading | None = None

    @property
    def trading(self) -> Trading:
        """Connections, Replay and the coordinator, built on first use (they import ccxt, numba, aiohttp)."""
        if self._trading is None:
            from cts_desktop.engine.deps import EngineDeps
            from cts_desktop.trading import Trading

            deps = EngineDeps(self.db, self.writer, self.settings, self.bus)
            self._trading = Trading(deps, self.secrets, replay_speed=self.options.replay_speed)
        return self._trading

    @property
    def trading_loaded(self) -> bool:
        return self._trading is not None

    async def stop_trading(self) -> None:
        if self._trading is not None:
            await self._trading.close()

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the writer and, given the loop (it need not run yet), the alert monitor's rounds, the
        retention cleanup and the periodic backups on it."""
        self._loop = loop
        if loop is not None:
            self.bus.attach(loop)
        self.writer.start()
        if loop is not None:
            self.alert_monitor.start(loop)
            self.retention.start(loop)
            self.size_watch.start(loop)
            self.safety.start(loop)
            self._notifier_start = loop.create_task(self.notifier.start(), name="notifications start")
        self.started = True
        log.info("services started")

    async def stop_monitoring(self) -> None:
        """Stop the alert rounds, the cleanup and the backups and wait for one in progress (shutdown;
        :meth:`close` also stops them)."""
        await self.alert_monitor.aclose()
        await self.retention.aclose()
        await self.size_watch.aclose()
        await self.safety.aclose()
        if self._notifier_start is not None:
            with contextlib.suppress(Exception):
                await self._notifier_start
            self._notifier_start = None
        await self.notifier.aclose()

    def close(self) -> None:
        if self.started:
            log.info("services stopping")
        self.alert_monitor.stop()
        self.retention.stop()
        self.size_watch.stop()
        self.safety.stop()
        if self._notifier_start is not None and not self._notifier_start.done():
            with contextlib.suppress(RuntimeError):
                self._notifier_start.cancel()
        self.notifier.stop()
        self.logging.detach_database()
        if self.started:
            self.writer.stop()
            self.started = False
        self.db.dispose()
        self.logging.close()

    # --- secrets ----------------------------------------------------------------------------------------------

    @property
    def secrets_locked(self) -> bool:
        """An encrypted secrets file is configured but its passphrase has not been given yet."""
        return self.secrets_file is not None and not self._secrets_file_open

    def unlock_secrets(self, passphrase: str) -> None:
        """Open the configured encrypted file (SecretStoreError on a wrong passphrase)."""
        if self.secrets_file is None:
            raise SecretStoreError("no encrypted secrets file is configured")
        self.secrets.use_encrypted_file(self.secrets_file, passphrase, create=False)
        self._secrets_file_open = True
        log.info("secrets: encrypted file %s unlocked", self.secrets_file)

    def enable_encrypted_secrets(self, passphrase: str, path: Path | None = None) -> Path:
        """Explicit opt-in where no OS keyring exists: create (or open) the encrypted file and remember its path."""
        target = path or (self.paths.config / "secrets.enc")
        self.secrets.use_encrypted_file(target, passphrase, create=True)
        save_secrets_file_choice(self.paths, target)
        self.secrets_file = target
        self._secrets_file_open = True
        log.info("secrets: now kept in the encrypted file %s", target)
        return target

    # --- glue -------------------------------------------------------------------------------------------------

    async def _halt_for_the_database(self) -> None:
        await self.stop_monitoring()
        await self.stop_trading()

    async def _close_writers(self) -> None:
        self.logging.detach_database()
        await asyncio.to_thread(self.writer.stop)

    def _on_settings_changed(self, event: SettingsChanged) -> None:
        for key, _old, new in event.changes:
            if key == "system.log_level" and self.options.log_level is None:
                set_level(str(new))
            elif key == DATABASE_URL_SETTING:
                self._follow_database_setting()

    def _show_database_in_use(self) -> None:
        """The Database URL setting names the database this start opened: a database chosen from another one holds
        its own value of the setting (empty in a new one), which would show "embedded" while the app uses it."""
        in_use = database_choice(self.paths, None) or ""
        if str(self.settings.get(DATABASE_URL_SETTING) or "").strip() == in_use:
            return
        try:
            self.settings.set(DATABASE_URL_SETTING, in_use)
        except ValueError as error:  # a URL this version's rule refuses: the setting stays as stored
            log.warning("the Database URL setting could not show the database in use: %s", error)

    def _follow_database_setting(self) -> None:
        """The Database URL setting changed (the database panel, or an imported settings file): the next start
        opens that database — the choice the app reads before it can open any database follows the setting."""
        url = str(self.settings.get(DATABASE_URL_SETTING) or "").strip()
        if url == (database_choice(self.paths, None) or ""):
            return
        try:
            save_database_choice(self.paths, url or None)
        except ValueError as error:
            log.error("the Database URL setting was not applied: %s", error)
            return
        log.warning("the next start opens %s", public_url_safe(url) if url else "the embedded SQLite database")

    def _on_writer_health(self, healthy: bool, message: str | None) -> None:
        self.bus.publish_threadsafe(DatabaseHealthChanged(healthy=healthy, message=message))


DATABASE_URL_SETTING = "system.database_url"


def database_file(paths: AppPaths, db_url: str | None) -> Path | None:
    """The SQLite file the app would open with these options; None for PostgreSQL."""
    url = database_choice(paths, db_url)
    if not url:
        return paths.sqlite_file
    parsed = normalise_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


def restore_from_command_line(backup: Path, data_dir: Path | None, db_url: str | None) -> tuple[int, str]:
    """``cts-desktop --restore-backup FILE``: (exit status, message)."""
    from cts_desktop.storage.backups import BackupError
    from cts_desktop.storage.restore import restore_backup

    paths = resolve_paths(data_dir)
    database = database_file(paths, db_url)
    if database is None:
        return 2, ("cts-desktop: the configured database is a PostgreSQL server: restore a dump with its own tool "
                   "(pg_restore), see Settings › System › Backups")
    try:
        result = restore_backup(backup.expanduser().resolve(), database)
    except BackupError as exc:
        return 2, f"cts-desktop: {exc}"
    return 0, f"{result.describe()} Start CTS Desktop again to use it."


__all__ = ["AppOptions", "ControlOptions", "DatabaseError", "Services", "open_database", "restore_from_command_line",
           "save_database_choice"]
