"""The system-tray icon: shows the engine state, shows/hides the window, quits. Copes with no tray (offscreen)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from cts_desktop.ui.icons import state_icon

log = logging.getLogger("cts.ui.tray")


class TrayController:
    def __init__(self, window: QWidget, on_quit: Callable[[], None]) -> None:
        self.window = window
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(state_icon("stopped"), window)
        self.menu = QMenu(window)
        self.toggle_action = QAction("Hide window", self.menu)
        self.toggle_action.triggered.connect(self.toggle_window)
        self.quit_action = QAction("Quit CTS Desktop", self.menu)
        self.quit_action.triggered.connect(on_quit)
        self.menu.addAction(self.toggle_action)
        self.menu.addSeparator()
        self.menu.addAction(self.quit_action)
        self.menu.aboutToShow.connect(self._sync_labels)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.state = "stopped"
        self.set_state("stopped")
        if self.available:
            self.icon.show()
        else:
            log.info("no system tray on this desktop: closing the window will quit the app")

    def set_state(self, state: str) -> None:
        self.state = state
        self.icon.setIcon(state_icon(state))
        self.icon.setToolTip(f"CTS Desktop — engine {state}")

    def toggle_window(self) -> None:
        if self.window.isVisible():
            self.window.hide()
        else:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
        self._sync_labels()

    def notify(self, title: str, message: str, critical: bool = False) -> None:
        if self.available and self.icon.supportsMessages():
            kind = QSystemTrayIcon.MessageIcon.Critical if critical else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, message, kind, 8000)
        log.info("notification: %s — %s", title, message, extra={"category": "toast"})

    def _sync_labels(self) -> None:
        self.toggle_action.setText("Hide window" if self.window.isVisible() else "Show window")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def hide(self) -> None:
        self.icon.hide()
