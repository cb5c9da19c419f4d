"""Error rate per hour over the last 24 h as a bar chart (pyqtgraph, imported when the chart is first built so the
window's start-up does not pay for it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

from cts_desktop.application.monitoring import HourBucket


class ErrorRateChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self._pg = pg
        self.plot = pg.PlotWidget()
        self.plot.setAccessibleName("Chart: errors per minute")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=False, y=True, alpha=0.25)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.errors: Any = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#e08a7a", pen=None, name="ERROR")
        self.criticals: Any = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#b3261e", pen=None, name="CRITICAL")
        self.plot.addItem(self.errors)
        self.plot.addItem(self.criticals)
        self.buckets: list[HourBucket] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.apply_palette()

    def apply_palette(self) -> None:
        """Background, axes, title and legend in the colours of the current theme (again on every theme change)."""
        palette = self.palette()
        background = palette.color(palette.ColorRole.Base)
        foreground = palette.color(palette.ColorRole.Text)
        self.plot.setBackground(background)
        self.plot.setTitle("Errors per hour, last 24 h (UTC)", color=foreground, size="10pt")
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen(foreground)
            self.plot.getAxis(axis).setPen(foreground)
        self.plot.setLabel("left", "records", color=foreground)
        self.legend.setLabelTextColor(foreground)
        self.colours = (background.name(), foreground.name())

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self.apply_palette()
        super().changeEvent(event)

    def show_buckets(self, buckets: list[HourBucket]) -> None:
        """Bars of ERROR+ (light) with the CRITICAL share on top of the same bar (dark)."""
        self.buckets = list(buckets)
        xs = list(range(len(buckets)))
        self.errors.setOpts(x=xs, height=[b.errors for b in buckets], width=0.8)
        self.criticals.setOpts(x=xs, height=[b.criticals for b in buckets], width=0.8)
        labels = [
            (i, datetime.fromtimestamp(b.start_ms / 1000, UTC).strftime("%H:00"))
            for i, b in enumerate(buckets)
            if i % 3 == 0 or i == len(buckets) - 1
        ]
        self.plot.getAxis("bottom").setTicks([labels])
        top = max((b.errors for b in buckets), default=0)
        self.plot.setXRange(-0.6, max(len(buckets), 1) - 0.4, padding=0)
        self.plot.setYRange(0, max(top * 1.15, 1), padding=0)
