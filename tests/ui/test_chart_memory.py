"""The chart's overlay stays flat for a window left open for weeks: the pseudo markers of a full set book are read
with a few MB of temporaries (they took tens of MB a call, every five seconds, in a worker thread whose arena glibc
kept), and hours of overlays reuse the same marker styles instead of growing pyqtgraph's symbol atlas."""

from __future__ import annotations

import tracemalloc

import numpy as np

from cts_desktop.application.dashboard_data import ChartOverlay, Marker, pseudo_markers
from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.book_layout import T_CLOSE
from cts_desktop.domain.exits import ExitParams
from cts_desktop.domain.matrix import build_matrix

MB = 1024 * 1024
START_S = 1_699_999_980  # the book's first close (epoch seconds, on a minute)


def full_book(variants: int = 100, seed: int = 7) -> SetBook:
    """A book of ``variants`` × 36 sets whose rings hold random results closed over five days (up to capacity)."""
    book = SetBook(build_matrix(tp_values=(2.0, 6.0, 14.0), sl_values=(0.3, 1.0, 2.0)),
                   BookParams(ExitParams(pc=0.001, fee=0.00055, timeout_s=4 * 3600.0), history=250))
    for v in range(variants):
        book.add_variant(("direction", (2.0 + v,), 1 if v % 2 else -1))
    rng = np.random.default_rng(seed)
    n, cap = len(book), book.params.capacity
    ring_t = np.zeros((n, cap, 2), dtype=np.uint32)
    ring_t[:, :, T_CLOSE] = START_S + rng.integers(0, 5 * 86_400 // 60, size=(n, cap)) * 60
    count = rng.integers(0, cap + 1, size=n)
    ring_t[np.arange(cap)[None, :] >= count[:, None]] = 0  # never written past count
    book.ring_t[:] = ring_t
    book.count[:] = count
    return book


def dense_exits(book: SetBook, since_s: int) -> dict[tuple[int, str], int]:
    """The oracle: every stored close from the whole dense rings, counted per (second, side)."""
    closes = np.asarray(book.ring_t)[:, :, T_CLOSE].astype(np.int64)
    out: dict[tuple[int, str], int] = {}
    for s in range(len(book)):
        side = "long" if book.direction[s] > 0 else "short"
        for t in closes[s, : int(book.count[s])].tolist():
            if t >= since_s:
                out[(t * 1000, side)] = out.get((t * 1000, side), 0) + 1
    return out


def test_pseudo_exit_markers_equal_the_dense_rings_and_take_a_few_megabytes() -> None:
    book = full_book(variants=300)
    dense_mb = len(book) * book.params.capacity * 8 / MB  # the closes widened to int64, as they were read
    since_s = START_S + 2 * 86_400
    tracemalloc.start()
    try:
        markers = pseudo_markers(book, since_s * 1000, limit=10**9)
        peak = tracemalloc.get_traced_memory()[1] / MB
    finally:
        tracemalloc.stop()
    exits = {(m.ts_ms, m.side): m.count for m in markers if m.kind == "pseudo_exit"}
    assert exits == dense_exits(book, since_s)
    assert sum(exits.values()) > 100_000
    assert dense_mb > 20
    assert peak < 8, f"peak {peak:.1f} MB of temporaries (the dense rings alone: {dense_mb:.1f} MB)"


def test_an_empty_book_and_nothing_since_give_no_exit_markers() -> None:
    book = full_book(variants=2)
    assert [m for m in pseudo_markers(book, (START_S + 6 * 86_400) * 1000) if m.kind == "pseudo_exit"] == []
    book.count[:] = 0
    assert pseudo_markers(book, 0) == []


def test_hours_of_overlays_keep_the_marker_atlas_small(chart, qtbot) -> None:  # type: ignore[no-untyped-def]
    """A day of overlays at the panel's cadence (every 5 s; here every call moves the markers on): the symbol atlas
    of every marker kind holds the styles of one overlay, not one copy per overlay drawn."""
    from cts_desktop.application.dashboard_data import CandleSeries
    from tests.ui.conftest import save_screenshot

    n = 600
    ts = START_S * 1000 + np.arange(n, dtype=np.int64) * 60_000
    close = 100 + np.cumsum(np.random.default_rng(3).normal(0, 0.2, n))
    chart.set_series(CandleSeries("BTC/USDT:USDT", "1m", ts, close, close + 0.3, close - 0.3, close, np.ones(n)))
    largest = dict.fromkeys(chart.markers, 0)
    for call in range(400):
        bars = (np.arange(40) * 7 + call) % n
        markers = [Marker("pseudo_entry", int(ts[b]), float(close[b]), "long" if b % 2 else "short",
                          1 + 37 * i + call)  # how many sets entered moves from one overlay to the next
                   for i, b in enumerate(bars[:20])]
        markers += [Marker("pseudo_exit", int(ts[b]), float("nan"), "short", 3) for b in bars[20:]]
        markers += [Marker("real_entry", int(ts[bars[0]]), float(close[bars[0]]), "long"),
                    Marker("real_exit", int(ts[bars[5]]), float(close[bars[5]]), "long")]
        chart.set_overlay(ChartOverlay(markers, [("TP #1 long", float(close[-1]) + 1)]))
        for kind, item in chart.markers.items():
            largest[kind] = max(largest[kind], len(item.fragmentAtlas))
    qtbot.waitUntil(lambda: len(chart.markers["pseudo_exit"].data) == 20)
    # one picture per symbol and size (sizes in half pixels from 5 to 11 px: 13), brush and pen kept per theme
    assert largest["pseudo_entry"] <= 26, largest
    assert largest["pseudo_exit"] == largest["real_entry"] == largest["real_exit"] == 1, largest
    save_screenshot(chart, "chart-markers-dark")


def test_weeks_of_live_bars_keep_the_chart_bounded_and_following(chart) -> None:  # type: ignore[no-untyped-def]
    """Two days of one-minute live prices on a chart that keeps at most 1,500 bars: the oldest are dropped, the
    newest bar is the last price's, the view still follows it and a marker lands on its moved bar."""
    from cts_desktop.application.dashboard_data import CandleSeries
    from cts_desktop.ui.charts.chart import DROP_BARS

    n = 600
    ts = START_S * 1000 + np.arange(n, dtype=np.int64) * 60_000
    close = 100 + np.cumsum(np.random.default_rng(5).normal(0, 0.2, n))
    chart.set_series(CandleSeries("BTC/USDT:USDT", "1m", ts, close, close + 0.3, close - 0.3, close, np.ones(n)))
    chart.max_bars = 1_500
    last_ts = int(ts[-1])
    marker_ts = last_ts + 1_890 * 60_000
    drops = 0
    for minute in range(1, 2 * 1440 + 1):
        price = 100 + (minute % 37) * 0.1
        before = chart.n
        chart.on_price(price, last_ts + minute * 60_000)
        if minute == 1_900:
            chart.set_overlay(ChartOverlay([Marker("real_entry", marker_ts, price, "long")], []))
            index = chart.index_of(marker_ts)
        drops += chart.n < before
    assert drops == 2  # at 1,500 bars: the second after the marker was placed
    assert chart.max_bars - DROP_BARS <= chart.n <= chart.max_bars
    assert chart._cap <= 2 * chart.max_bars
    assert int(chart.ts[chart.n - 1]) == last_ts + 2 * 1440 * 60_000 and chart.c[chart.n - 1] == 100 + (2880 % 37) * 0.1
    assert np.all(np.diff(chart.ts[: chart.n]) == 60_000)  # the kept bars are the newest, in order
    (x0, x1), _ = chart.price.getViewBox().viewRange()
    assert chart.follow and x0 < chart.n - 1 <= x1
    spot = chart.markers["real_entry"].data[0]
    assert spot["x"] == chart.index_of(marker_ts) == index - DROP_BARS  # the marker moved with its bar
