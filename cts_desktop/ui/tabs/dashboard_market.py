"""The ticker of the main symbols and the chart panel (symbol and timeframe pickers over the candlestick chart).

The chart loads stored 1-minute candles (resampled to the timeframe) for a symbol a running engine trades, then
follows the engine's live prices pushed by the bridge. Markers and TP/SL lines are reloaded every few seconds.
pyqtgraph is imported when the panel is built (after the window is on screen).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.dashboard import TIMEFRAME_MS, DashboardPart, TickerRow

Runner = Callable[[Coroutine[Any, Any, Any], str], None]
OVERLAY_EVERY_S = 5.0


class TickerBar(QWidget):
    """The main symbols' last price and 24 h change on one line, drawn by the widget itself.

    The prices move five times a second; one QLabel of rich text per symbol re-laid its HTML out and asked the
    window for a new layout on every change (a label's width follows its text) — about a tenth of the GUI thread
    at 20 symbols. Here a change only schedules one repaint of this strip, whose height never changes; symbols
    that do not fit the width are left out, the tooltip lists them all.
    """

    UP, DOWN, FLAT = QColor("#2e9d57"), QColor("#d64541"), QColor("#8b93a1")
    SPACING = 18

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ticker")
        self.rows: dict[str, TickerRow] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # it paints its whole rectangle itself, so a price change repaints this strip only, not the tab behind it
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.visible_symbols: list[str] = []  # the symbols the last paint fitted in (tests read it)

    def bold(self) -> QFont:
        font = QFont(self.font())  # the stylesheet's size, known once the widget is polished
        font.setBold(True)
        return font

    def sizeHint(self) -> QSize:
        return QSize(400, QFontMetrics(self.bold()).height() + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(0, self.sizeHint().height())

    def show_rows(self, rows: list[TickerRow]) -> None:
        changed = False
        for row in rows:
            if self.rows.get(row.symbol) != row:
                self.rows[row.symbol] = row
                changed = True
        if changed:
            self.setToolTip("\n".join(self.text_of(symbol) for symbol in self.rows))
            self.update()

    def on_price(self, symbol: str, price: float) -> None:
        row = self.rows.get(symbol)
        if row is not None and row.last != price:
            self.rows[symbol] = TickerRow(symbol, price, row.change_pct_24h)
            self.update()  # Qt paints once for all the changes of a flush

    @staticmethod
    def parts(row: TickerRow) -> tuple[str, str, str]:
        """(base, price, change) as shown: "BTC", "66,512.30", "+1.23 %" ("—" and "" while unknown)."""
        base = row.symbol.split("/")[0]
        if row.last is None:
            return base, "—", ""
        change = "" if row.change_pct_24h is None else f"{row.change_pct_24h:+.2f} %"
        return base, f"{row.last:,.2f}", change

    def text_of(self, symbol: str) -> str:
        return " ".join(part for part in self.parts(self.rows[symbol]) if part)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().color(self.backgroundRole()))
        bold_font = self.bold()
        plain, bold = QFontMetrics(self.font()), QFontMetrics(bold_font)
        baseline = (self.height() + bold.ascent() - bold.descent()) // 2
        x, right = 4, self.width() - 4
        text = self.palette().color(self.foregroundRole())
        self.visible_symbols = []
        for symbol, row in self.rows.items():
            base, price, change = self.parts(row)
            widths = (bold.horizontalAdvance(base), plain.horizontalAdvance(" " + price),
                      plain.horizontalAdvance(" " + change) if change else 0)
            if x + sum(widths) > right:
                break
            painter.setFont(bold_font)
            painter.setPen(text)
            painter.drawText(x, baseline, base)
            painter.setFont(self.font())
            painter.drawText(x + widths[0], baseline, " " + price)
            if change:
                value = row.change_pct_24h or 0.0
                painter.setPen(self.UP if value > 0 else self.DOWN if value < 0 else self.FLAT)
                painter.drawText(x + widths[0] + widths[1], baseline, " " + change)
            self.visible_symbols.append(symbol)
            x += sum(widths) + self.SPACING
        painter.end()


class ChartPanel(QWidget):
    def __init__(self, part: DashboardPart, run: Runner, theme: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from cts_desktop.ui.charts.chart import CandleChart

        self.part = part
        self.run = run
        self.symbol = QComboBox()
        self.symbol.setMinimumContentsLength(16)
        self.timeframe = QComboBox()
        self.timeframe.addItems(list(TIMEFRAME_MS))
        self.reload_button = QPushButton("Reload")
        self.symbol.setAccessibleName("Chart symbol")
        self.timeframe.setAccessibleName("Chart timeframe")
        self.reload_button.setAccessibleDescription("Load the chart's candles again from the database")
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
            series = await self.part.chart_candles(cid, symbol, self.timeframe.currentText(), bars)
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
        overlay = await self.part.chart_overlay(cid, symbol, since)
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
