"""The database choice on Settings › System: the embedded SQLite file (or another SQLite path), or PostgreSQL by
URL with its password in the OS keyring — with Test (connect + ``SELECT 1``), Migrate (create/upgrade the schema)
and Save, all off the GUI thread. The choice takes effect after a restart; data is not copied."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QWidget,
)

from cts_desktop.application.database import public_url_safe
from cts_desktop.application.settings import SettingsPart
from cts_desktop.domain.settings import confirmation_for
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.widgets import show_result


class DatabasePanel(QGroupBox):
    def __init__(self, part: SettingsPart, owner: QWidget) -> None:
        super().__init__("Database connection")
        self.part = part
        self.database = part.database
        self.owner = owner  # the Settings tab: it owns the confirmation dialog
        self.file_dialog: QFileDialog | None = None
        self.in_use = QLabel("")
        self.in_use.setWordWrap(True)
        self.in_use.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # long paths wrap/clip
        self.in_use.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.sqlite_radio = QRadioButton("SQLite file")
        self.postgres_radio = QRadioButton("PostgreSQL")
        group = QButtonGroup(self)
        group.addButton(self.sqlite_radio)
        group.addButton(self.postgres_radio)
        self.sqlite_path = QLineEdit()
        self.sqlite_path.setPlaceholderText(part.database.default_sqlite_path())
        self.browse = QPushButton("Browse…")
        self.pg_url = QLineEdit()
        self.pg_url.setPlaceholderText("postgresql://user@host:5432/database")
        self.pg_password = QLineEdit()
        self.pg_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.pg_password.setPlaceholderText("password (stored in the OS keyring; empty = keep the stored one)")
        self.test_button = QPushButton("Test")
        self.migrate_button = QPushButton("Migrate")
        self.save_button = QPushButton("Save for next start")
        self.size = QLabel("")  # the size cap: the size now, or what the last round deleted
        self.size.setObjectName("databaseSize")
        self.size.setWordWrap(True)
        self.size_button = QPushButton("Check size now")
        self.size_button.setToolTip("Measure the database against Overall database size; over it, clean up now")
        self.result = QLabel("")
        self.result.setObjectName("databaseResult")
        self.result.setWordWrap(True)
        self.result.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        grid = QGridLayout(self)
        grid.addWidget(self.in_use, 0, 0, 1, 3)
        grid.addWidget(self.sqlite_radio, 1, 0)
        path_row = QHBoxLayout()
        path_row.addWidget(self.sqlite_path, 1)
        path_row.addWidget(self.browse)
        grid.addLayout(path_row, 1, 1, 1, 2)
        grid.addWidget(self.postgres_radio, 2, 0)
        grid.addWidget(self.pg_url, 2, 1, 1, 2)
        grid.addWidget(QLabel("Password"), 3, 0)
        grid.addWidget(self.pg_password, 3, 1, 1, 2)
        buttons = QHBoxLayout()
        for button in (self.test_button, self.migrate_button, self.save_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        grid.addLayout(buttons, 4, 0, 1, 3)
        grid.addWidget(self.result, 5, 0, 1, 3)
        size_row = QHBoxLayout()
        size_row.addWidget(self.size, 1)
        size_row.addWidget(self.size_button)
        grid.addLayout(size_row, 6, 0, 1, 3)
        grid.setColumnStretch(1, 1)

        self.sqlite_radio.toggled.connect(self._mode_changed)
        self.browse.clicked.connect(self.choose_sqlite_file)
        self.test_button.clicked.connect(lambda: spawn(self.test(), "database test"))
        self.migrate_button.clicked.connect(lambda: spawn(self.migrate(), "database migrate"))
        self.save_button.clicked.connect(lambda: spawn(self.save(), "database save"))
        self.size_button.clicked.connect(lambda: spawn(self.check_size(), "database size cap"))
        self.show_state(initial=True)

    # --- state -------------------------------------------------------------------------------------------------

    def show_state(self, initial: bool = False) -> None:
        dialect, url, saved = self.database.in_use()
        next_start = saved or f"sqlite:///{self.database.default_sqlite_path()} (embedded)"
        self.in_use.setText(f"In use now: <b>{url}</b> ({dialect}). Next start: <b>{_public(next_start)}</b>.")
        last = self.database.last_size_cap()
        self.size.setText(f"Size cap: {last}." if last else "Size cap: checked every 10 minutes.")
        if not initial:
            return
        if saved and not saved.startswith("sqlite"):
            self.postgres_radio.setChecked(True)
            self.pg_url.setText(saved)
        else:
            self.sqlite_radio.setChecked(True)
            if saved:
                self.sqlite_path.setText(saved.removeprefix("sqlite:///"))
        self._mode_changed()

    async def check_size(self) -> None:
        self.size_button.setEnabled(False)
        try:
            self.size.setText(f"Size cap: {await self.database.size_cap()}.")
        except Exception as exc:  # a locked or lost database: said here, the next round tries again
            self.size.setText(f"Size cap check failed: {exc}")
        finally:
            self.size_button.setEnabled(True)

    def _mode_changed(self, _checked: bool = False) -> None:
        sqlite = self.sqlite_radio.isChecked()
        self.sqlite_path.setEnabled(sqlite)
        self.browse.setEnabled(sqlite)
        self.pg_url.setEnabled(not sqlite)
        self.pg_password.setEnabled(not sqlite)

    def chosen_url(self) -> str | None:
        """The URL the form describes; None is the embedded SQLite file in the data folder."""
        if self.sqlite_radio.isChecked():
            path = self.sqlite_path.text().strip()
            if not path or path == self.database.default_sqlite_path():
                return None
            return f"sqlite:///{path}"
        return self.pg_url.text().strip()

    def _target(self) -> str | None:
        url = self.chosen_url()
        if url is None:
            return f"sqlite:///{self.database.default_sqlite_path()}"
        if not url:
            self._say(False, "Enter the PostgreSQL URL first (without the password).")
            return None
        return url

    def _password(self) -> str | None:
        return self.pg_password.text() or None if self.postgres_radio.isChecked() else None

    def _say(self, ok: bool, message: str) -> None:
        show_result(self.result, ok, message)

    def _busy(self, busy: bool) -> None:
        for button in (self.test_button, self.migrate_button, self.save_button):
            button.setEnabled(not busy)

    # --- actions ---------------------------------------------------------------------------------------------

    def choose_sqlite_file(self) -> None:
        dialog = QFileDialog(self, "SQLite database file")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile)
        dialog.setNameFilter("SQLite databases (*.sqlite3 *.sqlite *.db);;All files (*)")
        dialog.setOption(QFileDialog.Option.DontConfirmOverwrite, True)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        dialog.fileSelected.connect(self.sqlite_path.setText)
        self.file_dialog = dialog
        dialog.open()

    async def test(self) -> None:
        url = self._target()
        if url is None:
            return
        self._busy(True)
        self.result.setText("Testing…")
        try:
            ok, message = await self.database.test(url, self._password())
        finally:
            self._busy(False)
        self._say(ok, message)

    async def migrate(self) -> None:
        url = self._target()
        if url is None:
            return
        self._busy(True)
        self.result.setText("Migrating…")
        try:
            ok, message = await self.database.migrate(url, self._password())
        finally:
            self._busy(False)
        self._say(ok, message)

    async def save(self) -> None:
        url = self.chosen_url()
        if url == "":
            self._say(False, "Enter the PostgreSQL URL first (without the password).")
            return
        current = str(self.part.values().get("system.database_url", ""))
        text = confirmation_for("system.database_url", current, url or "")
        confirm = getattr(self.owner, "confirm", None)
        if text and confirm is not None and not await confirm(text, "Change database"):
            self._say(False, "Not saved; the database stays as it is.")
            return
        self._busy(True)
        try:
            message = await self.database.save(url, self._password())
        except Exception as exc:
            self._say(False, f"Not saved: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
            return
        finally:
            self._busy(False)
        self.pg_password.clear()
        self._say(True, message + " Restart CTS Desktop to switch.")
        self.show_state()


def _public(url: str) -> str:
    return public_url_safe(url)
