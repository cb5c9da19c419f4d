"""Charts of the Strategies tab (pyqtgraph, imported when first built): the equity curve of a backtest and the
price with its trades marked — entries as triangles in the trade's direction, exits as dots (green win, red
loss), each entry joined to its exit."""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from cts_desktop.application.strategies import Trade
from cts_desktop.domain.bars import Bars

WIN = "#2e7d32"
LOSS = "#c62828"


class _Chart(QWidget):
    def __init__(self, title: str, left: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.pg = pg
        self.title, self.left = title, left
        self.plot: Any = pg.PlotWidget(axisItems={"bottom": pg.DateAxisItem(utcOffset=0)})
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.recolour()
        from cts_desktop.ui.theme import on_theme_changed

        stop_listening = on_theme_changed(lambda _theme: self.recolour())  # a theme switch reaches these charts too
        self.destroyed.connect(stop_listening)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.plot.setAccessibleName(f"Chart: {title}")


    def recolour(self) -> None:
        """The plot in the application's current colours (text on base)."""
        palette = QApplication.palette()
        self.fg = palette.color(palette.ColorRole.Text)
        self.plot.setBackground(palette.color(palette.ColorRole.Base))
        self.plot.setTitle(self.title, color=self.fg, size="10pt")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(self.fg)
            self.plot.getAxis(axis).setPen(self.fg)
        self.plot.setLabel("left", self.left, color=self.fg)
        self.recolour_items()

    def recolour_items(self) -> None:
        """The chart's own items drawn in the text colour (a subclass's lines), after a theme switch too."""


class EquityChart(_Chart):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Equity (%, after fees)", "%", parent)  # short: the whole title fits half the tab at 1280 px
        self.plot.setToolTip("Cumulative result of the selected set, in % of the notional per trade, fees included")
        self.curve: Any = self.plot.plot([], [], pen=self.pg.mkPen("#1565c0", width=2),
                                         fillLevel=0, brush=(21, 101, 192, 40))
        dash = Qt.PenStyle.DashLine
        self.zero: Any = self.pg.InfiniteLine(pos=0, angle=0, pen=self.pg.mkPen(self.fg, width=1, style=dash))
        self.plot.addItem(self.zero)
        self.points = 0

    def recolour_items(self) -> None:
        zero = getattr(self, "zero", None)  # recolour() runs once before the line exists
        if zero is not None:
            zero.setPen(self.pg.mkPen(self.fg, width=1, style=Qt.PenStyle.DashLine))

    def show_equity(self, equity: list[tuple[float, float]]) -> None:
        self.points = len(equity)
        if not equity:
            self.curve.setData([], [])
            return
        x = np.array([0.0] + [p[0] for p in equity])
        x[0] = x[1] - 1.0
        y = np.array([0.0] + [p[1] for p in equity])
        self.curve.setData(x, y, stepMode=None)
        self.plot.enableAutoRange()


class TradesChart(_Chart):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Price and trades", "price", parent)
        pg = self.pg
        self.price: Any = self.plot.plot([], [], pen=pg.mkPen(self.fg, width=1))
        dash = Qt.PenStyle.DashLine
        self.links: Any = pg.PlotCurveItem([], [], connect="pairs", pen=pg.mkPen("#888888", width=1, style=dash))
        self.entries: Any = pg.ScatterPlotItem(size=11, pen=pg.mkPen(None))
        self.exits: Any = pg.ScatterPlotItem(size=8, pen=pg.mkPen(None))
        for item in (self.links, self.entries, self.exits):
            self.plot.addItem(item)
        self.marked = 0

    def recolour_items(self) -> None:
        price = getattr(self, "price", None)
        if price is not None:
            price.setPen(self.pg.mkPen(self.fg, width=1))

    def show_trades(self, bars: Bars | None, trades: list[Trade]) -> None:
        pg = self.pg
        if bars is None or len(bars) == 0:
            self.price.setData([], [])
        else:
            self.price.setData(bars.time, bars.close)
        self.marked = len(trades)
        if not trades:
            for item in (self.entries, self.exits):
                item.setData([])
            self.links.setData([], [])
            return
        brushes = [pg.mkBrush(WIN if t.result > 0 else LOSS) for t in trades]
        self.entries.setData(
            x=[t.entry_time for t in trades], y=[t.entry_price for t in trades],
            symbol=["t1" if t.direction > 0 else "t" for t in trades], brush=brushes,
        )
        self.exits.setData(x=[t.exit_time for t in trades], y=[t.exit_price for t in trades], symbol="o",
                           brush=brushes)
        xs = np.ravel([[t.entry_time, t.exit_time] for t in trades])
        ys = np.ravel([[t.entry_price, t.exit_price] for t in trades])
        self.links.setData(xs, ys)
        self.plot.enableAutoRange()
