"""Health and Alerts pages of the Monitoring tab: the state of every service with the auto-restart history, and
the stored alerts with acknowledge (the services' alert monitor evaluates the rules of monitoring/alerts.py in the
background, window shown or not; this page only reads)."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt
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
from cts_desktop.ui.table import Column, DataTable, RowTableModel, text_table

STATUS_COLOURS = {"ok": "#1b7f3a", "degraded": "#9a6700", "down": "#b3261e", "stopped": "#6b7280"}
SEVERITY_COLOURS = {"critical": "#b3261e", "warning": "#9a6700", "info": "#1f5fbf"}


HEALTH_COLUMNS = [Column(0, "Kind"), Column(1, "Service"), Column(2, "Status", colour=STATUS_COLOURS.get),
                  Column(3, "Detail")]


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


ALERT_COLUMNS = [
    Column(lambda a: _utc(a.created_at), "Raised (UTC)"), Column("severity", "Severity", colour=SEVERITY_COLOURS.get),
    Column("source", "Rule"), Column(lambda a: a.connection_id or "", "Connection"),
    Column(lambda a: _utc(a.acknowledged_at), "Acknowledged (UTC)"), Column("message", "Message"),
]


class HealthPage(QWidget):
    def __init__(self, part: MonitoringPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.table = DataTable(RowTableModel(HEALTH_COLUMNS, key=None), "monitoring.health")
        self.restarts = text_table("monitoring.restarts", "Time (UTC)", "Connection", "Attempt", "Reason", "Outcome",
                                   "Message")
        self.restarts_empty = QLabel("No automatic engine restarts recorded.")
        self.table.setAccessibleName("Health of each part")
        self.restarts.setAccessibleName("Auto-restart history")
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
        self.model = RowTableModel(ALERT_COLUMNS)
        self.table = DataTable(self.model, "monitoring.alerts")
        self.table.setAccessibleName("Alerts")
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
        self.table.fill(rows)
        self.open_count = sum(1 for a in rows if a.acknowledged_at is None)
        self.summary.setText(
            f"{self.open_count} open alert{'s' if self.open_count != 1 else ''}" if self.open_count
            else "No open alerts."
        )

    def selected_ids(self) -> list[int]:
        return [alert.id for alert in self.table.selected_rows()]

    async def acknowledge_selected(self) -> int:
        count = await self.part.acknowledge_alerts(self.selected_ids())
        await self.refresh()
        return count

    async def acknowledge_every(self) -> int:
        ids = [alert.id for alert in self.model.rows]
        count = await self.part.acknowledge_alerts(ids)
        await self.refresh()
        return count
