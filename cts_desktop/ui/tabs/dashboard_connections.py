"""Active connection cards: status badge, clock-skew badge, loading progress, balance, enable and live-trade
switches, volume factor, open positions and an expandable log.

Switching live trading on asks the user to type the connection's name (DOMAIN Part 1 §12); the dialog's OK stays
disabled until the text matches, and the application layer refuses again if it does not. The dialog is opened with
``open()`` (never ``exec()``), so the event loop keeps running.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.dashboard import ConnectionCard, DashboardPart
from cts_desktop.ui.tabs.dashboard_preset import PresetTradeSwitch
from cts_desktop.ui.widgets import set_style_state

Runner = Callable[[Coroutine[Any, Any, Any], str], None]


class LiveTradeDialog(QDialog):
    """Confirmation by typing the connection's name; ``confirmed(text)`` only when it matches exactly."""

    confirmed = Signal(str)

    def __init__(self, name: str, parent: QWidget | None = None, what: str = "Live trading",
                 ok_text: str = "Trade live", simulated: bool = False) -> None:
        super().__init__(parent)
        self.name = name
        self.setWindowTitle(f"Switch {what.lower()} on")
        where = (f"orders on the offline simulator <b>{name}</b> (no real money)" if simulated else
                 f"real orders with real money on <b>{name}</b>")
        text = QLabel(f"{what} places {where}.<br>Type the connection name to confirm:")
        text.setWordWrap(True)
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(name)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ok_text)
        self.ok.setEnabled(False)
        self.edit.textChanged.connect(lambda t: self.ok.setEnabled(t.strip() == name))
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(self.edit)
        layout.addWidget(self.buttons)

    def _accept(self) -> None:
        if self.edit.text().strip() != self.name:
            return
        self.confirmed.emit(self.edit.text())
        self.accept()


class ConnectionCardWidget(QFrame):
    """One connection. Switch changes go to ``run`` as coroutines; the card shows the stored truth afterwards."""

    def __init__(self, card: ConnectionCard, part: DashboardPart, run: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("connectionCard")
        self.part = part
        self.run = run
        self.card = card
        self.dialog: LiveTradeDialog | None = None
        self.name = QLabel(card.name)
        self.name.setObjectName("panelTitle")
        self.badge = QLabel("")
        self.badge.setObjectName("stateBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.clock = QLabel("")  # shown while this computer's clock is more than 1 s off the exchange's
        self.clock.setObjectName("stateBadge")
        self.clock.setAlignment(Qt.AlignmentFlag.AlignCenter)
        set_style_state(self.clock, "state", "paused")
        self.clock.hide()
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.setFixedHeight(14)
        self.progress.hide()
        self.enable = QCheckBox("Enabled")
        self.live = QCheckBox("Live trade")
        self.preset = PresetTradeSwitch(part, run, lambda name, parent: LiveTradeDialog(
            name, parent, what="Preset trading", ok_text="Trade Preset live"))  # same typed confirmation as live
        self.volume = QDoubleSpinBox()
        self.volume.setRange(0.1, 10.0)
        self.volume.setSingleStep(0.1)
        self.volume.setDecimals(1)
        self.volume.setPrefix("VF ")
        self.volume.setKeyboardTracking(False)
        self.volume.setToolTip("Live volume factor of this connection (0.1–10); it multiplies with Settings › "
                               "Overall › Base volume factor (all connections)")
        self.balance = QLabel("—")
        self.positions = QLabel("0")
        self.pseudo = QLabel("—")
        self.detail = QLabel("")
        self.detail.setObjectName("metricDetail")
        self.detail.setWordWrap(True)
        self.log_button = QToolButton()
        self.log_button.setText("Log ▸")
        self.log_button.setCheckable(True)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setMaximumHeight(110)
        self.log_view.hide()
        head = QHBoxLayout()
        head.addWidget(self.name)
        head.addStretch(1)
        head.addWidget(self.clock)
        head.addWidget(self.badge)
        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        facts = (("Balance USDT", self.balance), ("Open positions", self.positions), ("Pseudo open", self.pseudo))
        for col, (label, widget) in enumerate(facts):
            caption = QLabel(label)
            caption.setObjectName("metricDetail")
            grid.addWidget(caption, 0, col)
            widget.setObjectName("factValue")
            grid.addWidget(widget, 1, col)
        switches = QHBoxLayout()
        for widget in (self.enable, self.live, self.preset, self.volume):
            switches.addWidget(widget)
        switches.addStretch(1)
        switches.addWidget(self.log_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(head)
        layout.addWidget(self.progress)
        layout.addLayout(grid)
        layout.addLayout(switches)
        layout.addWidget(self.detail)
        layout.addWidget(self.log_view)
        self.enable.clicked.connect(self._enable_clicked)
        self.live.clicked.connect(self._live_clicked)
        self.volume.valueChanged.connect(self._volume_changed)
        self.log_button.toggled.connect(self._toggle_log)
        self.show_card(card)

    def show_card(self, card: ConnectionCard) -> None:
        self.card = card
        status = card.status
        self.badge.setText(status)
        set_style_state(self.badge, "state", {"Connected": "running", "Loading": "paused", "Connecting": "paused",
                                              "Error": "error"}.get(status, "stopped"))
        for box, value in ((self.enable, card.enabled), (self.live, card.live_trade)):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)
        self.live.setEnabled(card.enabled)
        self.preset.show_card(card)
        if not self.volume.hasFocus():
            self.volume.blockSignals(True)
            self.volume.setValue(card.volume_factor)
            self.volume.blockSignals(False)
        self.balance.setText("—" if card.balance_usdt is None else f"{card.balance_usdt:,.2f}")
        self.positions.setText(str(card.open_positions))
        engine = card.engine
        self.show_clock(engine)
        self.show_progress(engine.progress if engine is not None else None,
                           engine.progress_text if engine is not None else "")
        self.pseudo.setText("—" if engine is None else f"{engine.pseudo_open:,}")
        decision = None if engine is None else engine.last_decision
        self.setToolTip("" if decision is None else f"Why (no) trade: {decision.reason}")
        # the wrapped detail line changes only with the mode or an error (a new text re-lays the column out)
        parts = [card.exchange + (" · offline simulator" if card.is_replay else "")]
        if engine is not None:
            parts.append(f"{'paper' if engine.paper else 'LIVE'} · {len(engine.symbols)} symbols")
            if engine.last_error:
                parts.append(engine.last_error)
        self.detail.setText(" · ".join(parts))

    def show_clock(self, engine: Any) -> None:
        """The skew badge: "clock 3.0 s ahead" while the engine's exchange clock reports a skew over 1 s."""
        skewed = engine is not None and engine.clock_skewed
        if skewed:
            self.clock.setText(f"clock {engine.clock_text}")
            self.clock.setToolTip(
                f"This computer's clock is {engine.clock_text} of the exchange's (offset {engine.clock_offset_ms:+d} "
                "ms). Signed requests carry the corrected time, so trading goes on; turn on the system's automatic "
                "time synchronisation.")
        self.clock.setVisible(skewed)

    def show_progress(self, fraction: float | None, text: str) -> None:
        if fraction is None or fraction >= 1.0:
            self.progress.hide()
            return
        self.progress.setValue(int(fraction * 100))
        self.progress.setFormat(f"{text} %p%")
        self.progress.show()

    # --- switches -------------------------------------------------------------------------------------------

    def _enable_clicked(self, checked: bool) -> None:
        self.enable.setEnabled(False)
        self.run(self._enable(checked), f"enable {self.card.name}")

    async def _enable(self, checked: bool) -> None:
        try:
            await self.part.switches.set_enabled(self.card.id, checked)
            self.detail.setText(f"{self.card.name} {'enabled' if checked else 'disabled'}.")
        except Exception as error:
            self.enable.setChecked(not checked)
            self.detail.setText(str(error))
        finally:
            self.enable.setEnabled(True)

    def _live_clicked(self, checked: bool) -> None:
        if not checked:
            self.run(self._set_live(False, ""), f"live off {self.card.name}")
            return
        self.live.setChecked(False)  # stays off until the typed confirmation
        self.dialog = LiveTradeDialog(self.card.name, self.window(), simulated=self.card.is_replay)
        self.dialog.confirmed.connect(lambda text: self.run(self._set_live(True, text), f"live on {self.card.name}"))
        self.dialog.open()

    async def _set_live(self, on: bool, typed: str) -> None:
        try:
            await self.part.switches.set_live_trade(self.card.id, on, typed)
            self.live.setChecked(on)
            self.detail.setText(f"Live trading {'ON' if on else 'off'} for {self.card.name}.")
        except Exception as error:
            self.live.setChecked(not on and self.card.live_trade)
            self.detail.setText(str(error))

    def _volume_changed(self, value: float) -> None:
        self.run(self._set_volume(value), f"volume factor {self.card.name}")

    async def _set_volume(self, value: float) -> None:
        try:
            await self.part.switches.set_volume_factor(self.card.id, value)
        except Exception as error:
            self.detail.setText(str(error))

    def _toggle_log(self, shown: bool) -> None:
        self.log_button.setText("Log ▾" if shown else "Log ▸")
        self.log_view.setVisible(shown)
        if shown:
            self.run(self.load_log(), f"log {self.card.name}")

    async def load_log(self) -> None:
        rows = await self.part.connection_log(self.card.id, 50)
        self.log_view.setPlainText("\n".join(
            f"{datetime.fromtimestamp(r.ts_ms / 1000, UTC):%H:%M:%S} {r.level:<7} {r.message}" for r in rows))


class ConnectionsPanel(QScrollArea):
    def __init__(self, part: DashboardPart, run: Runner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.run = run
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.inner = QWidget()
        self.box = QVBoxLayout(self.inner)
        self.box.setContentsMargins(0, 0, 0, 0)
        self.box.setSpacing(6)
        self.empty = QLabel("No connections yet.")
        self.empty.setObjectName("metricDetail")
        self.box.addWidget(self.empty)
        self.box.addStretch(1)
        self.setWidget(self.inner)
        self.cards: dict[str, ConnectionCardWidget] = {}

    def show_cards(self, cards: list[ConnectionCard]) -> None:
        """Active connections first (enabled ones on top); cards are reused so open logs stay open."""
        ordered = sorted((c for c in cards if c.active), key=lambda c: (not c.enabled, c.name))
        wanted = {c.id for c in ordered}
        for cid in [cid for cid in self.cards if cid not in wanted]:
            self.cards.pop(cid).deleteLater()
        for index, card in enumerate(ordered):
            widget = self.cards.get(card.id)
            if widget is None:
                widget = ConnectionCardWidget(card, self.part, self.run)
                self.cards[card.id] = widget
            else:
                widget.show_card(card)
            if self.box.indexOf(widget) != index + 1:
                self.box.insertWidget(index + 1, widget)
        self.empty.setVisible(not ordered)

    def show_engines(self, engines: dict[str, Any]) -> None:
        """Engine snapshots pushed by the bridge (status, progress, balance) between full refreshes."""
        from dataclasses import replace

        for cid, status in engines.items():
            widget = self.cards.get(cid)
            if widget is not None:
                widget.show_card(replace(widget.card, engine=status))
