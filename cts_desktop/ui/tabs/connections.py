"""Connections tab: every exchange connection with its status badge; add, edit, keys, test, switches, delete.

Left, the list (name, exchange, kind, status badge, active, open live positions, last test). Right, the selected
connection: its switches (enabled — only after a passed test, the service's rule; active; live trade — only after
typing the connection's name; delete — asks, and is refused while live positions are open), its keys (to the
keyring, masked afterwards), the connection test with its live log, and every option.

Everything goes through the application's Connections part; slow work (ccxt import, keyring, DB, the test) runs
off the GUI thread there. Dialogs are opened with ``open()`` and answer through signals — never ``exec()``.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.connections import ConnectionDetail, ConnectionEdit, ConnectionItem, ConnectionsPart
from cts_desktop.ui.connection_add_dialog import ExchangePickerDialog
from cts_desktop.ui.table import Column, DataTable, RowTableModel
from cts_desktop.ui.tabs.connections_form import KeysBox, OptionsBox
from cts_desktop.ui.tabs.connections_test import FAIL_STYLE, OK_STYLE, ConnectionTestPanel
from cts_desktop.ui.tabs.dashboard_connections import LiveTradeDialog
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.widgets import set_style_state

BADGE_COLOURS = {"running": "#2e9d57", "paused": "#c98f0a", "starting": "#3d7bd9", "error": "#d64541",
                 "stopped": "#7a8391"}
PREDEFINED_MENU = (("bybit", "Bybit X03 — Bybit V5 unified account (predefined)"),
                   ("bingx", "BingX X01 — BingX USDT perpetual swap (predefined)"))


LIST_COLUMNS = [
    Column(lambda i: i.config.name, "Name"),
    Column(lambda i: i.config.exchange_id + (" · testnet" if i.config.is_testnet else ""), "Exchange"),
    Column("kind", "Kind"),
    Column(lambda i: i.badge(), "Status", fmt=lambda badge: badge[0], background=lambda badge: BADGE_COLOURS[badge[1]],
           sort_key=lambda badge: badge[0]),
    Column(lambda i: "yes" if i.config.is_active else "no", "Active"),
    Column(lambda i: str(i.live_positions), "Live pos."),
    Column(lambda i: i.last_test_text(), "Last test"),
]


class ConnectionsTab(QWidget):

    def __init__(self, part: ConnectionsPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.items: dict[str, ConnectionItem] = {}
        self.detail: ConnectionDetail | None = None
        self.selected_id: str | None = None
        self.picker: ExchangePickerDialog | None = None
        self.live_dialog: LiveTradeDialog | None = None
        self.confirm: QMessageBox | None = None
        self.delete_confirm: Any = None  # the confirmation's "Delete" button
        self._list_generation = 0
        self._detail_generation = 0

        # list side
        self.add_button = QToolButton()
        self.add_button.setText("Add connection ▾")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        self.add_actions = {}
        for exchange_id, label in PREDEFINED_MENU:
            action = menu.addAction(label)
            action.triggered.connect(lambda _c=False, e=exchange_id: spawn(self.add("predefined", e), "add"))
            self.add_actions[exchange_id] = action
        self.add_actions["generic"] = menu.addAction("Any ccxt exchange with swap markets…")
        self.add_actions["generic"].triggered.connect(self.open_picker)
        self.add_actions["replay"] = menu.addAction("Replay — offline simulator, no money")
        self.add_actions["replay"].triggered.connect(lambda: spawn(self.add("replay"), "add replay"))
        self.add_button.setMenu(menu)
        self.empty = QLabel("No connections yet. Add Bybit X03, BingX X01, any ccxt exchange or the offline Replay.")
        self.empty.setWordWrap(True)
        self.list_model = RowTableModel(LIST_COLUMNS)
        self.table = DataTable(self.list_model, "connections.list", sortable=False,
                               resize=QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("Connections")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.add_button)
        bar.addStretch(1)
        left_box.addLayout(bar)
        left_box.addWidget(self.empty)
        left_box.addWidget(self.table, 1)

        # detail side
        self.title = QLabel("Select a connection")
        self.title.setObjectName("panelTitle")
        self.badge = QLabel("")
        self.badge.setObjectName("stateBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.subtitle = QLabel("")
        self.subtitle.setObjectName("metricDetail")
        self.subtitle.setWordWrap(True)
        self.enabled = QCheckBox("Enabled")
        self.enabled.setToolTip("Usable by the engine; needs a passed connection test")
        self.active = QCheckBox("Active")
        self.active.setToolTip("Active connections get an engine while trading runs and a dashboard card")
        self.live = QCheckBox("Live trade")
        self.live.setToolTip("Real orders with real money; asks you to type the connection name")
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setObjectName("dangerButton")
        self.notice = QLabel("")
        self.notice.setWordWrap(True)
        self.notice.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.keys = KeysBox()
        self.test = ConnectionTestPanel(part.switches)
        self.options = OptionsBox()
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.badge)
        head.addStretch(1)
        switches = QHBoxLayout()
        for widget in (self.enabled, self.active, self.live):
            switches.addWidget(widget)
        switches.addStretch(1)
        switches.addWidget(self.delete_button)
        self.detail_body = QWidget()
        body = QVBoxLayout(self.detail_body)
        body.setContentsMargins(0, 0, 0, 0)
        body.addLayout(switches)
        body.addWidget(self.notice)
        body.addWidget(self.test)
        body.addWidget(self.keys)
        body.addWidget(self.options)
        body.addStretch(1)
        inner = QWidget()
        column = QVBoxLayout(inner)
        column.addLayout(head)
        column.addWidget(self.subtitle)
        column.addWidget(self.detail_body, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(0, 4)
        self.splitter.setStretchFactor(1, 5)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([560, 800])
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter)
        self.detail_body.setEnabled(False)
        self.delete_button.setEnabled(False)  # nothing selected yet
        self.badge.hide()

        self.enabled.clicked.connect(lambda on: spawn(self.set_enabled(on), "enable connection"))
        self.active.clicked.connect(lambda on: spawn(self.set_active(on), "activate connection"))
        self.live.clicked.connect(self._live_clicked)
        self.delete_button.clicked.connect(lambda: spawn(self.ask_delete(), "delete connection"))
        self.keys.save_requested.connect(lambda k, s, p: spawn(self.save_keys(k, s, p), "save keys"))
        self.options.save_requested.connect(lambda edit: spawn(self.save_options(edit), "save options"))
        self.options.revert.clicked.connect(self._revert)
        # a refused test (no keys) stored nothing: a reload would only overwrite its message with the stored one
        self.test.on_finished = lambda result: spawn(self.reload(), "after test") if result is not None else None
        self.test.button.clicked.connect(lambda: self.say(""))

    # --- list -----------------------------------------------------------------------------------------------

    async def _fetch_items(self) -> list[ConnectionItem] | None:
        """The list from the Connections part, or None when a newer fetch started meanwhile (its answer wins)."""
        self._list_generation += 1
        generation = self._list_generation
        items: list[ConnectionItem] = await self.part.items()
        return items if generation == self._list_generation else None

    async def refresh(self) -> None:
        items = await self._fetch_items()
        if items is None:
            return
        self.show_items(items)
        wanted = self.selected_id if self.selected_id in self.items else None  # the user picks; none highlighted
        if wanted != (self.detail.config.id if self.detail else None):
            self.select(wanted)
            await self.load_detail(wanted)

    def show_items(self, items: list[ConnectionItem]) -> None:
        self.items = {i.id: i for i in items}
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        self.table.fill(items)
        selection.blockSignals(False)
        self.select(self.selected_id)
        self.empty.setVisible(not items)
        self.table.setVisible(bool(items))
        if self.selected_id in self.items:
            self._show_switches(self.items[self.selected_id])

    def row_of(self, connection_id: str | None) -> int:
        ids = [item.id for item in self.list_model.rows]
        return ids.index(connection_id) if connection_id in ids else -1

    def select(self, connection_id: str | None) -> None:
        row = self.row_of(connection_id)
        selection = self.table.selectionModel()
        selection.blockSignals(True)
        if row >= 0:
            self.table.selectRow(row)
        else:
            self.table.clearSelection()
        selection.blockSignals(False)
        self.selected_id = connection_id if row >= 0 else None

    def _selection_changed(self) -> None:
        rows = self.table.selected_rows()
        if not rows:
            return
        connection_id = rows[0].id
        if connection_id and connection_id != self.selected_id:
            self.selected_id = connection_id
            spawn(self.load_detail(connection_id), "connection detail")

    # --- detail ---------------------------------------------------------------------------------------------

    async def load_detail(self, connection_id: str | None) -> None:
        if connection_id is None:
            self._detail_generation += 1
            self.detail = None
            self.title.setText("Select a connection")
            self.subtitle.setText("")
            self.badge.hide()
            self.detail_body.setEnabled(False)
            self.delete_button.setEnabled(False)
            return
        if connection_id != (self.detail.config.id if self.detail else None):
            self.say("")  # a message about the previous connection does not follow the selection
        self._detail_generation += 1
        generation = self._detail_generation
        detail = await self.part.detail(connection_id)
        if generation != self._detail_generation:
            return  # another connection was chosen meanwhile
        self.detail = detail
        self.selected_id = connection_id
        c = detail.config
        self.title.setText(c.name)
        exchange = detail.exchange.name if detail.exchange else c.exchange_id
        kind = ("offline simulator" if c.is_replay else "predefined" if c.is_predefined else "ccxt generic")
        self.subtitle.setText(f"{exchange} · {kind}" + (" · testnet" if c.is_testnet else "")
                              + f" · {c.margin_mode} margin · {c.position_mode} mode")
        self.detail_body.setEnabled(True)
        self.keys.show_detail(detail)
        self.options.show_detail(detail)
        self.test.show_stored(c)
        item = self.items.get(connection_id)
        if item is not None:
            self._show_switches(item)

    async def reload(self) -> None:
        """After a change: the list and the selected connection's editor from the stored truth."""
        items = await self._fetch_items()
        if items is None:
            return
        self.show_items(items)
        if self.selected_id is not None:
            await self.load_detail(self.selected_id)

    def _show_switches(self, item: ConnectionItem) -> None:
        c = item.config
        text, state = item.badge()
        self.badge.setText(text)
        set_style_state(self.badge, "state", state)
        self.badge.show()
        for box, value in ((self.enabled, c.is_enabled), (self.active, c.is_active), (self.live, c.is_live_trade)):
            box.blockSignals(True)
            box.setChecked(value)
            box.blockSignals(False)
        self.live.setEnabled(c.is_enabled)
        self.live.setToolTip("Orders on the offline simulator (no real money); asks you to type the connection name"
                             if c.is_replay else "Real orders with real money; asks you to type the connection name")
        self.delete_button.setEnabled(not c.is_replay)
        self.delete_button.setToolTip("The built-in Replay connection cannot be deleted" if c.is_replay else
                                      "Delete the connection, its keys and its stored history")

    def say(self, text: str, ok: bool | None = None) -> None:
        self.notice.setText(text)
        self.notice.setStyleSheet("" if ok is None else OK_STYLE if ok else FAIL_STYLE)

    # --- adding ---------------------------------------------------------------------------------------------

    async def add(self, kind: str, exchange_id: str = "", name: str = "") -> Any:
        try:
            config = await self.part.add(kind, exchange_id, name)
        except Exception as error:
            self.say(str(error), False)
            return None
        self.selected_id = config.id
        await self.reload()
        self.say(f"{config.name} added. " + ("" if config.is_replay or config.is_enabled else
                                             "Enter its API keys, then run the connection test."), True)
        return config

    def open_picker(self) -> None:
        self.picker = ExchangePickerDialog({i.config.name for i in self.items.values()}, self.window())
        self.picker.chosen.connect(lambda eid, name: spawn(self.add("generic", eid, name), "add generic"))
        self.picker.open()
        spawn(self._fill_picker(self.picker), "exchange list")

    async def _fill_picker(self, picker: ExchangePickerDialog) -> None:
        try:
            choices = await self.part.exchanges()
        except Exception as error:
            picker.info.setText(f"Could not list the ccxt exchanges: {error}")
            return
        picker.set_exchanges(choices)

    # --- actions --------------------------------------------------------------------------------------------

    async def set_enabled(self, on: bool) -> None:
        if self.selected_id is None:
            return
        try:
            await self.part.switches.set_enabled(self.selected_id, on)
            self.say(f"Connection {'enabled' if on else 'disabled'}.", True)
        except Exception as error:
            self._show_refused(self.enabled, on, str(error))
        await self.reload()

    async def set_active(self, on: bool) -> None:
        if self.selected_id is None:
            return
        try:
            await self.part.switches.set_active(self.selected_id, on)
            self.say(f"Connection {'active' if on else 'inactive'}.", True)
        except Exception as error:
            self._show_refused(self.active, on, str(error))
        await self.reload()

    def _show_refused(self, box: QCheckBox, asked: bool, reason: str) -> None:
        """A switch the service refused shows its old state at once, with the reason (the reload follows)."""
        box.blockSignals(True)
        box.setChecked(not asked)
        box.blockSignals(False)
        self.say(reason, False)

    def _live_clicked(self, checked: bool) -> None:
        if self.detail is None:
            return
        if not checked:
            spawn(self.set_live(False, ""), "live off")
            return
        self.live.setChecked(False)  # stays off until the typed confirmation
        self.live_dialog = LiveTradeDialog(self.detail.config.name, self.window(),
                                           simulated=self.detail.config.is_replay)
        self.live_dialog.confirmed.connect(lambda typed: spawn(self.set_live(True, typed), "live on"))
        self.live_dialog.open()

    async def set_live(self, on: bool, typed: str) -> None:
        if self.selected_id is None:
            return
        simulated = self.detail is not None and self.detail.config.is_replay
        try:
            await self.part.switches.set_live_trade(self.selected_id, on, typed)
            self.say(("Live trading is ON: orders go to the offline simulator (no real money)." if simulated else
                      "Live trading is ON: real orders with real money.") if on else "Live trading is off.", True)
        except Exception as error:
            self.say(str(error), False)
        await self.reload()

    async def ask_delete(self) -> None:
        if self.detail is None:
            return
        config = self.detail.config
        live = await self.part.switches.live_positions(config.id)
        if live:
            self.say(f"{config.name} has {live} open live position{'s' if live != 1 else ''}: close them before "
                     "deleting the connection.", False)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Delete connection",
                          f"Delete <b>{config.name}</b>?", QMessageBox.StandardButton.Cancel, self.window())
        box.setInformativeText("Its API keys are removed from the keyring and its stored history (configuration "
                               "sets, paper positions, orders) is deleted. This cannot be undone.")
        self.delete_confirm = box.addButton("Delete", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: spawn(self.delete(config.id), "delete")
                                  if button is self.delete_confirm else None)
        self.confirm = box
        box.open()

    async def delete(self, connection_id: str) -> bool:
        try:
            await self.part.switches.delete(connection_id)
        except Exception as error:
            self.say(str(error), False)
            return False
        self.selected_id = None
        self.detail = None
        await self.refresh()
        self.say("Connection deleted.", True)
        return True

    async def save_keys(self, key: str, secret: str, password: str) -> None:
        if self.selected_id is None:
            return
        try:
            where = await self.part.set_keys(self.selected_id, key, secret, password)
            self.say(f"Keys saved to {where}. Run the connection test to enable the connection.", True)
        except Exception as error:
            self.say(str(error), False)
            return
        await self.reload()

    async def save_options(self, edit: ConnectionEdit) -> None:
        if self.selected_id is None:
            return
        try:
            await self.part.save(self.selected_id, edit)
            self.say("Options saved.", True)
        except Exception as error:
            self.options.problems.setText(str(error))
            return
        await self.reload()

    def _revert(self) -> None:
        if self.detail is not None:
            self.options.show_detail(self.detail)
