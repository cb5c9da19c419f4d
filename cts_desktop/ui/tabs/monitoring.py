"""Monitoring tab: recent log records from the database (newest first)."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cts_desktop.facade import AppFacade
from cts_desktop.ui.widgets import ReadOnlyTable


class MonitoringTab(QWidget):
    HEADERS = ("Time (UTC)", "Level", "Category", "Connection", "Message")

    def __init__(self, facade: AppFacade, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facade = facade
        self.summary = QLabel("")
        self.table = ReadOnlyTable(self.HEADERS)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table)

    async def refresh(self) -> None:
        logs = await self.facade.recent_logs(limit=500)
        self.table.fill(
            [
                (
                    datetime.fromtimestamp(r.ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
                    r.level, r.category, r.connection_id or "", r.message,
                )
                for r in logs
            ]
        )
        errors = sum(1 for r in logs if r.level in ("ERROR", "CRITICAL"))
        self.summary.setText(f"{len(logs)} most recent records · {errors} errors among them")
