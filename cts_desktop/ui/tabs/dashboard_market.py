"""The ticker of the main symbols and the chart panel (symbol and timeframe pickers over the candlestick chart).

The chart loads stored 1-minute candles (resampled to the timeframe) for a symbol a running engine trades, then
follows the engine's live prices pushed by the bridge. Markers and TP/SL lines are reloaded every few seconds.
pyqtgraph is imported when the panel is built (after the window is on screen).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from cts_desktop.ui.models.dashboard_data import TIMEFRAME_MS, TickerRow

Runner = Callable[[Coroutine[Any, Any, Any], str], None]
OVERLAY_EVERY_S = 5.0


class TickerBar(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(4, 0, 4, 0)
        self.layout_.setSpacing(18)
        self.labels: dict[str, QLabel] = {}
        self.rows: dict[str, TickerRow] = {}
        self.layout_.addStretch(1)

    def show_rows(self, rows: list[TickerRow]) -> None:
        for row in rows:
            self.rows[row.symbol] = row
            label = self.labels.get(row.symbol)
            if label is None:
                label = QLabel()
                label.setObjectName("tickerItem")
                self.labels[row.symbol] = label
                self.layout_.insertWidget(self.layout_.count() - 1, label)
            base = row.symbol.split("/")[0]
            if row.last is None:
                label.setText(f"<b>{base}</b> —")
                continue
            change = row.change_pct_24h
            colour = "#2e9d57" if (change or 0) > 0 else "#d64541" if (change or 0) < 0 else "#8b93a1"
            tail = "" if change is None else f" <span style='color:{colour}'>{change:+.2f} %</span>"
            label.setText(f"<b>{base}</b> {row.last:,.2f}{tail}")

    def on_price(self, symbol: str, price: float) -> None:
        row = self.rows.get(symbol)
        if row is not None and row.last != price:
            self.show_rows([TickerRow(symbol, price, row.change_pct_24h)])


class ChartPanel(QWidget):
    def __init__(self, facade: Any, run: Runner, theme: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from cts_desktop.ui.charts.chart import CandleChart

        self.facade = facade
        self.run = run
        self.symbol = QComboBox()
        self.symbol.setMinimumContentsLength(16)
        self.timeframe = QComboBox()
        self.timeframe.addItems(list(TIMEFRAME_MS))
        self.reload_button = QPushButton("Reload")
        self.chart = CandleChart(theme)
        self.source: tuple[str, str] | None = None  # (connection id, symbol)
        self._overlay_at = 0.0
        self._loading = False
        self.stored_bars = 0  # bars the last load found in the database (live ticks add more)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Chart")
        title.setObjectName("panelTitle")
        bar.addWidget(title)
        bar.addWidget(self.symbol, 1)
        bar.addWidget(self.timeframe)
        bar.addWidget(self.reload_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.chart, 1)
        self.symbol.currentIndexChanged.connect(lambda _i: self._selection_changed())
        self.timeframe.currentIndexChanged.connect(lambda _i: self._selection_changed())
        self.reload_button.clicked.connect(self._selection_changed)

    def set_sources(self, sources: list[tuple[str, str, str]]) -> None:
        """(connection id, connection name, symbol) choices; the current choice is kept when still offered."""
        keys = [(cid, symbol) for cid, _name, symbol in sources]
        current = [self.symbol.itemData(i) for i in range(self.symbol.count())]
        if keys == current:
            if self.source in keys and self.stored_bars == 0 and not self._loading:
                # chosen while its engine was still loading the history: look again until candles are stored
                self.run(self.load(), "chart load")
            return
        self.symbol.blockSignals(True)
        self.symbol.clear()
        for cid, name, symbol in sources:
            self.symbol.addItem(f"{symbol} · {name}", (cid, symbol))
        if self.source in keys:
            self.symbol.setCurrentIndex(keys.index(self.source))
        self.symbol.blockSignals(False)
        if keys and self.source not in keys:
            self._selection_changed()

    def _selection_changed(self) -> None:
        data = self.symbol.currentData()
        if data is None:
            return
        self.source = (str(data[0]), str(data[1]))
        self.run(self.load(), "chart load")

    async def load(self, bars: int = 10_000) -> None:
        if self.source is None:
            return
        cid, symbol = self.source
        self._loading = True
        try:
            series = await self.facade.chart_candles(cid, symbol, self.timeframe.currentText(), bars)
            if self.source != (cid, symbol):
                return
            self.stored_bars = len(series)
            self.chart.set_series(series)
            await self.load_overlay()
        finally:
            self._loading = False

    async def load_overlay(self) -> None:
        if self.source is None or self.chart.n == 0:
            return
        cid, symbol = self.source
        since = int(self.chart.ts[0])
        self._overlay_at = time.monotonic()
        overlay = await self.facade.chart_overlay(cid, symbol, since)
        if self.source == (cid, symbol):
            self.chart.set_overlay(overlay)

    def on_prices(self, prices: dict[tuple[str, str], tuple[float, int]]) -> None:
        if self.source is None or self._loading:
            return
        tick = prices.get(self.source)
        if tick is None:
            return
        self.chart.on_price(tick[0], tick[1])
        if time.monotonic() - self._overlay_at > OVERLAY_EVERY_S:
            self._overlay_at = time.monotonic()
            self.run(self.load_overlay(), "chart overlay")
