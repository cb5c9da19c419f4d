"""Connections tab: the exchange connections the app knows, with their state and last test."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cts_desktop.facade import AppFacade
from cts_desktop.ui.widgets import ReadOnlyTable


class ConnectionsTab(QWidget):
    HEADERS = ("Name", "Exchange", "Kind", "Enabled", "Active", "Live trade", "Last test")

    def __init__(self, facade: AppFacade, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facade = facade
        self.empty = QLabel("No connections yet.")
        self.table = ReadOnlyTable(self.HEADERS)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.table)

    async def refresh(self) -> None:
        rows = await self.facade.connections()
        self.table.fill(
            [
                (
                    r.name, r.exchange, r.kind, _yes(r.enabled), _yes(r.active), _yes(r.live_trade),
                    "never" if r.last_test_ok is None else ("passed" if r.last_test_ok else "failed"),
                )
                for r in rows
            ]
        )
        self.empty.setVisible(not rows)
        self.table.setVisible(bool(rows))


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
