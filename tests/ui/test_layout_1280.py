"""A layout that fits (issue 19): at 1280×720 every tab and every page inside it shows its texts whole — no label,
button, check box, combo item, placeholder, spin box value, tab or column title cut off, no panel squeezed below
what its content needs — and the window stays 1280×720 whichever tab is shown. Screenshots of each main tab at
that size in both themes (tests/artifacts/screenshots/<tab>-1280-<theme>.png).

Fonts with the glyphs they show: an exchange name ccxt writes with a character the font lacks (Binance USDⓈ-M)
is listed, searched and named with one it has."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QFontMetrics

from cts_desktop.application.connection_data import ExchangeChoice
from cts_desktop.services import Services
from cts_desktop.storage.models import Connection
from cts_desktop.ui.connection_add_dialog import ExchangePickerDialog
from cts_desktop.ui.glyphs import drawable
from tests.ui.conftest import open_window, save_screenshot
from tests.ui.widget_audit import clipped_texts, each_view, settle, squeezed_panels

WIDTH, HEIGHT = 1280, 720


@pytest.mark.asyncio(loop_factories=["qasync"])
async def test_every_view_fits_1280_by_720(services: Services) -> None:
    with services.db.session() as s:  # the names every connection list and filter then shows
        s.add(Connection(id="c1", name="Bybit X03", exchange="bybit", kind="predefined"))
        s.add(Connection(id="c2", name="BingX X01", exchange="bingx", kind="predefined"))
        s.add(Connection(id="c3", name="Binance USDS-M", exchange="binanceusdm", kind="generic"))
    gui = open_window(services)
    window = gui.window
    problems: list[str] = []
    views = 0
    try:
        window.resize(WIDTH, HEIGHT)
        settle()
        async for path in each_view(window):
            views += 1
            where = " › ".join(path)
            if (window.width(), window.height()) != (WIDTH, HEIGHT):
                problems.append(f"{where}: the window grew to {window.width()}×{window.height()}")
            problems += [f"{where}: {p}" for p in clipped_texts(window, window)]
            problems += [f"{where}: {p}" for p in squeezed_panels(window.tabs.currentWidget(), window)]
        for theme in ("light", "dark"):
            window.theme_actions[theme].trigger()
            for index in range(window.tabs.count()):
                window.tabs.setCurrentIndex(index)
                await window.refresh_current()
                settle()
                save_screenshot(window, f"{window.tabs.tabText(index).replace('&', '').lower()}-1280-{theme}")
        window.theme_actions["system"].trigger()
    finally:
        await gui.shutdown()
    assert views >= 20, f"only {views} views walked"  # 7 tabs, Settings' 6 pages, Monitoring's 6, ...
    assert not problems, "\n".join(problems)


@pytest.mark.asyncio(loop_factories=["qasync"])
async def test_the_first_run_guide_leaves_the_dashboard_room_at_1280_by_720(services: Services) -> None:
    """On a first start the guide stands above the tabs: its text scrolls within a bounded height, so the Dashboard
    below it is not squeezed either."""
    gui = open_window(services)
    window = gui.window
    try:
        window.resize(WIDTH, HEIGHT)
        window.guide.reopen()
        settle()
        assert window.guide.isVisible() and window.guide.height() <= 200
        window.tabs.setCurrentIndex(0)
        await window.refresh_current()
        settle()
        problems = clipped_texts(window, window) + squeezed_panels(window.tabs.currentWidget(), window)
        assert (window.width(), window.height()) == (WIDTH, HEIGHT)
        save_screenshot(window, "first-run-1280-light")
    finally:
        await gui.shutdown()
    assert not problems, "\n".join(problems)


def test_exchange_names_are_drawn_with_glyphs_the_font_has(qapp: object) -> None:
    dialog = ExchangePickerDialog(set())
    ccxt_name = "Binance USD\N{CIRCLED LATIN CAPITAL LETTER S}-M"  # as ccxt names binanceusdm
    dialog.set_exchanges([ExchangeChoice(id="binanceusdm", name=ccxt_name, required=("apiKey", "secret"),
                                         testnet=True)])
    metrics = QFontMetrics(dialog.list.font())
    shown = dialog.list.item(0).text()
    assert all(char.isspace() or metrics.inFontUcs4(ord(char)) for char in shown), shown
    assert shown.startswith("Binance USD") and "-M" in shown
    dialog.select("binanceusdm")
    assert all(char.isspace() or QFontMetrics(dialog.name.font()).inFontUcs4(ord(char))
               for char in dialog.name.text())
    if not metrics.inFontUcs4(ord("\N{CIRCLED LATIN CAPITAL LETTER S}")):  # this machine's font lacks it
        assert shown.startswith("Binance USDS-M")
        assert dialog.name.text() == "Binance USDS-M"
        dialog.search.setText("usds-m")  # what the user reads finds it
        assert dialog.visible_ids() == ["binanceusdm"]
    assert drawable("BTC/USDT", dialog.font()) == "BTC/USDT"  # what the font has stays as it is
