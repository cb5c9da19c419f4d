"""Small shared widgets: metric cards, style states, byte sizes."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QVBoxLayout,
    QWidget,
)


def set_style_state(widget: QWidget, name: str, value: str) -> None:
    """Set a property the stylesheet selects on (``#stateBadge[state="running"]``), re-polishing the widget only
    when the value changed: a polish resolves the stylesheet again and re-lays the widget out, and status updates
    arrive five times a second with the same state."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().polish(widget)


class MetricCard(QFrame):
    """A titled number with a detail line (e.g. "Connections" / "2" / "1 enabled")."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("metricCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title)
        self.title.setObjectName("metricTitle")
        self.value = QLabel("—")
        self.value.setObjectName("metricValue")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail = QLabel("")
        self.detail.setObjectName("metricDetail")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail)
        layout.addStretch(1)

    def set(self, value: str, detail: str = "") -> None:
        if self.value.text() != value:
            self.value.setText(value)
        if self.detail.text() != detail:
            self.detail.setText(detail)



def show_result(label: QLabel, ok: bool, message: str) -> None:
    """The outcome of an action in its result label: ✔ green or ✖ red."""
    label.setText(("✔ " if ok else "✖ ") + message)
    label.setStyleSheet("color: #1b7f3a;" if ok else "color: #b3261e;")


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
