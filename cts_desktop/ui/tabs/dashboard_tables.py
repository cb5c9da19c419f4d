"""Tables of open positions, recent orders and recent fills (capped, sortable, CSV export, column state kept)."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from cts_desktop.ui.table import (
    Column,
    DataTable,
    RowTableModel,
    fmt_bool,
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
    Column("net_pnl", "Net PnL", fmt_num(2), True, sign_colour), Column("opened_ms", "Opened (UTC)", fmt_time),
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


class TablesPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        specs = {"positions": POSITION_COLUMNS, "orders": ORDER_COLUMNS, "fills": FILL_COLUMNS}
        self.models = {key: RowTableModel(spec, cap=CAP) for key, spec in specs.items()}
        self.views = {key: DataTable(model, f"dashboard.{key}") for key, model in self.models.items()}
        self.tabs = QTabWidget()
        for key, view in self.views.items():
            self.tabs.addTab(view, TITLES[key])
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.ask_export)
        self.message = QLabel("")
        self.message.setObjectName("metricDetail")
        self.tabs.setCornerWidget(self.export_button)
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

    def export_csv(self, key: str, path: str) -> int:
        count = self.views[key].export_csv(path)
        self.message.setText(self.views[key].message)
        return count
