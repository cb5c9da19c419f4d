"""Tables of open positions, recent orders and recent fills (capped, sortable, CSV export, column state kept).

The positions and orders tables have the manual actions in their context menu (close a position, close every
position of its symbol, cancel an order), each asked first when it concerns live money; the action itself is the
``act`` callback's (the Dashboard runs it through the application's manual part)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QMessageBox, QPushButton, QTabWidget, QVBoxLayout, QWidget

from cts_desktop.ui.table import (
    Column,
    DataTable,
    RowTableModel,
    fmt_bool,
    fmt_duration,
    fmt_num,
    fmt_price,
    fmt_time,
    sign_colour,
)

CAP = 500

POSITION_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("symbol", "Symbol"),
    Column("side", "Side"), Column("paper", "Paper", fmt_bool), Column("status", "Status"),
    Column("quantity", "Qty", fmt_num(4), True), Column("entry_price", "Entry", fmt_price, True),
    Column("take_profit", "TP", fmt_price, True), Column("stop_loss", "SL", fmt_price, True),
    Column("mark_price", "Mark", fmt_price, True),
    Column("unrealized_pnl", "uPnL", fmt_num(2), True, sign_colour),
    Column("net_pnl", "Net PnL", fmt_num(2), True, sign_colour),
    Column("liquidation_price", "Liq. price", fmt_price, True),
    Column("opened_ms", "Opened (UTC)", fmt_time), Column("open_s", "Open for", fmt_duration, True),
]

ORDER_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("symbol", "Symbol"),
    Column("side", "Side"), Column("order_type", "Type"), Column("reduce_only", "Reduce", fmt_bool),
    Column("quantity", "Qty", fmt_num(4), True), Column("average_price", "Avg price", fmt_price, True),
    Column("filled", "Filled", fmt_num(4), True), Column("status", "Status"), Column("paper", "Paper", fmt_bool),
    Column("created_ms", "Created (UTC)", fmt_time),
]

FILL_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("symbol", "Symbol"),
    Column("side", "Side"), Column("quantity", "Qty", fmt_num(4), True), Column("price", "Price", fmt_price, True),
    Column("fee", "Fee", fmt_num(4), True), Column("ts_ms", "Time (UTC)", fmt_time),
]

TITLES = {"positions": "Open positions", "orders": "Recent orders", "fills": "Recent trades"}
CANCELLABLE = ("open", "partially_filled")
# (what, connection id, the row's id or symbol): the Dashboard runs it ("close", "close_symbol", "cancel")
Act = Callable[[str, str, Any], None]



class TablesPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        specs = {"positions": POSITION_COLUMNS, "orders": ORDER_COLUMNS, "fills": FILL_COLUMNS}
        self.models = {key: RowTableModel(spec, cap=CAP) for key, spec in specs.items()}
        self.views = {key: DataTable(model, f"dashboard.{key}") for key, model in self.models.items()}
        self.tabs = QTabWidget()
        for key, view in self.views.items():
            self.tabs.addTab(view, TITLES[key])
            view.setAccessibleName(TITLES[key])
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.ask_export)
        self.message = QLabel("")
        self.message.setObjectName("metricDetail")
        self.tabs.setCornerWidget(self.export_button)
        self.act: Act | None = None
        self.confirm: QMessageBox | None = None  # the open confirmation of a live action
        self.views["positions"].row_actions = self._position_actions
        self.views["orders"].row_actions = self._order_actions
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tabs, 1)
        foot = QHBoxLayout()
        foot.addWidget(self.message, 1)
        layout.addLayout(foot)

    def current_key(self) -> str:
        return list(self.models)[self.tabs.currentIndex()]

    def set_rows(self, key: str, rows: list[object]) -> None:
        self.views[key].fill(rows)
        self.tabs.setTabText(list(self.models).index(key), f"{TITLES[key]} ({len(self.models[key].rows)})")

    def ask_export(self) -> None:
        self.views[self.current_key()].ask_export(self.message.setText)

    # --- manual actions ---------------------------------------------------------------------------------------

    def _position_actions(self, menu: QMenu, rows: list[Any]) -> None:
        row = rows[0]
        live = "" if row.paper else " (LIVE)"
        menu.addAction(f"Close position #{row.id} {row.side} {row.symbol}{live}",
                       lambda: self.ask("close", row.connection_id, row.id, not row.paper,
                                        f"Close live position #{row.id} ({row.side} {row.quantity:g} {row.symbol}) "
                                        f"at market?"))
        menu.addAction(f"Close all of {row.symbol}{live}",
                       lambda: self.ask("close_symbol", row.connection_id, row.symbol, not row.paper,
                                        f"Close every position of {row.symbol} on this connection at market?"))

    def _order_actions(self, menu: QMenu, rows: list[Any]) -> None:
        row = rows[0]
        action = menu.addAction(f"Cancel order #{row.id} {row.side} {row.symbol}",
                                lambda: self.ask("cancel", row.connection_id, row.id, not row.paper,
                                                 f"Cancel live order #{row.id} ({row.side} {row.quantity:g} "
                                                 f"{row.symbol}) on the exchange?"))
        action.setEnabled(row.status in CANCELLABLE)

    def ask(self, what: str, connection_id: str, target: Any, live: bool, question: str) -> None:
        """Run a manual action, after a confirmation when it concerns live money (the dialog is opened, not
        executed: no nested event loop)."""
        if self.act is None:
            return
        act = self.act
        if not live:
            act(what, connection_id, target)
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Confirm", question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.window())
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.accepted.connect(lambda: act(what, connection_id, target))
        self.confirm = box
        box.open()

    def export_csv(self, key: str, path: str) -> int:
        count = self.views[key].export_csv(path)
        self.message.setText(self.views[key].message)
        return count
