"""Tables of open positions, recent orders and recent fills (model/view, capped, sortable, CSV export)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.ui.models.table import FILL_COLUMNS, ORDER_COLUMNS, POSITION_COLUMNS, RowTableModel

CAP = 500


class TablesPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.models = {
            "positions": RowTableModel(POSITION_COLUMNS, cap=CAP),
            "orders": RowTableModel(ORDER_COLUMNS, cap=CAP),
            "fills": RowTableModel(FILL_COLUMNS, cap=CAP),
        }
        self.views: dict[str, QTableView] = {}
        self.tabs = QTabWidget()
        for key, title in (("positions", "Open positions"), ("orders", "Recent orders"), ("fills", "Recent trades")):
            view = QTableView()
            view.setModel(self.models[key])
            view.setSortingEnabled(True)
            view.horizontalHeader().setSortIndicator(-1, view.horizontalHeader().sortIndicatorOrder())
            view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
            view.setAlternatingRowColors(True)
            view.verticalHeader().setVisible(False)
            view.verticalHeader().setDefaultSectionSize(20)
            view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            view.horizontalHeader().setStretchLastSection(True)
            self.views[key] = view
            self.tabs.addTab(view, title)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self.ask_export)
        self.message = QLabel("")
        self.message.setObjectName("metricDetail")
        self.dialog: QFileDialog | None = None
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
        model = self.models[key]
        model.set_rows(rows)
        index = list(self.models).index(key)
        title = {"positions": "Open positions", "orders": "Recent orders", "fills": "Recent trades"}[key]
        self.tabs.setTabText(index, f"{title} ({len(model.rows)})")
        if len(model.rows) and not self.views[key].property("sized"):
            self.views[key].resizeColumnsToContents()
            self.views[key].setProperty("sized", True)

    def ask_export(self) -> None:
        """Choose a file without a nested event loop (``open`` + ``fileSelected``)."""
        key = self.current_key()
        dialog = QFileDialog(self.window(), "Export table as CSV", f"{key}.csv", "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.fileSelected.connect(lambda path: self.export_csv(key, path))
        self.dialog = dialog
        dialog.open()

    def export_csv(self, key: str, path: str) -> int:
        try:
            count = self.models[key].to_csv(path)
        except OSError as error:
            self.message.setText(f"Export failed: {error}")
            return 0
        self.message.setText(f"{count} rows written to {path}")
        return count
