"""Backups on Settings › System, below the database choice: the verified backups of the SQLite database (newest
first), Back up now, and Restore — of the selected backup or of a chosen file — after a confirmation that says
what happens (trading stops, the current file is kept aside, the app must be started again). For PostgreSQL the
section shows the ``pg_dump``/``pg_restore`` command lines for the configured server (never a password). All work
runs off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.database import BackupsState, DatabasePart
from cts_desktop.ui.table import Column, DataTable, RowTableModel
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.widgets import human_bytes, show_result

COLUMNS = [
    Column(lambda b: f"{b.made_at:%Y-%m-%d %H:%M:%S}", "Made (UTC)"),
    Column(lambda b: b.reason.value, "Kind"),
    Column("revision", "Schema"),
    Column("size_bytes", "Size", fmt=human_bytes, numeric=True),
    Column(lambda b: b.path.name, "File"),
]


class BackupsPanel(QGroupBox):
    def __init__(self, database: DatabasePart, owner: QWidget) -> None:
        super().__init__("Backups")
        self.setObjectName("backupsPanel")
        self.database = database
        self.owner = owner  # the Settings tab: it owns the confirmation dialog
        self.file_dialog: QFileDialog | None = None
        self.restart_box: QMessageBox | None = None
        self.state: BackupsState | None = None
        self.about = _wrapping_label()
        self.commands = _wrapping_label()
        self.commands.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.commands.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.alarm = _wrapping_label()
        self.alarm.setStyleSheet("color: #b3261e; font-weight: 600;")
        self.table = DataTable(RowTableModel(COLUMNS, key="path"), "settings.backups")
        self.table.setAccessibleName("Database backups")
        self.table.setSelectionMode(DataTable.SelectionMode.SingleSelection)
        self.table.setMinimumHeight(120)
        self.table.setMaximumHeight(220)
        self.backup_button = QPushButton("Back up now")
        self.restore_button = QPushButton("Restore selected…")
        self.restore_file_button = QPushButton("Restore from file…")
        self.result = _wrapping_label()
        self.result.setObjectName("backupsResult")

        layout = QVBoxLayout(self)
        for widget in (self.alarm, self.about, self.commands, self.table):
            layout.addWidget(widget)
        buttons = QHBoxLayout()
        for button in (self.backup_button, self.restore_button, self.restore_file_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(self.result)

        self.backup_button.clicked.connect(lambda: spawn(self.backup_now(), "backup now"))
        self.restore_button.clicked.connect(self._restore_selected)
        self.restore_file_button.clicked.connect(self.choose_backup_file)
        self.table.selectionModel().selectionChanged.connect(self._sync_buttons)
        spawn(self.refresh(), "backups list")

    # --- state -------------------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        self.show_state(await self.database.backups_state())

    def show_state(self, state: BackupsState) -> None:
        if state == self.state:
            return  # unchanged: keep the table (and the user's selection) as it is
        self.state = state
        self.alarm.setText(state.damage or "")
        self.alarm.setVisible(bool(state.damage))
        if state.sqlite:
            policy = state.policy
            self.about.setText(
                f"A verified copy of the database is made every {policy.interval_hours:g} h (Backup interval "
                f"above) and before every schema upgrade, into <b>{state.folder}</b>; the newest {policy.keep} of "
                "each kind are kept. Restoring keeps the current file aside, renamed with the time.")
            self.commands.hide()
        else:
            dump, restore = state.postgres_commands or ("", "")
            self.about.setText("The app makes no backups of a PostgreSQL server: back it up with the server's own "
                               "tools (they ask for the password, or read it from ~/.pgpass):")
            self.commands.setText(f"{dump}\n{restore}")
            self.commands.show()
        self.table.setVisible(state.sqlite)
        self.table.fill(state.backups)
        if state.restored:
            self._say(True, state.restored)
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        state = self.state
        usable = state is not None and state.sqlite and state.restored is None
        self.backup_button.setEnabled(usable and state is not None and state.damage is None)
        self.restore_button.setEnabled(usable and bool(self.table.selected_rows()))
        self.restore_file_button.setEnabled(usable)
        for button in (self.backup_button, self.restore_button, self.restore_file_button):
            button.setVisible(state is None or state.sqlite)

    def selected_backup(self) -> str | None:
        rows = self.table.selected_rows()
        return str(rows[0].path) if rows else None

    def _say(self, ok: bool, message: str) -> None:
        show_result(self.result, ok, message)

    def _busy(self, busy: bool) -> None:
        for button in (self.backup_button, self.restore_button, self.restore_file_button):
            button.setEnabled(not busy)
        if not busy:
            self._sync_buttons()

    # --- actions ---------------------------------------------------------------------------------------------

    async def backup_now(self) -> None:
        self._busy(True)
        self.result.setText("Backing up…")
        try:
            ok, message = await self.database.backup_now()
            self._say(ok, message)
            await self.refresh()
        finally:
            self._busy(False)

    def _restore_selected(self) -> None:
        path = self.selected_backup()
        if path is not None:
            spawn(self.restore(path), "restore backup")

    def choose_backup_file(self) -> None:
        dialog = QFileDialog(self, "Backup to restore")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter("Backups and SQLite databases (*.sqlite3.xz *.xz *.sqlite3 *.sqlite *.db);;All files (*)")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)
        if self.state is not None:
            dialog.setDirectory(str(self.state.folder))
        dialog.fileSelected.connect(lambda path: spawn(self.restore(path), "restore backup"))
        self.file_dialog = dialog
        dialog.open()

    async def restore(self, path: str) -> None:
        text = (f"Restore {path}?\n\nTrading stops and the database in use is closed; its file is kept aside, "
                "renamed with the time (never deleted). CTS Desktop must then be started again.")
        confirm = getattr(self.owner, "confirm", None)
        if confirm is not None and not await confirm(text, "Restore backup"):
            self._say(False, "Not restored; the database stays as it is.")
            return
        self._busy(True)
        self.result.setText("Restoring…")
        try:
            ok, message = await self.database.restore_backup(path)
        finally:
            self._busy(False)
        self._say(ok, message)
        if ok:
            await self.refresh()
            self._ask_restart(message)

    def _ask_restart(self, message: str) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "Backup restored",
                          f"{message}\n\nQuit CTS Desktop now, then start it again.",
                          QMessageBox.StandardButton.Close, self)
        quit_button = box.addButton("Quit now", QMessageBox.ButtonRole.AcceptRole)
        quit_button.clicked.connect(self._quit)
        self.restart_box = box
        box.open()

    def _quit(self) -> None:
        request_quit = getattr(self.window(), "request_quit", None)
        if request_quit is not None:
            request_quit()


def _wrapping_label() -> QLabel:
    label = QLabel("")
    label.setWordWrap(True)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    return label

