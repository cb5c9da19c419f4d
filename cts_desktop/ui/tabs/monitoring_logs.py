"""The log viewer page: filters (level, category, connection, text), a paged model/view table, a details pane with
the whole record (context, stack trace) and the export of the filtered records to CSV or JSON."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.monitoring import Category, LogFilter, MonitoringPart
from cts_desktop.ui.log_model import LogTableModel, entry_details
from cts_desktop.ui.table import DataTable
from cts_desktop.ui.tasks import spawn

LEVEL_FILTERS = (
    ("All levels", 0), ("Debug and above", logging.DEBUG), ("Info and above", logging.INFO),
    ("Warnings and above", logging.WARNING), ("Errors and above", logging.ERROR), ("Critical only", logging.CRITICAL),
)
TEXT_DEBOUNCE_MS = 300


class LogViewer(QWidget):
    def __init__(self, part: MonitoringPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.model = LogTableModel(part)
        self.file_dialog: QFileDialog | None = None
        self.level = QComboBox()
        for text, value in LEVEL_FILTERS:
            self.level.addItem(text, value)
        self.category = QComboBox()
        self.category.addItem("All categories", None)
        for category in Category:
            self.category.addItem(category.value, category.value)
        self.connection = QComboBox()
        self.connection.addItem("All connections", None)
        self.connection.setMinimumWidth(150)
        self.connection.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # names arrive later
        self.text = QLineEdit()
        self.text.setPlaceholderText("Search the message…")
        self.text.setClearButtonEnabled(True)
        self.count = QLabel("")
        self.export_csv = QPushButton("Export CSV…")
        self.export_json = QPushButton("Export JSON…")
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(TEXT_DEBOUNCE_MS)

        bar = QHBoxLayout()
        for widget in (self.level, self.category, self.connection):
            bar.addWidget(widget)
        bar.addWidget(self.text, 1)
        bar.addWidget(self.export_csv)
        bar.addWidget(self.export_json)

        self.view = DataTable(self.model, "monitoring.logs", sortable=False)  # newest first, paged by the database
        self.view.setAccessibleName("Log records")
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setWordWrap(False)
        self.view.verticalHeader().setDefaultSectionSize(22)
        self.view.set_widths((170, 80, 95, 110, 90))
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select a record to see all of it: context and stack trace.")
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.view)
        splitter.addWidget(self.details)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.count)
        layout.addWidget(splitter, 1)

        for combo in (self.level, self.category, self.connection):
            combo.currentIndexChanged.connect(lambda _i: self.apply_filter())
        self.text.textChanged.connect(lambda _t: self.debounce.start())
        self.debounce.timeout.connect(self.apply_filter)
        self.view.selectionModel().currentRowChanged.connect(lambda current, _prev: self.show_details(current.row()))
        self.export_csv.clicked.connect(lambda: self.choose_export("csv"))
        self.export_json.clicked.connect(lambda: self.choose_export("json"))
        self.model.loaded.connect(self._show_loaded)
        self.total: int | None = None
        self.started = False

    def current_filter(self) -> LogFilter:
        return LogFilter(
            min_level=int(self.level.currentData() or 0),
            category=self.category.currentData(),
            connection_id=self.connection.currentData(),
            text=self.text.text().strip(),
        )

    async def start(self) -> None:
        """First show: the connection list and the first page."""
        if self.started:
            return
        self.started = True
        await self.load_connections()
        await self.reload()

    async def load_connections(self) -> None:
        chosen = self.connection.currentData()
        ids = await self.part.log_connections()
        self.connection.blockSignals(True)
        self.connection.clear()
        self.connection.addItem("All connections", None)
        for conn_id in ids:
            self.connection.addItem(conn_id, conn_id)
        index = self.connection.findData(chosen)
        self.connection.setCurrentIndex(max(0, index))
        self.connection.blockSignals(False)

    def apply_filter(self) -> None:
        spawn(self.reload(), "log filter")

    async def reload(self) -> None:
        flt = self.current_filter()
        self.total = None
        self.count.setText("Counting…")
        self.details.clear()
        await self.model.reload(flt)
        total = await self.part.log_count(flt)
        if flt == self.current_filter():
            self.total = total
            self._show_loaded()

    def _show_loaded(self) -> None:
        shown = len(self.model.rows)
        if self.total is None:
            self.count.setText(f"{shown:,} loaded…")
            return
        more = " — scroll down for more" if self.model.more else ""
        self.count.setText(f"{self.total:,} matching records · {shown:,} loaded{more}")

    def show_details(self, row: int) -> None:
        entry = self.model.entry(row)
        self.details.setPlainText(entry_details(entry) if entry else "")

    # --- export ---------------------------------------------------------------------------------------------

    def choose_export(self, fmt: str) -> None:
        dialog = QFileDialog(self, f"Export logs as {fmt.upper()}")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(f"{fmt.upper()} files (*.{fmt});;All files (*)")
        dialog.setDefaultSuffix(fmt)
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # open() stays non-blocking everywhere
        dialog.selectFile(f"cts-desktop-logs.{fmt}")
        dialog.fileSelected.connect(lambda path: spawn(self.export_to(path, fmt), "log export"))
        self.file_dialog = dialog
        dialog.open()

    async def export_to(self, path: str, fmt: str) -> int:
        flt = self.current_filter()
        self.count.setText(f"Exporting to {path}…")
        try:
            written = await self.part.export_logs(flt, path, fmt)
        except OSError as exc:
            self.count.setText(f"Export failed: {exc.strerror or exc}")
            return 0
        self.count.setText(f"Exported {written:,} records to {path}.")
        return written
