"""The candlestick chart on 10,000 real 5-minute Bybit candles: only visible chunks are drawn, a live tick rebuilds one
chunk, the y range follows the visible bars, markers land on their bars, the crosshair shows the bar's values,
and 1-minute candles resample to higher timeframes exactly."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from cts_desktop.application.dashboard_data import CandleSeries, ChartOverlay, Marker, resample

DATA = Path(__file__).resolve().parents[1] / "data"


def load(name: str) -> np.ndarray:
    return np.loadtxt(DATA / name, delimiter=",", skiprows=1)


def series_10k() -> CandleSeries:
    d = load("bybit_BTCUSDT-PERP_5m_last10000.csv.gz")
    return CandleSeries("BTC/USDT:USDT", "5m", d[:, 0].astype(np.int64), d[:, 1], d[:, 2], d[:, 3], d[:, 4], d[:, 5])


def test_ten_thousand_candles_draw_only_visible_chunks(chart) -> None:  # type: ignore[no-untyped-def]
    from cts_desktop.ui.charts.items import CHUNK

    series = series_10k()
    assert len(series) == 10_000
    chart.set_series(series)
    started = time.perf_counter()
    chart.grab()
    visible_ms = (time.perf_counter() - started) * 1000
    (x0, x1), (y0, y1) = chart.price.getViewBox().viewRange()
    assert x1 - x0 == pytest.approx(162, abs=1)
    assert chart.candles.chunks_drawn <= 2  # 160 bars span at most two chunks of CHUNK bars
    # y follows the visible bars, not the 10,000
    a, b = int(np.floor(x0)), 10_000
    assert y0 < series.low[a:b].min() and y1 > series.high[a:b].max()
    assert y1 - y0 < (series.high.max() - series.low.min()) / 2
    # the whole range builds every chunk once; a second paint reuses them
    chart.price.setXRange(0, 10_000, padding=0)
    chart.grab()
    assert chart.candles.chunks_drawn == -(-10_000 // CHUNK)
    before = chart.candles.chunks_drawn
    chart.grab()
    assert chart.candles.chunks_drawn == before
    assert visible_ms < 1000


def test_live_tick_updates_the_last_bar_and_rebuilds_one_chunk(chart) -> None:  # type: ignore[no-untyped-def]
    series = series_10k()
    chart.set_series(series)
    chart.grab()
    drawn = chart.candles.chunks_drawn
    last_ts = int(series.ts[-1])
    high = float(series.high[-1])
    chart.on_price(high + 50.0, last_ts + 1000)
    chart.grab()
    assert chart.n == 10_000
    assert chart.h[9_999] == high + 50.0 and chart.c[9_999] == high + 50.0
    assert chart.candles.chunks_drawn == drawn + 1
    (_, x1_before), _ = chart.price.getViewBox().viewRange()
    chart.on_price(high, last_ts + 300_000 + 5)  # next 5-minute bar opens
    assert chart.n == 10_001 and chart.ts[10_000] == last_ts + 300_000
    assert chart.o[10_000] == chart.c[10_000] == high
    (_, x1_after), _ = chart.price.getViewBox().viewRange()
    assert x1_after == pytest.approx(x1_before + 1)  # follows the newest bar
    chart.on_price(1.0, last_ts - 600_000)  # older than the last bar: ignored
    assert chart.n == 10_001 and chart.l[:10_001].min() > 1.0


def test_markers_levels_and_crosshair(chart) -> None:  # type: ignore[no-untyped-def]
    series = series_10k()
    chart.set_series(series)
    i_entry, i_exit = 9_950, 9_990
    overlay = ChartOverlay(
        markers=[Marker("real_entry", int(series.ts[i_entry]) + 60_000, 66_000.0, "long"),
                 Marker("real_exit", int(series.ts[i_exit]) + 299_999, 66_100.0, "long"),
                 Marker("pseudo_entry", int(series.ts[i_entry]), 65_950.0, "short", 300),
                 Marker("pseudo_exit", int(series.ts[i_exit]), float("nan"), "short", 12),
                 Marker("real_entry", int(series.ts[0]) - 10_000_000, 1.0, "long")],  # before the data: dropped
        levels=[("TP #1 long", 66_500.0), ("SL #1 long", 65_500.0)],
    )
    chart.set_overlay(overlay)
    entry = chart.markers["real_entry"].data
    assert len(entry) == 1 and entry[0]["x"] == i_entry and entry[0]["y"] == 66_000.0
    assert chart.markers["real_exit"].data[0]["x"] == i_exit
    exit_spot = chart.markers["pseudo_exit"].data[0]
    assert exit_spot["x"] == i_exit and exit_spot["y"] == series.close[i_exit]  # no price kept: the bar's close
    assert [line.value() for line in chart.level_lines] == [66_500.0, 65_500.0]
    chart.set_overlay(ChartOverlay())
    assert chart.level_lines == [] and len(chart.markers["real_entry"].data) == 0
    # crosshair: a mouse position over bar i shows bar i's values
    chart.grab()
    i = 9_980
    y = float(series.close[i])
    scene = chart.price.getViewBox().mapViewToScene(QPointF(i, y))
    chart._mouse_moved(scene)
    text = chart.info.text()
    assert chart.v_line.value() == i
    for value in (series.open[i], series.high[i], series.low[i], series.close[i]):
        assert f"{value:g}" in text


def test_grid_lines_are_opaque_background_mixes_drawn_behind_the_bars(chart) -> None:  # type: ignore[no-untyped-def]
    """pyqtgraph draws its grid semi-transparent, which Qt blends slowly (3/4 of a live tick's repaint); the chart's
    axes draw the same colours pre-mixed with the background, behind the ViewBox so no line crosses a candle."""
    from PySide6.QtGui import QColor, QImage, QPainter, QPen

    from cts_desktop.ui.charts.chart import THEMES

    chart.set_series(series_10k())
    chart.grab()
    background = QColor(THEMES["dark"]["bg"])
    for axis in chart.grid_axes:
        image = QImage(8, 8, QImage.Format.Format_ARGB32)
        painter = QPainter(image)
        _, ticks, _ = axis.generateDrawSpecs(painter)
        painter.end()
        assert len(ticks) > 3, axis.orientation
        assert all(pen.color().alpha() == 255 for pen, _, _ in ticks)
        assert axis.zValue() < chart.price.getViewBox().zValue()
    # a colour drawn at alpha a over the background looks like the mix the axis uses instead
    axis = chart.grid_axes[0]
    faint = QColor(THEMES["dark"]["fg"])
    faint.setAlpha(40)
    mixed = axis.opaque(QPen(faint)).color()
    a = 40 / 255
    for got, fg, bg in zip(mixed.getRgbF()[:3], faint.getRgbF()[:3], background.getRgbF()[:3], strict=True):
        assert got == pytest.approx(fg * a + bg * (1 - a), abs=1 / 255)
    chart.apply_theme("light")
    assert axis.opaque(QPen(faint)).color() != mixed  # mixed with the light background now


def test_resample_matches_a_bar_by_bar_oracle() -> None:
    d = load("bybit_BTCUSDT-PERP_1m_20221213.csv")
    rows = [tuple(r) for r in d]
    out = resample(rows, "BTC/USDT:USDT", "15m")
    step = 900_000
    expected: dict[int, list[tuple[float, ...]]] = {}
    for r in rows:
        expected.setdefault(int(r[0]) // step * step, []).append(r)
    assert list(out.ts) == sorted(expected)
    for k, ts in enumerate(out.ts.tolist()):
        group = expected[ts]
        assert out.open[k] == group[0][1] and out.close[k] == group[-1][4]
        assert out.high[k] == max(g[2] for g in group) and out.low[k] == min(g[3] for g in group)
        assert out.volume[k] == pytest.approx(sum(g[5] for g in group))
    same = resample(rows, "BTC/USDT:USDT", "1m")
    assert len(same) == len(rows) and same.close[-1] == rows[-1][4]
    assert len(resample([], "X", "1h")) == 0
