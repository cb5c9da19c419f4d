"""The Preset-trade switch of a Dashboard connection card: the Preset engine's qualifying sets place real orders on
the connection only while it is on. Switching it on asks for the connection's name, typed exactly, as live trade
does (DOMAIN Part 1 §12); the application layer refuses again if the text does not match."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import QCheckBox, QDialog, QWidget

from cts_desktop.application.dashboard import ConnectionCard, DashboardPart

Runner = Callable[[Coroutine[Any, Any, Any], str], None]


class PresetTradeSwitch(QCheckBox):
    def __init__(self, part: DashboardPart, run: Runner, confirm: Callable[[str, QWidget], QDialog],
                 parent: QWidget | None = None) -> None:
        super().__init__("Preset trade", parent)
        self.part = part
        self.run = run
        self.confirm = confirm  # (name, parent) → the typed-name dialog (a ``confirmed(text)`` signal), not open yet
        self.card: ConnectionCard | None = None
        self.dialog: QWidget | None = None
        self.message = ""  # the last outcome, for the card's detail line and tests
        self.setToolTip("Real orders from the Preset engine's qualifying sets (needs the Preset engine on)")
        self.clicked.connect(self._clicked)

    def show_card(self, card: ConnectionCard) -> None:
        self.card = card
        self.blockSignals(True)
        self.setChecked(card.preset_trade)
        self.blockSignals(False)
        self.setEnabled(card.enabled)

    def _clicked(self, checked: bool) -> None:
        card = self.card
        if card is None:
            return
        if not checked:
            self.run(self._set(False, ""), f"preset trade off {card.name}")
            return
        self.setChecked(False)  # stays off until the typed confirmation
        dialog = self.confirm(card.name, self.window())
        dialog.confirmed.connect(  # type: ignore[attr-defined]
            lambda text: self.run(self._set(True, text), f"preset trade on {card.name}"))
        self.dialog = dialog
        dialog.open()

    async def _set(self, on: bool, typed: str) -> None:
        assert self.card is not None
        try:
            await self.part.switches.set_preset_trade(self.card.id, on, typed)
            self.setChecked(on)
            self.message = f"Preset trading {'ON' if on else 'off'} for {self.card.name}."
        except Exception as error:
            self.setChecked(not on and self.card.preset_trade)
            self.message = str(error)
        parent = self.parentWidget()
        detail = getattr(parent, "detail", None)
        if detail is not None:
            detail.setText(self.message)
