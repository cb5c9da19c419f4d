"""View › Theme (issue 19): System / Light / Dark, one checked; a choice applies at once — the window's palette, the
Dashboard chart and the Strategies charts (background, axes, their lines) — and is remembered for the next start."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from cts_desktop.services import Services
from cts_desktop.ui.charts.chart import THEMES
from cts_desktop.ui.theme import apply_theme, theme_choice
from tests.ui.conftest import open_window, save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def window_colour() -> str:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app.palette().color(QPalette.ColorRole.Window).name()


async def test_theme_switch_applies_live_and_is_remembered(services: Services) -> None:
    gui = open_window(services)
    window = gui.window
    chart = window.dashboard.ensure_chart().chart
    actions = window.theme_actions
    assert list(actions) == ["system", "light", "dark"] and actions["system"].isChecked()

    actions["dark"].trigger()
    assert actions["dark"].isChecked() and not actions["system"].isChecked()
    dark_window = window_colour()
    assert chart.colours == THEMES["dark"] and chart.view.backgroundBrush().color().name() == THEMES["dark"]["bg"]
    save_screenshot(window, "theme-menu-dark")

    tab = window.strategies.ensure()  # built on first use
    strategies = [tab.equity, tab.trades_chart]  # type: ignore[attr-defined]

    def strategies_colours() -> set[str]:  # the text colour each Strategies chart draws its axes and lines with
        colours = set()
        for each in strategies:
            colours.add(each.plot.getAxis("left").pen().color().name())
            colours.add(each.plot.getAxis("bottom").textPen().color().name())
        colours.add(tab.equity.zero.pen.color().name())  # type: ignore[attr-defined]
        colours.add(tab.trades_chart.price.opts["pen"].color().name())  # type: ignore[attr-defined]
        return colours

    dark_text = QApplication.palette().color(QPalette.ColorRole.Text).name()
    assert strategies_colours() == {dark_text}
    actions["light"].trigger()
    assert window_colour() != dark_window
    assert chart.colours == THEMES["light"] and chart.view.backgroundBrush().color().name() == THEMES["light"]["bg"]
    light_text = QApplication.palette().color(QPalette.ColorRole.Text).name()
    assert light_text != dark_text and strategies_colours() == {light_text}
    assert theme_choice() == "light"
    save_screenshot(window, "theme-menu-light")
    await gui.shutdown()

    apply_theme(QApplication.instance(), "dark")  # type: ignore[arg-type]  # whatever ran in between
    again = open_window(services)  # the next start: create_qapp applies the remembered choice
    assert again.window.theme_actions["light"].isChecked()
    assert window_colour() != dark_window
    again.window.theme_actions["system"].trigger()
    assert theme_choice() == "system"
    await again.shutdown()
