"""The candlestick chart: price pane and volume pane on one bar-index x axis, entry/exit markers of Real and pseudo
positions, TP/SL lines of open Real positions, a crosshair with the bar's values, and live updates.

Live prices extend the last bar (or open a new one when the timeframe rolls over); only the last chunk of the
cached bar pictures is rebuilt. While the newest bar is in view the chart follows it. The y range follows the
visible bars (min low … max high), so zooming into a quiet hour still shows its moves. A window left open for weeks
adds 1,440 one-minute bars a day: past ``max_bars`` the oldest are dropped, a thousand at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from cts_desktop.application.dashboard import TIMEFRAME_MS, CandleSeries, ChartOverlay
from cts_desktop.ui.charts.items import CandleItem, GridAxis, IndexAxis, VolumeItem

VISIBLE_BARS = 160
MAX_BARS = 20_000  # live bars past this (or twice the loaded series) drop the oldest: the window runs for weeks
DROP_BARS = 1_024  # dropped at once, so the arrays move once per ~17 hours of one-minute bars, not every bar
THEMES = {
    "dark": {"bg": "#16191d", "fg": "#c9ced6", "grid": 0.12, "up": "#26a69a", "down": "#ef5350",
             "cross": "#8b93a1", "tp": "#2e9d57", "sl": "#d64541", "pseudo": "#b39ddb"},
    "light": {"bg": "#ffffff", "fg": "#30343b", "grid": 0.18, "up": "#1b8a5a", "down": "#d0363b",
              "cross": "#7a8391", "tp": "#1b8a5a", "sl": "#c62828", "pseudo": "#7e57c2"},
}


def marker_styles(colours: dict[str, Any]) -> dict[str, Any]:
    """The markers' brushes and pens of one theme, made once: pyqtgraph's symbol atlas keys each marker picture by
    the identity of its brush and pen objects, so a brush made per overlay (every 5 s) added pictures to the atlas
    until it was rebuilt (at 1,000 entries and four per spot)."""
    return {"up": pg.mkBrush(colours["up"]), "down": pg.mkBrush(colours["down"]), "fg": pg.mkBrush(colours["fg"]),
            "fg_pen": pg.mkPen(colours["fg"]), "no_pen": pg.mkPen(None),
            "pseudo_entry": pg.mkBrush(colours["pseudo"] + "cc"), "pseudo_exit": pg.mkBrush(colours["pseudo"] + "99")}


def marker_sizes(counts: np.ndarray) -> np.ndarray:
    """A pseudo entry marker's size by how many sets entered (5 px for one, 11 px at most), in half pixels: a size
    is part of a marker picture's key in the atlas, so sizes from a continuous scale would each add a picture."""
    return np.round(np.minimum(5 + 2 * np.log10(np.maximum(counts, 1)), 11) * 2) / 2


class CandleChart(QWidget):
    def __init__(self, theme: str = "dark", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colours = THEMES.get(theme, THEMES["dark"])
        self.series: CandleSeries | None = None
        self.n = 0
        self._cap = 0
        self.max_bars = MAX_BARS
        self.ts = np.empty(0, dtype=np.int64)
        self.o = self.h = self.l = self.c = self.v = np.empty(0)
        self.step_ms = 60_000
        self.follow = True
        self.info = QLabel("")
        self.info.setObjectName("chartInfo")
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setAccessibleName("Price chart (candles and volume)")
        self.axis = IndexAxis(orientation="bottom")
        price_axes = {"right": GridAxis("right"), "bottom": GridAxis("bottom")}
        volume_axes = {"right": GridAxis("right"), "bottom": self.axis}
        self.grid_axes: list[GridAxis] = [*price_axes.values(), *volume_axes.values()]
        self.price = self.view.addPlot(row=0, col=0, axisItems=price_axes)
        self.volume_plot = self.view.addPlot(row=1, col=0, axisItems=volume_axes)
        self.view.ci.layout.setRowStretchFactor(0, 4)
        self.view.ci.layout.setRowStretchFactor(1, 1)
        time_lines = self.price.getAxis("bottom")  # the price pane's vertical grid lines, without a second scale
        time_lines.setStyle(showValues=False, tickLength=0)
        time_lines.setHeight(0)
        self.volume_plot.setXLink(self.price)
        for plot in (self.price, self.volume_plot):
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.showAxis("right")
            plot.hideAxis("left")
            plot.getViewBox().setMouseEnabled(x=True, y=False)
            plot.getAxis("right").setWidth(72)  # same width in both panes keeps the bars aligned
        for axis in self.grid_axes:
            axis.setZValue(GridAxis.BEHIND_VIEW)
        self.candles = CandleItem(self.colours["up"], self.colours["down"])
        self.volumes = VolumeItem(self.colours["up"], self.colours["down"])
        self.price.addItem(self.candles)
        self.volume_plot.addItem(self.volumes)
        self.markers: dict[str, Any] = {}
        for kind in ("pseudo_entry", "pseudo_exit", "real_entry", "real_exit"):
            item = pg.ScatterPlotItem(pxMode=True)
            item.setZValue(5 if kind.startswith("real") else 4)
            self.price.addItem(item)
            self.markers[kind] = item
        self.level_lines: list[Any] = []
        self._styles: dict[str, Any] = {}  # the markers' brushes and pens of the theme (see marker_styles)
        self._overlay: ChartOverlay | None = None  # the overlay shown, on _overlay_bars bars
        self._overlay_bars = 0
        self.v_line = pg.InfiniteLine(angle=90, movable=False)
        self.h_line = pg.InfiniteLine(angle=0, movable=False)
        self.v_line_volume = pg.InfiniteLine(angle=90, movable=False)
        for line, plot in ((self.v_line, self.price), (self.h_line, self.price),
                           (self.v_line_volume, self.volume_plot)):
            line.setZValue(10)
            plot.addItem(line, ignoreBounds=True)
        self.price.getViewBox().sigXRangeChanged.connect(self._x_range_changed)
        self.view.scene().sigMouseMoved.connect(self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.info)
        layout.addWidget(self.view, 1)
        self.apply_theme(theme)

    # --- theme ------------------------------------------------------------------------------------------------

    def apply_theme(self, theme: str) -> None:
        self.colours = colours = THEMES.get(theme, THEMES["dark"])
        self.view.setBackground(colours["bg"])
        for plot in (self.price, self.volume_plot):
            plot.showGrid(x=True, y=True, alpha=colours["grid"])
        for axis in self.grid_axes:
            axis.set_background(colours["bg"])
            axis.setTextPen(colours["fg"])
            axis.setPen(colours["fg"])
        cross = pg.mkPen(colours["cross"], style=Qt.PenStyle.DashLine, width=1)
        for line in (self.v_line, self.h_line, self.v_line_volume):
            line.setPen(cross)
        self.candles.set_colours(colours["up"], colours["down"])
        self.volumes.set_colours(colours["up"], colours["down"])
        self._styles = marker_styles(colours)
        overlay, self._overlay = self._overlay, None
        if overlay is not None:
            self.set_overlay(overlay)  # the markers in this theme's colours

    # --- data -------------------------------------------------------------------------------------------------

    def set_series(self, series: CandleSeries) -> None:
        """Show ``series`` (oldest first), the newest ``VISIBLE_BARS`` bars in view."""
        self.series = series
        self._overlay = None  # markers are placed by bar: the next overlay is drawn even when equal
        self.step_ms = TIMEFRAME_MS.get(series.timeframe, 60_000)
        n = len(series)
        self._cap = max(1024, int(n * 1.25))
        self.max_bars = max(MAX_BARS, 2 * n)
        self.ts = np.zeros(self._cap, dtype=np.int64)
        self.o, self.h, self.l, self.c, self.v = (np.zeros(self._cap) for _ in range(5))
        self.ts[:n], self.o[:n], self.h[:n] = series.ts, series.open, series.high
        self.l[:n], self.c[:n], self.v[:n] = series.low, series.close, series.volume
        self.n = n
        self.axis.step_ms = self.step_ms
        self._push(None)
        self.follow = True
        self.show_last(VISIBLE_BARS)
        self.info.setText(f"{series.symbol} · {series.timeframe} · {n:,} bars" if n else
                          f"{series.symbol} · {series.timeframe} · no candles stored yet")

    def _push(self, from_bar: int | None) -> None:
        n = self.n
        self.axis.ts = self.ts[:n]
        self.candles.set_data(self.o[:n], self.h[:n], self.l[:n], self.c[:n], from_bar)
        self.volumes.set_data(self.v[:n], self.c[:n] >= self.o[:n], from_bar)

    def show_last(self, bars: int) -> None:
        if self.n:
            self.price.setXRange(self.n - bars, self.n + 2, padding=0)

    def on_price(self, price: float, ts_ms: int) -> None:
        """A live price: extend the last bar, or open the next one when the timeframe rolled over."""
        if self.series is None:
            return
        bar = ts_ms // self.step_ms * self.step_ms
        n = self.n
        if n and bar < self.ts[n - 1]:
            return  # older than the last bar: already in the stored candles
        if n and bar == self.ts[n - 1]:
            i = n - 1
            self.h[i] = max(self.h[i], price)
            self.l[i] = min(self.l[i], price)
            self.c[i] = price
        else:
            if n >= self.max_bars:
                self._drop_oldest(min(n, DROP_BARS + n - self.max_bars))
                n = self.n
            if n == self._cap:
                self._grow()
            i = n
            self.ts[i], self.o[i], self.h[i], self.l[i], self.c[i], self.v[i] = bar, price, price, price, price, 0
            self.n = n + 1
        self._push(i)
        if self.follow and self.n != n:
            (x0, x1), _ = self.price.getViewBox().viewRange()
            self.price.setXRange(x0 + 1, x1 + 1, padding=0)
        elif self.follow:
            self._fit_y()

    def _grow(self) -> None:
        self._cap *= 2
        for name in ("ts", "o", "h", "l", "c", "v"):
            old = getattr(self, name)
            new = np.zeros(self._cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, name, new)

    def _drop_oldest(self, k: int) -> None:
        """Forget the oldest ``k`` bars: the bars, the view and the markers move ``k`` to the left."""
        n = self.n - k
        for name in ("ts", "o", "h", "l", "c", "v"):
            array = getattr(self, name)
            array[:n] = array[k : self.n]
        self.n = n
        self._push(None)
        (x0, x1), _ = self.price.getViewBox().viewRange()
        self.price.setXRange(x0 - k, x1 - k, padding=0)
        overlay, self._overlay = self._overlay, None
        if overlay is not None:
            self.set_overlay(overlay)  # placed by bar: again on the moved bars

    def index_of(self, ts_ms: int) -> int:
        """The bar containing ``ts_ms`` (the last bar whose open is ≤ it)."""
        return int(np.searchsorted(self.ts[: self.n], ts_ms, side="right")) - 1

    def set_overlay(self, overlay: ChartOverlay) -> None:
        """Markers (entries/exits of Real and pseudo positions) and the TP/SL lines of open Real positions.

        Each kind's markers go to pyqtgraph as arrays (positions, sizes, a symbol and brush per side): a list of one
        dict per spot took ~20 µs a spot, a tenth of a second for a day of pseudo markers every few seconds. An
        overlay equal to the one shown is not drawn again."""
        if overlay == self._overlay and self._overlay_bars == self.n:
            return
        self._overlay, self._overlay_bars = overlay, self.n
        colours, styles = self.colours, self._styles
        markers = overlay.markers
        bars = np.searchsorted(self.ts[: self.n], np.array([m.ts_ms for m in markers], dtype=np.int64),
                               side="right") - 1  # each marker's bar (see index_of), all at once
        prices = np.array([m.price for m in markers], dtype=float)
        inside = (bars >= 0) & (bars < self.n)
        prices[inside] = np.where(np.isfinite(prices[inside]), prices[inside], self.c[bars[inside]])
        kinds = np.array([m.kind for m in markers], dtype=object)
        long = np.array([m.side == "long" for m in markers], dtype=bool)
        for kind, item in self.markers.items():
            chosen = np.flatnonzero(inside & (kinds == kind)) if markers else np.empty(0, dtype=np.int64)
            up = long[chosen]
            if kind == "real_entry":
                symbols: Any = np.where(up, "t1", "t").tolist()
                brushes: Any = [styles["up"] if u else styles["down"] for u in up.tolist()]
                sizes: Any = 13
                pen: Any = styles["fg_pen"]
            elif kind == "real_exit":
                symbols, brushes, sizes, pen = "x", styles["fg"], 13, styles["fg_pen"]
            elif kind == "pseudo_entry":
                symbols, brushes, pen = np.where(up, "t1", "t").tolist(), styles["pseudo_entry"], styles["no_pen"]
                counts = np.array([markers[i].count for i in chosen.tolist()], dtype=float)
                sizes = marker_sizes(counts)
            else:
                symbols, brushes, sizes, pen = "s", styles["pseudo_exit"], 4, styles["no_pen"]
            data = np.empty(len(chosen), dtype=object)
            data[:] = [markers[i] for i in chosen.tolist()]
            item.setData(x=bars[chosen].astype(float), y=prices[chosen], symbol=symbols, size=sizes, brush=brushes,
                         pen=pen, data=data)
        for line in self.level_lines:
            self.price.removeItem(line)
        self.level_lines = []
        for name, level in overlay.levels:
            colour = colours["tp"] if name.startswith("TP") else colours["sl"]
            line = pg.InfiniteLine(pos=level, angle=0, movable=False,
                                   pen=pg.mkPen(colour, style=Qt.PenStyle.DashLine, width=1),
                                   label=f"{name} {level:g}",
                                   labelOpts={"position": 0.05, "color": colour, "anchors": [(0, 1), (0, 1)]})
            self.price.addItem(line, ignoreBounds=True)
            self.level_lines.append(line)

    # --- view -------------------------------------------------------------------------------------------------

    def _x_range_changed(self, _view: Any, x_range: tuple[float, float]) -> None:
        x0, x1 = x_range
        self.follow = self.n == 0 or x1 >= self.n - 1
        self._fit_y(x0, x1)

    def _fit_y(self, x0: float | None = None, x1: float | None = None) -> None:
        if self.n == 0:
            return
        if x0 is None or x1 is None:
            (x0, x1), _ = self.price.getViewBox().viewRange()
        a = max(0, int(np.floor(x0)))
        b = min(self.n, int(np.ceil(x1)) + 1)
        if b <= a:
            return
        low, high = float(self.l[a:b].min()), float(self.h[a:b].max())
        pad = (high - low) * 0.06 or abs(high) * 0.001 or 1.0
        self.price.setYRange(low - pad, high + pad, padding=0)
        top = float(self.v[a:b].max())
        self.volume_plot.setYRange(0, top * 1.1 if top > 0 else 1.0, padding=0)

    def _mouse_moved(self, pos: QPointF) -> None:
        if self.n == 0 or (not self.price.sceneBoundingRect().contains(pos) and \
                not self.volume_plot.sceneBoundingRect().contains(pos)):
            return
        point = self.price.getViewBox().mapSceneToView(pos)
        i = round(point.x())
        if not 0 <= i < self.n:
            return
        self.v_line.setPos(i)
        self.v_line_volume.setPos(i)
        self.h_line.setPos(point.y())
        self.info.setText(self.bar_text(i))

    def bar_text(self, i: int) -> str:
        import time as _time

        stamp = _time.strftime("%Y-%m-%d %H:%M", _time.gmtime(int(self.ts[i]) / 1000))
        symbol = self.series.symbol if self.series is not None else ""
        change = (self.c[i] - self.o[i]) / self.o[i] * 100 if self.o[i] else 0.0
        return (f"{symbol}  {stamp} UTC   O {self.o[i]:g}  H {self.h[i]:g}  L {self.l[i]:g}  C {self.c[i]:g}  "
                f"({change:+.2f} %)  V {self.v[i]:,.2f}")
