"""Telling the user the database is damaged: at start (before any window, where restoring the newest backup is
offered at once) and while the app runs (a non-modal dialog and a red mark in the status bar that stays)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, SignalInstance
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QLabel, QMainWindow, QMessageBox

from cts_desktop.application.database import restore_backup_file


class DatabaseAlarm(QObject):
    """Shows the :class:`~cts_desktop.events.app.DatabaseDamaged` message once it arrives from the bridge."""

    def __init__(self, window: QMainWindow, damaged: SignalInstance, show_backups: Callable[[], None]) -> None:
        super().__init__(window)
        self.window = window
        self.show_backups = show_backups
        self.box: QMessageBox | None = None
        self.mark = QLabel("")
        self.mark.setStyleSheet("color: #b3261e; font-weight: 600;")
        self.mark.hide()
        window.statusBar().addPermanentWidget(self.mark)
        damaged.connect(self.show_damage)

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


def offer_restore_at_start(message: str, database: Path | None, backup: Path | None) -> bool:
    """Before any window: show why the app cannot start and, when a backup exists, offer to restore it now.
    True when it was restored (the caller starts the app again). ``exec()`` is safe here: no event loop runs."""
    box = QMessageBox(QMessageBox.Icon.Critical, "CTS Desktop cannot start", message)
    box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    restore = box.addButton("Restore the newest backup and start", QMessageBox.ButtonRole.AcceptRole) \
        if database is not None and backup is not None else None
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if restore is None or box.clickedButton() is not restore or database is None or backup is None:
        return False
    QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
    restored, text = restore_backup_file(backup, database)
    QGuiApplication.restoreOverrideCursor()
    if not restored:
        QMessageBox.critical(None, "Not restored", text)
        return False
    QMessageBox.information(None, "Backup restored", text)
    return True
