"""Health and Alerts pages of the Monitoring tab: the state of every service with the auto-restart history, and
the stored alerts with acknowledge (the services' alert monitor evaluates the rules of monitoring/alerts.py in the
background, window shown or not; this page only reads)."""

from __future__ import annotations

from datetime import UTC

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.monitoring import MonitoringPart, time_text
from cts_desktop.ui.widgets import ReadOnlyTable

STATUS_COLOURS = {"ok": "#1b7f3a", "degraded": "#9a6700", "down": "#b3261e", "stopped": "#6b7280"}
SEVERITY_COLOURS = {"critical": "#b3261e", "warning": "#9a6700", "info": "#1f5fbf"}


def _colour_column(table: ReadOnlyTable, column: int, colours: dict[str, str]) -> None:
    for row in range(table.rowCount()):
        item = table.item(row, column)
        if item is not None and item.text() in colours:
            item.setForeground(QBrush(QColor(colours[item.text()])))


class HealthPage(QWidget):
    def __init__(self, part: MonitoringPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.table = ReadOnlyTable(("Kind", "Service", "Status", "Detail"))
        self.restarts = ReadOnlyTable(("Time (UTC)", "Connection", "Attempt", "Reason", "Outcome", "Message"))
        self.restarts_empty = QLabel("No automatic engine restarts recorded.")
        lower = QWidget()
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Auto-restart history</b> (engine records of the auto-restart supervisor)")
        for label in (title, self.restarts_empty):
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
            lower_layout.addWidget(label)
        lower_layout.addWidget(self.restarts, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    async def refresh(self) -> None:
        rows = await self.part.health()
        self.table.fill([(r.kind, r.name, r.status.value, r.detail) for r in rows])
        _colour_column(self.table, 2, STATUS_COLOURS)
        history = await self.part.restart_history()
        self.restarts.fill(
            [
                (
                    time_text(e.ts_ms)[:19].replace("T", " "), e.connection_id or "",
                    f"{e.attempt}/{e.max_attempts}" if e.attempt else "", e.reason, e.outcome, e.message,
                )
                for e in history
            ]
        )
        self.restarts_empty.setVisible(not history)


class AlertsPage(QWidget):
    def __init__(self, part: MonitoringPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.table = ReadOnlyTable(("Raised (UTC)", "Severity", "Rule", "Connection", "Acknowledged (UTC)", "Message"))
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.show_acknowledged = QCheckBox("Show acknowledged")
        self.acknowledge = QPushButton("Acknowledge selected")
        self.acknowledge_all = QPushButton("Acknowledge all")
        self.summary = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(self.summary, 1)
        bar.addWidget(self.show_acknowledged)
        bar.addWidget(self.acknowledge)
        bar.addWidget(self.acknowledge_all)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.table)
        from cts_desktop.ui.tasks import spawn

        self.show_acknowledged.toggled.connect(lambda _on: spawn(self.refresh(), "alerts"))
        self.acknowledge.clicked.connect(lambda: spawn(self.acknowledge_selected(), "acknowledge alerts"))
        self.acknowledge_all.clicked.connect(lambda: spawn(self.acknowledge_every(), "acknowledge alerts"))
        self.open_count = 0

    async def refresh(self) -> None:
        rows = await self.part.alerts(self.show_acknowledged.isChecked())
        self.table.fill(
            [
                (
                    a.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), a.severity, a.source,
                    a.connection_id or "",
                    a.acknowledged_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if a.acknowledged_at else "",
                    a.message,
                )
                for a in rows
            ]
        )
        for row, alert in enumerate(rows):  # the id travels with the row, whatever the sort order
            item = self.table.item(row, 0)
            if item is not None:
                item.setData(Qt.ItemDataRole.UserRole, alert.id)
        _colour_column(self.table, 1, SEVERITY_COLOURS)
        self.open_count = sum(1 for a in rows if a.acknowledged_at is None)
        self.summary.setText(
            f"{self.open_count} open alert{'s' if self.open_count != 1 else ''}" if self.open_count
            else "No open alerts."
        )

    def selected_ids(self) -> list[int]:
        ids = []
        for index in self.table.selectionModel().selectedRows():
            item = self.table.item(index.row(), 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) is not None:
                ids.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return ids

    async def acknowledge_selected(self) -> int:
        count = await self.part.acknowledge_alerts(self.selected_ids())
        await self.refresh()
        return count

    async def acknowledge_every(self) -> int:
        ids = [
            int(item.data(Qt.ItemDataRole.UserRole))
            for row in range(self.table.rowCount())
            if (item := self.table.item(row, 0)) is not None and item.data(Qt.ItemDataRole.UserRole) is not None
        ]
        count = await self.part.acknowledge_alerts(ids)
        await self.refresh()
        return count
