"""Monitoring › Decisions: why the engines trade or not — each running connection's recent entry decisions
(taken, or refused with the rule and the figures that refused it), newest first, filterable by kind."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from cts_desktop.application.decisions import DecisionsPart, EntryDecision
from cts_desktop.events.status import DECISION_KINDS
from cts_desktop.ui.table import Column, DataTable, RowTableModel

KINDS = ("(any)", *DECISION_KINDS)
KIND_COLOURS = {"taken": "#2e9d57", "kill_switch": "#c0392b", "drawdown": "#c0392b", "sl_streak": "#b7791f"}

DECISION_COLUMNS = [
    Column("at", "Time (UTC)", lambda v: datetime.fromtimestamp(v, UTC).strftime("%H:%M:%S")),
    Column("connection_id", "Connection"), Column("symbol", "Symbol"), Column("direction", "Dir"),
    Column("kind", "Kind", background=lambda v: KIND_COLOURS.get(v)), Column("reason", "Reason"),
]


class DecisionsPage(QWidget):
    def __init__(self, part: DecisionsPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.model = RowTableModel(DECISION_COLUMNS, key=None, cap=2000)
        self.table = DataTable(self.model, "monitoring.decisions")
        self.table.setAccessibleName("Engine decisions")
        self.kind = QComboBox()
        self.kind.addItems(list(KINDS))
        self.kind.currentIndexChanged.connect(lambda _i: self.refresh_now())
        self.latest = QLabel("")
        self.latest.setWordWrap(True)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Why the engines trade or not — newest first. Kind"))
        bar.addWidget(self.kind)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.latest)
        layout.addWidget(self.table, 1)
        self.rows: list[EntryDecision] = []

    def refresh_now(self) -> None:
        kind = self.kind.currentText()
        self.rows = self.part.recent(kind="" if kind == KINDS[0] else kind)
        self.table.fill(self.rows)
        last = self.part.last()
        self.latest.setText("\n".join(f"{cid}: {d.reason}" for cid, d in sorted(last.items()))
                            or "No entry decision yet: the engines decide when an indication fires.")

    async def refresh(self) -> None:
        self.refresh_now()
