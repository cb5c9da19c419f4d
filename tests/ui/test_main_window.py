"""The main window on real services (offscreen): four tabs with real content, status bar, tray, close-to-tray."""

from __future__ import annotations

import asyncio
import logging

import pytest
from PySide6.QtWidgets import QSystemTrayIcon

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.services import Services
from cts_desktop.storage.models import Connection
from tests.helpers.waiting import until
from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def _make_gui(services: Services) -> GuiApp:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    return gui


async def test_window_has_four_tabs_with_real_content(services: Services) -> None:
    with services.db.session() as s:
        s.add(Connection(id="c1", name="Bybit X03", exchange="bybit", kind="predefined"))
    logging.getLogger("cts.engine.test").error("something went wrong", extra={"connection_id": "c1"})
    gui = _make_gui(services)
    assert services.writer.flush(10)
    gui.show()
    window = gui.window
    assert [window.tabs.tabText(i).replace("&", "") for i in range(window.tabs.count())] == [
        "Dashboard", "Sets", "Journal", "Connections", "Settings", "Strategies", "Monitoring"
    ]
    await window.refresh_all()
    # status bar shows the database and connection counts from the DB
    assert window.db_label.text().startswith("Database: sqlite")
    assert window.connections_label.text() == "Connections: 0/1 enabled"
    assert window.engine_label.text() == "Engine: stopped"
    # dashboard cards
    assert window.dashboard.cards["connections"].value.text() == "0"  # active connections
    assert window.dashboard.cards["errors"].value.text() == "1"
    assert window.dashboard.banner.isVisible() or not window.isVisible()
    # connections tab lists the row from the DB
    assert window.connections.table.row_count() == 1
    assert window.connections.table.text(0, 0) == "Bybit X03"
    # settings tab shows every setting with its stored value
    total = sum(t.row_count() for t in window.settings.tables.values())
    from cts_desktop.domain.settings import SETTINGS

    assert total == len(SETTINGS)
    # monitoring shows the error we logged
    messages = window.monitoring.table.column_texts(4)
    assert "something went wrong" in messages
    # the Strategies tab is built when first shown (it imports numba: the window must not wait for it)
    assert window.strategies.content is None
    window.tabs.setCurrentIndex(window.tabs.indexOf(window.strategies))
    await window.refresh_current()
    from cts_desktop.ui.tabs.strategies import StrategiesTab

    assert isinstance(window.strategies.content, StrategiesTab)
    for index in range(window.tabs.count()):
        name = window.tabs.tabText(index).replace("&", "").lower()
        window.tabs.setCurrentIndex(index)
        await window.refresh_current()
        save_screenshot(window, f"{name}-system")
    await gui.shutdown()


async def test_setting_change_reaches_settings_tab(services: Services) -> None:
    gui = _make_gui(services)
    await gui.app.settings.set("system.position_length", 300)
    await gui.window.settings.refresh()
    from cts_desktop.domain.settings import Tab

    table = gui.window.settings.tables[Tab.SYSTEM]
    keys = {table.text(r, 6): table.text(r, 2) for r in range(table.row_count())}
    assert keys["system.position_length"] == "300"
    await gui.shutdown()


async def test_tray_icon_exists_and_menu_works(services: Services) -> None:
    gui = _make_gui(services)
    gui.show()
    tray = gui.window.tray
    assert isinstance(tray.icon, QSystemTrayIcon)
    expected = ["Hide window", "Start trading", "Pause trading", "Resume trading", "Stop trading",
                "Quit CTS Desktop"]
    assert [a.text() for a in tray.menu.actions() if a.text()] == expected
    tray.toggle_window()
    assert not gui.window.isVisible()
    tray.toggle_window()
    assert gui.window.isVisible()
    tray.set_state("running")
    assert "running" in tray.icon.toolTip()
    tray.quit_action.trigger()
    await asyncio.wait_for(gui.wait_for_quit(), 2)
    await gui.shutdown()


async def test_closing_to_tray_keeps_the_app_alive(services: Services) -> None:
    gui = _make_gui(services)
    gui.window.tray.available = True  # offscreen Qt has no tray host; pretend one is there
    gui.show()
    gui.window.close()
    assert not gui.window.isVisible()
    assert not gui.quit_event.is_set()  # still running
    assert services.writer._thread is not None and services.writer._thread.is_alive()
    assert gui.window.first_close_notified
    gui.window.tray.toggle_window()
    assert gui.window.isVisible()
    await gui.shutdown()


async def test_without_tray_closing_quits(services: Services) -> None:
    gui = _make_gui(services)
    gui.window.tray.available = False
    gui.show()
    gui.window.close()
    await asyncio.wait_for(gui.wait_for_quit(), 2)
    await gui.shutdown()


async def test_crash_hook_logs_and_shows_without_blocking(services: Services) -> None:
    import sys
    import threading

    gui = _make_gui(services)
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # type: ignore[arg-type]
    worker = threading.Thread(target=lambda: 1 / 0, name="worker")
    worker.start()
    worker.join()
    await until(lambda: len(gui.crash.shown) == 2, 5, "the worker thread's crash shown on the GUI thread")
    assert "boom in a slot" in gui.crash.shown[0].informativeText()
    assert services.writer.flush(10)
    logs = await gui.app.overview.recent_logs(min_level=logging.CRITICAL)
    assert any("boom in a slot" in r.message for r in logs)
    assert any("ZeroDivisionError" in (r.exc_text or "") for r in logs)
    for box in list(gui.crash.shown):
        box.done(0)
    await gui.shutdown()
