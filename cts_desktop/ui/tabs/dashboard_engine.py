"""Engine controls: Start / Pause / Resume / Stop / Emergency stop, the state badge, uptime, per-loop cycles and
average durations, success rate and health (DOMAIN Part 2 §6.3–6.4).

Buttons only emit ``command``; the tab runs the coroutine (``tasks.spawn``), so the GUI thread never waits. The
emergency stop asks first, without a nested event loop (``QMessageBox.open`` + ``finished``), whether to also
close every position at market.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.ui.table import Column, DataTable, RowTableModel
from cts_desktop.ui.widgets import set_style_state

SHORTCUTS = {"start": "F5", "pause": "F6", "resume": "F7", "stop": "F8", "emergency": "Ctrl+Shift+F12"}
LABELS = {"start": "Start", "pause": "Pause", "resume": "Resume", "stop": "Stop", "emergency": "Emergency stop"}
LOOPS = ("main", "orders", "sync", "persist")
LOOP_COLUMNS = [Column(0, "Loop"), Column(1, "Cycles", numeric=True), Column(2, "Avg ms", numeric=True),
                Column(3, "Health", numeric=True)]


def duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days} d " if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"


class EnginePanel(QFrame):
    command = Signal(str, bool)  # command, close positions (emergency only)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("panel")
        self.state = "stopped"
        self.status: Any = None
        self.badge = QLabel("STOPPED")
        self.badge.setObjectName("stateBadge")
        self.badge.setProperty("state", "stopped")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.summary = QLabel("")
        self.summary.setObjectName("metricDetail")
        self.summary.setWordWrap(True)
        title = QLabel("Trade engine")
        title.setObjectName("panelTitle")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.badge)
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        row.setSpacing(4)
        for name, label in LABELS.items():
            button = QPushButton(label)
            button.setToolTip(f"{label} ({SHORTCUTS[name]})")
            button.setObjectName("dangerButton" if name == "emergency" else "")
            button.clicked.connect(lambda _=False, n=name: self.trigger(n))
            self.buttons[name] = button
            row.addWidget(button)
        self.actions_: dict[str, QAction] = {}
        self.loops = DataTable(RowTableModel(LOOP_COLUMNS, key=None), "dashboard.loops", sortable=False,
                               resize=QHeaderView.ResizeMode.Stretch)
        self.loops.setAccessibleName("Engine loops")
        self.loops.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.loops.setFixedHeight(22 + 20 * len(LOOPS) + 4)
        self.loops.fill([(name, "—", "—", "—") for name in LOOPS])
        facts = QGridLayout()
        self.facts: dict[str, QLabel] = {}
        for i, (key, label) in enumerate((("uptime", "Uptime"), ("success", "Success rate"),
                                          ("health", "Health"), ("engines", "Engines"))):
            name = QLabel(label)
            name.setObjectName("metricDetail")
            value = QLabel("—")
            value.setObjectName("factValue")
            facts.addWidget(name, 0, i)
            facts.addWidget(value, 1, i)
            self.facts[key] = value
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(head)
        layout.addLayout(row)
        layout.addLayout(facts)
        layout.addWidget(self.loops)
        layout.addWidget(self.summary)
        self.confirm: QMessageBox | None = None
        self.show_status(None)

    # --- commands ------------------------------------------------------------------------------------------------

    def make_actions(self, parent: QWidget) -> list[QAction]:
        """Menu actions with the keyboard shortcuts (owned by the window, so they work from every tab)."""
        for name, label in LABELS.items():
            action = QAction(label + ("…" if name == "emergency" else ""), parent)
            action.setShortcut(QKeySequence(SHORTCUTS[name]))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, n=name: self.trigger(n))
            action.setEnabled(self.buttons[name].isEnabled())
            self.actions_[name] = action
        return list(self.actions_.values())

    def trigger(self, name: str) -> None:
        if not self.buttons[name].isEnabled():
            return
        if name == "emergency":
            self.ask_emergency()
            return
        self.command.emit(name, False)

    def ask_emergency(self) -> None:
        """Emergency stop: stop everything, switch live trading off, cancel orders — and close all positions
        only when the user picks that button."""
        box = QMessageBox(QMessageBox.Icon.Warning, "Emergency stop",
                          "Stop every engine now, switch live trading off on every connection and cancel all open "
                          "orders?\n\nOpen positions keep their exchange-side TP/SL unless you close them too.",
                          QMessageBox.StandardButton.NoButton, self.window())
        self.close_all = box.addButton("Stop and close all positions", QMessageBox.ButtonRole.DestructiveRole)
        self.keep = box.addButton("Stop, keep positions", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _r: self._emergency_answered(box))
        self.confirm = box
        box.open()

    def _emergency_answered(self, box: QMessageBox) -> None:
        clicked = box.clickedButton()
        self.confirm = None
        if clicked is self.close_all:
            self.command.emit("emergency", True)
        elif clicked is self.keep:
            self.command.emit("emergency", False)

    # --- status -----------------------------------------------------------------------------------------------

    def show_status(self, status: Any) -> None:
        """Show an EngineStatus (None = the trading services are not loaded: stopped)."""
        self.status = status
        state = "stopped" if status is None else status.state.value
        self.state = state
        self.badge.setText(state.upper())
        set_style_state(self.badge, "state", state)
        busy = state in ("starting", "stopping")
        self.buttons["start"].setEnabled(state in ("stopped", "error") and not busy)
        self.buttons["pause"].setEnabled(state == "running")
        self.buttons["resume"].setEnabled(state == "paused")
        self.buttons["stop"].setEnabled(state in ("running", "paused", "error", "starting"))
        self.buttons["emergency"].setEnabled(True)
        for name, action in self.actions_.items():
            action.setEnabled(self.buttons[name].isEnabled())
        if status is None:
            for key in self.facts:
                self.facts[key].setText("—")
            self.summary.setText("Engines are not running. Start trades every enabled, active connection.")
            return
        self.facts["uptime"].setText(duration(status.uptime_s) if status.started_at else "—")
        self.facts["success"].setText(f"{status.success_rate:.1f} %")
        self.facts["health"].setText(status.health.label)
        self.facts["engines"].setText(str(len(status.engines)))
        per_loop: dict[str, list[Any]] = {}
        for engine in status.engines:
            for loop in engine.loops:
                per_loop.setdefault(loop.name, []).append(loop)
        rows = []
        for name in LOOPS:
            loops = per_loop.get(name, [])
            cycles = sum(loop.cycles for loop in loops)
            avg = (sum(loop.avg_ms * loop.cycles for loop in loops) / cycles) if cycles else 0.0
            health = max((loop.health for loop in loops), default=None)
            rows.append((name, f"{cycles:,}" if loops else "—", f"{avg:.1f}" if cycles else "—",
                         health.label if health is not None else "—"))
        self.loops.fill(rows)
        errors = [f"{e.connection_name}: {e.last_error}" for e in status.engines if e.last_error]
        mode = " · ".join(f"{e.connection_name} {'paper' if e.paper else 'LIVE'}" for e in status.engines)
        self.summary.setText("; ".join(errors) if errors else mode)
