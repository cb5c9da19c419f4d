"""System settings whose effect is in the window: "Overall database size" is the cap the Database panel measures
against, and "Close to tray" decides whether closing the window hides it or quits the app."""

from __future__ import annotations

import asyncio

import pytest

from cts_desktop.domain.settings import Tab
from cts_desktop.services import Services
from tests.helpers.waiting import until
from tests.ui.test_main_window import _make_gui
from tests.ui.test_settings_tab import make_tab

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_the_database_panel_measures_against_the_size_setting(services: Services) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    panel = tab.database
    assert panel is not None
    for gb in (5, 35):
        services.settings.set("system.max_database_size_gb", gb)
        panel.size.setText("")
        panel.size_button.click()
        await until(lambda: "allowed" in panel.size.text(), 30, "the size measured")
        assert f"of {gb:.2f} GB allowed" in panel.size.text()


async def test_close_to_tray_off_makes_closing_the_window_quit(services: Services) -> None:
    services.settings.set("system.close_to_tray", True)
    gui = _make_gui(services)
    gui.window.tray.available = True  # offscreen Qt has no tray host; pretend one is there
    gui.show()
    gui.window.close()
    assert not gui.window.isVisible() and not gui.quit_event.is_set()  # hidden in the tray, still running
    gui.window.tray.toggle_window()
    services.settings.set("system.close_to_tray", False)
    gui.window.close()
    await asyncio.wait_for(gui.wait_for_quit(), 5)  # the same close now quits
    await gui.shutdown()
