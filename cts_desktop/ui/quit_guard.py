"""Closing the window where it quits the app (no tray, or close-to-tray off): a running live engine is asked about
first — quitting stops it, and its open positions are then no longer managed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget


class QuitGuard:
    def __init__(self, window: QWidget, live_engines: Callable[[], Awaitable[list[str]]],
                 close: Callable[[], Any]) -> None:
        self.window = window
        self.live_engines = live_engines
        self.close = close
        self.confirmed = False  # the next close goes through
        self.confirm: QMessageBox | None = None

    async def check(self) -> None:
        names = await self.live_engines()
        if not names:
            self._close()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Quit CTS Desktop",
                          f"Live trading runs on {', '.join(names)}.\nQuitting stops the engine: open positions stay "
                          "on the exchange with their exchange-side TP/SL but are no longer managed. Quit anyway?",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self.window)
        box.setDefaultButton(QMessageBox.StandardButton.No)
        box.finished.connect(self._answered)
        self.confirm = box
        box.open()

    def _answered(self, result: int) -> None:
        self.confirm = None
        if result == QMessageBox.StandardButton.Yes or result == int(QMessageBox.StandardButton.Yes.value):
            self._close()

    def _close(self) -> None:
        self.confirmed = True
        self.close()
