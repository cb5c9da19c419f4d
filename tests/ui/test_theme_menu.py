"""View › Theme (issue 19): System / Light / Dark, one checked; a choice applies at once — the window's palette and
the Dashboard chart — and is remembered for the next start."""

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

    actions["light"].trigger()
    assert window_colour() != dark_window
    assert chart.colours == THEMES["light"] and chart.view.backgroundBrush().color().name() == THEMES["light"]["bg"]
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
