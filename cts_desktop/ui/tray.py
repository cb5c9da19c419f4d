"""The system-tray icon: shows the engine state (running / paused / stopped / error), shows/hides the window,
starts/pauses/resumes/stops the engine and quits — asking first when positions are open. Copes with no tray
(offscreen, some Linux desktops): then closing the window quits and notifications are only logged.

Every notification is also logged in the ``toast`` category, so the Monitoring tab shows what the user was told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QMessageBox, QSystemTrayIcon, QWidget

from cts_desktop.ui.icons import state_icon
from cts_desktop.ui.tasks import spawn

log = logging.getLogger("cts.ui.tray")

ENGINE_ACTIONS = (("start", "Start trading"), ("pause", "Pause trading"), ("resume", "Resume trading"),
                  ("stop", "Stop trading"))


class TrayController:
    def __init__(self, window: QWidget, on_quit: Callable[[], None]) -> None:
        self.window = window
        self.on_quit = on_quit
        self.available = QSystemTrayIcon.isSystemTrayAvailable()
        self.icon = QSystemTrayIcon(state_icon("stopped"), window)
        self.menu = QMenu(window)
        self.toggle_action = QAction("Hide window", self.menu)
        self.toggle_action.triggered.connect(self.toggle_window)
        self.quit_action = QAction("Quit CTS Desktop", self.menu)
        self.quit_action.triggered.connect(self.request_quit)
        self.menu.addAction(self.toggle_action)
        self.engine_actions: dict[str, QAction] = {}
        self.command: Callable[[str], None] | None = None
        self.open_positions: Callable[[], Awaitable[int]] | None = None
        self.confirm: QMessageBox | None = None
        self.notifications: list[tuple[str, str, bool]] = []
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

    def attach_engine(self, command: Callable[[str], None], open_positions: Callable[[], Awaitable[int]]) -> None:
        """Add the engine entries: ``command(name)`` runs start/pause/resume/stop; ``open_positions()`` is asked
        before quitting."""
        self.command = command
        self.open_positions = open_positions
        separator = self.menu.insertSeparator(self.quit_action)
        for name, label in ENGINE_ACTIONS:
            action = QAction(label, self.menu)
            action.triggered.connect(lambda _=False, n=name: self._run(n))
            self.menu.insertAction(separator, action)
            self.engine_actions[name] = action
        self.set_state(self.state)

    def _run(self, name: str) -> None:
        if self.command is not None and self.engine_actions[name].isEnabled():
            self.command(name)

    def set_state(self, state: str) -> None:
        """``running`` | ``paused`` | ``stopped`` | ``error`` (starting/stopping show as running/stopped)."""
        shown = {"starting": "running", "stopping": "stopped"}.get(state, state)
        if shown not in ("running", "paused", "stopped", "error"):
            shown = "stopped"
        if shown != self.state or not self.icon.toolTip():
            self.icon.setIcon(state_icon(shown))
        self.state = shown
        self.icon.setToolTip(f"CTS Desktop — engine {state}")
        enabled = {"start": shown in ("stopped", "error"), "pause": shown == "running",
                   "resume": shown == "paused", "stop": shown in ("running", "paused", "error")}
        for name, action in self.engine_actions.items():
            action.setEnabled(enabled[name])

    def toggle_window(self) -> None:
        if self.window.isVisible():
            self.window.hide()
        else:
            self.window.showNormal()
            self.window.raise_()
            self.window.activateWindow()
        self._sync_labels()

    def notify(self, title: str, message: str, critical: bool = False) -> None:
        """A desktop notification (when a tray exists), always logged in the ``toast`` category."""
        self.notifications.append((title, message, critical))
        del self.notifications[:-100]
        if self.available and self.icon.supportsMessages():
            kind = QSystemTrayIcon.MessageIcon.Critical if critical else QSystemTrayIcon.MessageIcon.Information
            self.icon.showMessage(title, message, kind, 8000)
        log.log(logging.ERROR if critical else logging.INFO, "notification: %s — %s", title, message,
                extra={"category": "toast"})

    # --- quitting -----------------------------------------------------------------------------------------------

    def request_quit(self) -> None:
        """Quit, after asking when positions are open (they stay on the exchange with their TP/SL)."""
        if self.open_positions is None:
            self.on_quit()
            return
        spawn(self._quit_checked(), "tray quit")

    async def _quit_checked(self) -> None:
        assert self.open_positions is not None
        try:
            count = await self.open_positions()
        except Exception:
            log.exception("could not count open positions before quitting")
            count = -1
        if count == 0:
            self.on_quit()
            return
        what = "Open positions could not be counted." if count < 0 else f"{count} position(s) are open."
        box = QMessageBox(QMessageBox.Icon.Question, "Quit CTS Desktop",
                          f"{what}\nQuitting stops the engines; open positions stay on the exchange with their "
                          f"exchange-side TP/SL but are no longer managed. Quit anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(lambda result: self._quit_answered(result))
        self.confirm = box
        box.open()

    def _quit_answered(self, result: Any) -> None:
        self.confirm = None
        if result == QMessageBox.StandardButton.Yes or result == int(QMessageBox.StandardButton.Yes.value):
            self.on_quit()

    def _sync_labels(self) -> None:
        self.toggle_action.setText("Hide window" if self.window.isVisible() else "Show window")

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason == QSystemTrayIcon.ActivationReason.Trigger:
            self.toggle_window()

    def hide(self) -> None:
        self.icon.hide()
