"""The Dashboard's "why (no) trade" and protections line: per running connection its newest entry decision with
its reason and age, and each protection (daily-loss kill switch, drawdown guard, stop-loss streak guard) with its
state and threshold — a tripped one in the banner colour. Fed by the engine statuses the bridge batches."""

from __future__ import annotations

import time
from collections.abc import Iterable

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cts_desktop.events.status import TradeEngineStatus


def _age(at: float) -> str:
    seconds = max(0, int(time.time() - at))
    return f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"


def decision_text(status: TradeEngineStatus) -> str:
    decision = status.last_decision
    if decision is None:
        return f"{status.connection_name}: no entry decision yet"
    verb = "entered" if decision.taken else "no trade"
    return f"{status.connection_name}: {verb} {decision.symbol.split('/')[0]} {decision.direction} — " \
           f"{decision.reason} ({_age(decision.at)})"


def protections_text(status: TradeEngineStatus) -> str:
    return f"{status.connection_name}: " + " · ".join(p.text for p in status.protections)


class CockpitBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.statuses: dict[str, TradeEngineStatus] = {}
        self.decisions = QLabel("")
        self.decisions.setObjectName("metricDetail")
        self.decisions.setWordWrap(True)
        self.protections = QLabel("")
        self.protections.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(1)
        layout.addWidget(self.decisions)
        layout.addWidget(self.protections)
        self.hide()

    def show_engines(self, statuses: Iterable[TradeEngineStatus], replace: bool = False) -> None:
        if replace:
            self.statuses = {}
        for status in statuses:
            self.statuses[status.connection_id] = status
        running = [s for s in self.statuses.values() if s.state.value in ("running", "paused")]
        self.setVisible(bool(running))
        self.decisions.setText("Why (no) trade — " + " | ".join(decision_text(s) for s in running))
        self.protections.setText("Protections — " + " | ".join(protections_text(s) for s in running))
        tripped = any(p.tripped for s in running for p in s.protections)
        self.protections.setObjectName("warningBanner" if tripped else "metricDetail")
        self.protections.style().polish(self.protections)

    @property
    def tripped(self) -> list[str]:
        return [f"{s.connection_id}:{p.name}" for s in self.statuses.values() for p in s.protections if p.tripped]
