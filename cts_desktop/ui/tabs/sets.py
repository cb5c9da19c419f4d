"""Sets tab: every configuration set of the running engines — filter by connection, symbol, status, layer and
text, sort any column, pick the statistics window — with the Base → Main → Real funnel and the selected set's
pseudo results (cumulative, in position-cost units) plotted. Rows come from the engines' books in memory
(``SetsPart``), in a worker thread; the table is the one table base (CSV export, column state kept)."""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.sets import WINDOWS, Funnel, SetRow, SetsFilter, SetsPart, funnel
from cts_desktop.ui.charts.plots import ThemedPlot
from cts_desktop.ui.table import Column, DataTable, RowTableModel, fmt_duration, fmt_num, fmt_time
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.theme import current_theme, on_theme_changed

STATUS_COLOURS = {"active": "#2e9d57", "evaluating": "#5b6b82", "paused": "#b7791f", "failed": "#c0392b"}
LAYER_COLOURS = {"real": "#7e57c2", "main": "#1e88e5", "base": None}
CAP = 500_000
REFRESH_EVERY_S = 5.0  # the window's timer asks every 2 s; tens of thousands of rows are re-read at most this often


def _finite(digits: int, scale: float = 1.0) -> Any:
    def fmt(v: Any) -> str:
        if v is None or v != v:  # NaN: no result in the window
            return ""
        if v in (float("inf"), float("-inf")):
            return "∞" if v > 0 else "-∞"
        return f"{float(v) * scale:,.{digits}f}"
    return fmt


def _sortable(v: Any) -> float:
    return float("-inf") if v is None or v != v else float(v)


SET_COLUMNS = [
    Column("connection_id", "Connection"), Column("symbol", "Symbol"), Column("indication", "Indication"),
    Column("direction", "Dir"), Column("tp", "TP ×", fmt_num(1), True), Column("sl", "SL ×", fmt_num(2), True),
    Column("trailing", "Trailing"),
    Column("status", "Status", background=lambda v: STATUS_COLOURS.get(v)),
    Column("status_since_s", "Since (UTC)", lambda v: fmt_time(None if v is None else v * 1000)),
    Column("layer", "Layer", background=lambda v: LAYER_COLOURS.get(v)),
    Column("trades", "Trades", fmt_num(0), True), Column("open_now", "Open", fmt_num(0), True),
    Column("avg_pf", "avg PF", _finite(2), True, sort_key=_sortable),
    Column("gross_pf", "gross PF", _finite(2), True, sort_key=_sortable),
    Column("win_rate", "Win %", _finite(0, 100), True, sort_key=_sortable),
    Column("max_drawdown", "Max DD %", _finite(1, 100), True, sort_key=_sortable),
    Column("time_in_drawdown_s", "Time in DD", lambda v: "" if v != v else fmt_duration(v), True,
           sort_key=_sortable),
    Column("window_trades", "In window", fmt_num(0), True),
    Column("last_close_s", "Last close (UTC)", lambda v: fmt_time(None if v is None else v * 1000)),
    Column("why", "Why paused / failed"),
]
ANY = "(any)"


class SetsTab(QWidget):
    def __init__(self, part: SetsPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.model = RowTableModel(SET_COLUMNS, key="key", cap=CAP)
        self.table = DataTable(self.model, "sets.table")
        self.table.setAccessibleName("Configuration sets")
        self.connection = QComboBox()
        self.symbol = QComboBox()
        self.status = QComboBox()
        self.status.addItems([ANY, "evaluating", "active", "paused", "failed"])
        self.layer = QComboBox()
        self.layer.addItems([ANY, "base", "main", "real"])
        self.text = QLineEdit()
        self.text.setPlaceholderText("indication or reason contains…")
        self.window_box = QComboBox()
        for window in WINDOWS:
            self.window_box.addItem(f"last {window}", window)
        self.window_box.setCurrentIndex(WINDOWS.index(20))
        for combo in (self.connection, self.symbol, self.status, self.layer, self.window_box):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # names arrive after the show
        self.count = QLabel("")
        self.count.setObjectName("metricDetail")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(lambda: self.table.ask_export(self.count.setText))
        bar = QHBoxLayout()
        for label, widget in (("Connection", self.connection), ("Symbol", self.symbol), ("Status", self.status),
                              ("Layer", self.layer), ("Window", self.window_box)):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addWidget(self.text, 1)
        bar.addWidget(self.count)
        bar.addWidget(self.export_button)
        theme = current_theme()
        self.funnel_plot = ThemedPlot("Base → Main → Real", "sets", time_axis=False, theme=theme)
        self.history_plot = ThemedPlot("Selected set: cumulative pseudo result", "× position cost", theme=theme)
        charts = QSplitter(Qt.Orientation.Vertical)
        charts.addWidget(self.funnel_plot)
        charts.addWidget(self.history_plot)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.table)
        split.addWidget(charts)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([900, 380])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        for combo in (self.connection, self.symbol, self.status, self.layer, self.window_box):
            combo.currentIndexChanged.connect(lambda _i: spawn(self.refresh(force=True), "sets filter"))
        self.text.editingFinished.connect(lambda: spawn(self.refresh(force=True), "sets filter"))
        self.table.selectionModel().selectionChanged.connect(lambda *_: spawn(self.show_selected(), "set history"))
        self._theme_listener = on_theme_changed(self.apply_theme)
        self.destroyed.connect(self._theme_listener)
        self.last_funnel: Funnel | None = None
        self.history_key = ""
        self._busy: asyncio.Future[None] | None = None
        self._last_refresh: float | None = None

    def apply_theme(self, theme: str) -> None:
        for plot in (self.funnel_plot, self.history_plot):
            plot.apply_theme(theme)

    def current_filter(self) -> SetsFilter:
        def pick(combo: QComboBox) -> str:
            text = combo.currentText()
            return "" if text in (ANY, "") else text

        return SetsFilter(connection_id=pick(self.connection), symbol=pick(self.symbol), status=pick(self.status),
                          layer=pick(self.layer), text=self.text.text().strip())

    def _sources(self) -> None:
        sources = self.part.sources()
        for combo, values in ((self.connection, sorted({c for c, _ in sources})),
                              (self.symbol, sorted({s for _, s in sources}))):
            wanted = [ANY, *values]
            if [combo.itemText(i) for i in range(combo.count())] != wanted:
                current = combo.currentText()
                combo.blockSignals(True)
                combo.clear()
                combo.addItems(wanted)
                combo.setCurrentText(current if current in wanted else ANY)
                combo.blockSignals(False)

    async def refresh(self, force: bool = False) -> None:
        """The rows of the current filter and window, at most every REFRESH_EVERY_S unless ``force`` (a refresh
        while one runs waits for that one, then a forced one reads again)."""
        if self._busy is not None:
            await asyncio.shield(self._busy)
            if not force:
                return
        now = asyncio.get_running_loop().time()
        if not force and self._last_refresh is not None and now - self._last_refresh < REFRESH_EVERY_S:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._busy = done
        self._last_refresh = now
        try:
            self._sources()
            rows = await self.part.rows(self.current_filter(), int(self.window_box.currentData()))
            self.table.fill(rows)
            self.show_funnel(funnel(rows))
            self.count.setText(f"{len(rows):,} sets")
        finally:
            self._busy = None
            done.set_result(None)

    def show_funnel(self, counts: Funnel) -> None:
        self.last_funnel = counts
        plot = self.funnel_plot
        plot.clear()
        plot.bars([0, 1, 2], [counts.base, counts.main, counts.real], ["#5b6b82", "#1e88e5", "#7e57c2"], 0.6)
        plot.label_ticks([(0, f"Base {counts.base:,}"), (1, f"Main {counts.main:,}"), (2, f"Real {counts.real:,}")])

    async def show_selected(self) -> None:
        rows: list[SetRow] = self.table.selected_rows()
        if not rows:
            return
        history = await self.part.history(rows[0].key)
        plot = self.history_plot
        plot.clear()
        self.history_key = rows[0].key
        if history is None or history.close_s.size == 0:
            plot.set_title("Selected set: no closed pseudo result yet")
            return
        plot.set_title(f"{rows[0].symbol.split('/')[0]} {rows[0].indication} {rows[0].direction} "
                           f"tp {rows[0].tp:g} sl {rows[0].sl:g}: {history.close_s.size} results")
        plot.line(history.close_s, history.cumulative, "up" if history.cumulative[-1] >= 0 else "down")
