"""Telling the user the database is damaged: at start (before any window, where restoring the newest backup is
offered at once) and while the app runs (a non-modal dialog and a red mark in the status bar that stays)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMessageBox, QScrollArea

if TYPE_CHECKING:
    from cts_desktop.ui.main_window import MainWindow


class DatabaseAlarm(QObject):
    """Shows the :class:`~cts_desktop.engine.events.DatabaseDamaged` message once it arrives from the bridge."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.box: QMessageBox | None = None
        self.mark = QLabel("")
        self.mark.setStyleSheet("color: #b3261e; font-weight: 600;")
        self.mark.hide()
        window.statusBar().addPermanentWidget(self.mark)
        window.bridge.database_damaged.connect(self.show_damage)

    def show_damage(self, message: str) -> None:
        self.mark.setText("Database damaged: trading stopped, nothing is written")
        self.mark.setToolTip(message)
        self.mark.show()
        if self.box is not None:
            return
        box = QMessageBox(QMessageBox.Icon.Critical, "The database is damaged", message,
                          QMessageBox.StandardButton.Close, self.window)
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        backups = box.addButton("Show backups", QMessageBox.ButtonRole.AcceptRole)
        backups.clicked.connect(self.show_backups)
        self.box = box
        box.open()  # never exec(): the event loop keeps running (engines stopping, the tray)

    def show_backups(self) -> None:
        from cts_desktop.domain.settings import Tab

        window = self.window
        window.show()
        window.tabs.setCurrentWidget(window.settings)
        window.settings.pages.setCurrentIndex(list(Tab).index(Tab.SYSTEM))
        window.settings.build_page(Tab.SYSTEM)
        panel = window.settings.backups
        scroll = window.settings.stacks[Tab.SYSTEM].widget(0)
        if panel is not None and isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(panel)


def offer_restore_at_start(message: str, database: Path | None, backup: Path | None) -> bool:
    """Before any window: show why the app cannot start and, when a backup exists, offer to restore it now.
    True when it was restored (the caller starts the app again). ``exec()`` is safe here: no event loop runs."""
    from cts_desktop.storage.backups import BackupError
    from cts_desktop.storage.restore import restore_backup

    box = QMessageBox(QMessageBox.Icon.Critical, "CTS Desktop cannot start", message)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    restore = box.addButton("Restore the newest backup and start", QMessageBox.ButtonRole.AcceptRole) \
        if database is not None and backup is not None else None
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if restore is None or box.clickedButton() is not restore or database is None or backup is None:
        return False
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    try:
        result = restore_backup(backup, database)
    except BackupError as error:
        QGuiApplication.restoreOverrideCursor()
        QMessageBox.critical(None, "Not restored", str(error))
        return False
    QGuiApplication.restoreOverrideCursor()
    QMessageBox.information(None, "Backup restored", result.describe())
    return True
