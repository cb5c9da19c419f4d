"""Pick any ccxt exchange with swap markets for a new generic connection: a searchable list (name or id), the name
of the connection, and what the exchange needs (passphrase, testnet). Exchanges whose keys the app cannot keep
(wallet private keys, account ids) are listed greyed out with the reason. Opened with ``open()``; the list is
filled by the caller once the Connections part has computed it off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.connections import ExchangeChoice
from cts_desktop.ui.glyphs import drawable


class ExchangePickerDialog(QDialog):
    """``chosen(exchange_id, name)`` when the user adds a supported exchange."""

    chosen = Signal(str, str)

    def __init__(self, taken_names: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a ccxt exchange")
        self.resize(460, 520)
        self.taken = taken_names
        self.choices: dict[str, ExchangeChoice] = {}
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name or id, e.g. okx")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.info = QLabel("Loading the exchanges ccxt knows…")
        self.info.setWordWrap(True)
        self.name = QLineEdit()
        self.name.setMaxLength(120)
        self.error = QLabel("")
        self.error.setStyleSheet("color: #d64541;")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Add")
        self.ok.setEnabled(False)
        form = QFormLayout()
        form.addRow("Connection name", self.name)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Exchanges with perpetual swap markets:"))
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.info)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.search.textChanged.connect(self.filter)
        self.list.currentItemChanged.connect(lambda item, _prev: self._selected(item))
        self.name.textChanged.connect(lambda _t: self._validate())
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

    def set_exchanges(self, choices: list[ExchangeChoice]) -> None:
        self.list.clear()
        self.choices = {c.id: c for c in choices}
        for choice in choices:
            text = f"{drawable(choice.name, self.list.font())}  ({choice.id})"
            if not choice.supported:
                text += f" — {choice.unsupported_reason}"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, choice.id)
            if not choice.supported:
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEnabled & ~Qt.ItemFlag.ItemIsSelectable)
            self.list.addItem(item)
        usable = sum(c.supported for c in choices)
        self.info.setText(f"{len(choices)} exchanges with swap markets, {usable} with API-key login.")
        self.filter(self.search.text())

    def filter(self, text: str) -> None:
        needle = text.strip().lower()
        for row in range(self.list.count()):
            item = self.list.item(row)
            choice = self.choices[str(item.data(Qt.ItemDataRole.UserRole))]
            shown = item.text().lower()  # the name as drawn (USDS-M finds Binance USDⓈ-M)
            item.setHidden(bool(needle) and needle not in choice.id and needle not in choice.name.lower()
                           and needle not in shown)

    def visible_ids(self) -> list[str]:
        return [str(self.list.item(r).data(Qt.ItemDataRole.UserRole)) for r in range(self.list.count())
                if not self.list.item(r).isHidden()]

    def select(self, exchange_id: str) -> None:
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == exchange_id:
                self.list.setCurrentRow(row)

    def current(self) -> ExchangeChoice | None:
        item = self.list.currentItem()
        return self.choices.get(str(item.data(Qt.ItemDataRole.UserRole))) if item is not None else None

    def _selected(self, item: QListWidgetItem | None) -> None:
        choice = self.current() if item is not None else None
        if choice is None:
            return
        needs = ["API key", "secret"] + (["passphrase"] if choice.needs_passphrase else [])
        self.info.setText(f"{drawable(choice.name, self.info.font())}: needs {', '.join(needs)}; testnet "
                          f"{'available' if choice.testnet else 'not available'} in ccxt.")
        if not self.name.isModified():
            self.name.setText(drawable(choice.name, self.name.font()))  # the name every view shows later
        self._validate()

    def _validate(self) -> str | None:
        choice = self.current()
        name = self.name.text().strip()
        problem = None
        if choice is None or not choice.supported:
            problem = "Choose an exchange."
        elif not name:
            problem = "Give the connection a name."
        elif name in self.taken:
            problem = f"A connection named {name!r} already exists."
        self.error.setText(problem if choice is not None else "")
        self.ok.setEnabled(problem is None)
        return problem

    def _accept(self) -> None:
        choice = self.current()
        if self._validate() is not None or choice is None:
            return
        self.chosen.emit(choice.id, self.name.text().strip())
        self.accept()
