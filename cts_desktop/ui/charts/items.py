"""pyqtgraph items that stay fast with 10,000+ bars (the vn.py chart idea): the x axis is the bar index, bars are
drawn into cached QPictures of ``CHUNK`` bars each, and ``paint`` replays only the chunks that overlap the visible
range. A live update of the last bar invalidates one chunk; appending a bar invalidates at most one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen, QPicture

CHUNK = 256


class ChunkedBarsItem(pg.GraphicsObject):  # type: ignore[misc]
    """Base: arrays per bar, pictures per chunk, bounding rect from the data."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self._pictures: dict[int, QPicture] = {}
        self._y_range = (0.0, 1.0)
        self.chunks_drawn = 0  # how many chunk pictures were (re)built: tests and the bench read it

    # subclasses: arrays and drawing -----------------------------------------------------------------------

    def _draw_chunk(self, painter: QPainter, start: int, stop: int) -> None:
        raise NotImplementedError

    def _y_bounds(self) -> tuple[float, float]:
        raise NotImplementedError

    # shared ---------------------------------------------------------------------------------------------------

    def invalidate(self, first_bar: int | None = None) -> None:
        """Forget the cached pictures from ``first_bar`` on (all when None) and schedule a repaint."""
        if first_bar is None:
            self._pictures.clear()
        else:
            for chunk in [c for c in self._pictures if c >= first_bar // CHUNK]:
                del self._pictures[chunk]
        old = self._y_range
        self._y_range = self._y_bounds() if self.n else (0.0, 1.0)
        if old != self._y_range or first_bar is None:
            self.prepareGeometryChange()
        self.update()

    def _picture(self, chunk: int) -> QPicture:
        picture = self._pictures.get(chunk)
        if picture is None:
            picture = QPicture()
            painter = QPainter(picture)
            self._draw_chunk(painter, chunk * CHUNK, min((chunk + 1) * CHUNK, self.n))
            painter.end()
            self._pictures[chunk] = picture
            self.chunks_drawn += 1
        return picture

    def paint(self, painter: QPainter, *_args: Any) -> None:
        if self.n == 0:
            return
        view = self.getViewBox()
        if view is not None:
            (x0, x1), _ = view.viewRange()
        else:
            x0, x1 = 0, self.n
        first = max(0, int(np.floor(x0)) // CHUNK)
        last = min((self.n - 1) // CHUNK, max(0, int(np.ceil(x1))) // CHUNK)
        for chunk in range(first, last + 1):
            painter.drawPicture(0, 0, self._picture(chunk))

    def boundingRect(self) -> QRectF:
        low, high = self._y_range
        return QRectF(-0.5, low, max(self.n, 1), max(high - low, 1e-12))


class CandleItem(ChunkedBarsItem):
    def __init__(self, up: str, down: str) -> None:
        super().__init__()
        self.up, self.down = QColor(up), QColor(down)
        self.o = self.h = self.l = self.c = np.empty(0)

    def set_data(self, o: np.ndarray, h: np.ndarray, low: np.ndarray, c: np.ndarray,
                 from_bar: int | None = None) -> None:
        """New arrays; ``from_bar`` = only bars from there on changed (a live tick or an appended bar)."""
        self.o, self.h, self.l, self.c = o, h, low, c
        self.n = len(c)
        self.invalidate(from_bar)

    def set_colours(self, up: str, down: str) -> None:
        self.up, self.down = QColor(up), QColor(down)
        self.invalidate()

    def _y_bounds(self) -> tuple[float, float]:
        return float(np.nanmin(self.l)), float(np.nanmax(self.h))

    def _draw_chunk(self, painter: QPainter, start: int, stop: int) -> None:
        for rising, colour in ((True, self.up), (False, self.down)):
            pen = QPen(colour)
            pen.setWidth(0)  # cosmetic: one pixel at any zoom
            painter.setPen(pen)
            painter.setBrush(QBrush(colour))
            o, c = self.o[start:stop], self.c[start:stop]
            idx = np.flatnonzero((c >= o) == rising)
            if idx.size == 0:
                continue
            xs = idx + start
            painter.drawLines([QLineF(float(x), float(self.l[x]), float(x), float(self.h[x])) for x in xs])
            for x in xs.tolist():
                top, bottom = self.o[x], self.c[x]
                height = bottom - top
                if height == 0:
                    painter.drawLine(QPointF(x - 0.35, top), QPointF(x + 0.35, top))
                else:
                    painter.drawRect(QRectF(x - 0.35, top, 0.7, height))


class VolumeItem(ChunkedBarsItem):
    def __init__(self, up: str, down: str) -> None:
        super().__init__()
        self.up, self.down = QColor(up), QColor(down)
        self.v = np.empty(0)
        self.rising = np.empty(0, dtype=bool)

    def set_data(self, volume: np.ndarray, rising: np.ndarray, from_bar: int | None = None) -> None:
        self.v, self.rising = volume, rising
        self.n = len(volume)
        self.invalidate(from_bar)

    def set_colours(self, up: str, down: str) -> None:
        self.up, self.down = QColor(up), QColor(down)
        self.invalidate()

    def _y_bounds(self) -> tuple[float, float]:
        return 0.0, float(np.nanmax(self.v)) if self.n else 1.0

    def _draw_chunk(self, painter: QPainter, start: int, stop: int) -> None:
        painter.setPen(pg.mkPen(None))
        for rising, colour in ((True, self.up), (False, self.down)):
            faded = QColor(colour)
            faded.setAlpha(150)
            painter.setBrush(QBrush(faded))
            for x in (np.flatnonzero(self.rising[start:stop] == rising) + start).tolist():
                painter.drawRect(QRectF(x - 0.35, 0.0, 0.7, float(self.v[x])))


class GridAxis(pg.AxisItem):  # type: ignore[misc]
    """An axis whose grid lines are opaque colours pre-mixed with the chart's background, drawn behind the data.

    Qt's raster engine draws a semi-transparent line through its slow blending path: pyqtgraph's grid (an alpha per
    tick level) cost ~5 ms per axis per repaint on a 1000-px pane, three quarters of a live tick's repaint. Mixed
    with the background beforehand the lines look the same and draw several times faster; stacked behind the
    ViewBox they no longer cross the candles.
    """

    BEHIND_VIEW = -200.0  # the ViewBox sits at z -100 in its PlotItem

    def __init__(self, *args: Any, background: str = "#000000", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.background = QColor(background)
        self._pens: dict[tuple[int, float], QPen] = {}

    def set_background(self, colour: str) -> None:
        self.background = QColor(colour)
        self._pens.clear()
        self.picture = None
        self.update()

    def generateDrawSpecs(self, p: QPainter) -> Any:
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis_spec, tick_specs, text_specs = specs
        return axis_spec, [(self.opaque(pen), a, b) for pen, a, b in tick_specs], text_specs

    def opaque(self, pen: QPen) -> QPen:
        """``pen`` with its colour mixed over the background (alpha 255); pens already opaque are kept."""
        colour = pen.color()
        if colour.alpha() == 255 or pen.brush().style() != Qt.BrushStyle.SolidPattern:
            return pen
        key = (colour.rgba(), pen.widthF())
        cached = self._pens.get(key)
        if cached is None:
            a, bg = colour.alphaF(), self.background
            mixed = QColor.fromRgbF(*(c * a + b * (1 - a) for c, b in zip(colour.getRgbF()[:3], bg.getRgbF()[:3],
                                                                          strict=True)))
            cached = QPen(pen)
            cached.setColor(mixed)
            self._pens[key] = cached
        return cached


class IndexAxis(GridAxis):
    """Bottom axis of a bar-index chart: ticks show the bar's open time (UTC)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ts = np.empty(0, dtype=np.int64)
        self.step_ms = 60_000

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        import time as _time

        out = []
        n = len(self.ts)
        for value in values:
            i = round(value)
            if n == 0 or i < 0 or i >= n + 1000:
                out.append("")
                continue
            ts = int(self.ts[i]) if i < n else int(self.ts[-1]) + (i - n + 1) * self.step_ms
            fmt = "%H:%M" if spacing * self.step_ms < 86_400_000 else "%m-%d"
            out.append(_time.strftime(fmt, _time.gmtime(ts / 1000)))
        return out
