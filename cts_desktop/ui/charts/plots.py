"""Small themed plots for the cockpit views (pyqtgraph): bars (the Base → Main → Real funnel, P&L per period) and
lines over time (a set's cumulative pseudo result, equity curves). Colours follow the window's theme."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from cts_desktop.ui.charts.chart import THEMES

UP, DOWN = "up", "down"


class ThemedPlot(QWidget):
    """One pyqtgraph plot with a title; ``time_axis`` puts dates on x."""

    def __init__(self, title: str, left: str, *, time_axis: bool = True, theme: str = "dark",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        axes = {"bottom": pg.DateAxisItem(utcOffset=0)} if time_axis else {}
        self.widget: Any = pg.PlotWidget(axisItems=axes)
        self.widget.setAccessibleName(f"Chart: {title}")
        self.plot: Any = self.widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.addLegend(offset=(8, 8))
        self.title, self.left = title, left
        self.items: list[Any] = []
        self.colours = THEMES["dark"]
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.widget)
        self.apply_theme(theme)

    def apply_theme(self, theme: str) -> None:
        c = self.colours = THEMES.get(theme, THEMES["dark"])
        self.widget.setBackground(c["bg"])
        self.plot.setTitle(self.title, color=c["fg"], size="10pt")
        self.plot.showGrid(x=True, y=True, alpha=float(c["grid"]))
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(c["fg"])
            self.plot.getAxis(axis).setPen(c["fg"])
        self.plot.setLabel("left", self.left, color=c["fg"])

    def set_title(self, title: str) -> None:
        self.title = title
        self.plot.setTitle(title, color=self.colours["fg"], size="10pt")

    def colour(self, name: str) -> str:
        return str(self.colours.get(name, name))

    def clear(self) -> None:
        for item in self.items:
            self.plot.removeItem(item)
        self.items = []
        legend = self.plot.legend
        if legend is not None:
            legend.clear()

    def bars(self, x: Sequence[float], heights: Sequence[float], colours: Sequence[str], width: float,
             name: str | None = None) -> Any:
        fill: dict[str, Any] = ({"brush": pg.mkBrush(self.colour(colours[0]))} if len(set(colours)) == 1
                                else {"brushes": [pg.mkBrush(self.colour(c)) for c in colours]})  # one: the legend's
        item = pg.BarGraphItem(x=np.asarray(x, dtype=float), height=np.asarray(heights, dtype=float), width=width,
                               pen=pg.mkPen(None), name=name, **fill)
        self.plot.addItem(item)
        self.items.append(item)
        return item

    def line(self, x: Sequence[float], y: Sequence[float], colour: str, name: str | None = None,
             width: float = 2.0) -> Any:
        item = self.plot.plot(np.asarray(x, dtype=float), np.asarray(y, dtype=float),
                              pen=pg.mkPen(self.colour(colour), width=width), name=name)
        self.items.append(item)
        return item

    def label_ticks(self, labels: Sequence[tuple[float, str]]) -> None:
        self.plot.getAxis("bottom").setTicks([list(labels)])
