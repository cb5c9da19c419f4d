"""The tray: engine entries follow the state, quitting asks first when positions are open (and only then), the
first close to the tray notifies, and every notification is logged as a ``toast`` record — also offscreen, where
Qt reports no system tray."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from PySide6.QtWidgets import QMessageBox

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.services import Services
from cts_desktop.storage.models import Connection, RealPosition
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def make_gui(services: Services) -> GuiApp:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    return gui


async def test_menu_entries_follow_the_engine_state(services: Services) -> None:
    gui = make_gui(services)
    tray = gui.window.tray
    texts = [a.text() for a in tray.menu.actions() if a.text()]
    assert texts == ["Hide window", "Start trading", "Pause trading", "Resume trading", "Stop trading",
                     "Quit CTS Desktop"]
    enabled = {name: a.isEnabled() for name, a in tray.engine_actions.items()}
    assert enabled == {"start": True, "pause": False, "resume": False, "stop": False}
    tray.set_state("running")
    assert {n: a.isEnabled() for n, a in tray.engine_actions.items()} == {
        "start": False, "pause": True, "resume": False, "stop": True}
    assert "running" in tray.icon.toolTip()
    tray.set_state("paused")
    assert tray.engine_actions["resume"].isEnabled() and not tray.engine_actions["pause"].isEnabled()
    tray.set_state("error")
    assert tray.state == "error" and tray.engine_actions["start"].isEnabled()
    tray.set_state("starting")
    assert tray.state == "running"
    await gui.shutdown()


async def test_quit_asks_only_when_positions_are_open(services: Services) -> None:
    gui = make_gui(services)
    tray = gui.window.tray
    with services.db.session() as s:
        s.add(Connection(id="c1", name="Bybit X03", exchange="bybit", kind="predefined"))
        s.flush()
        s.add(RealPosition(connection_id="c1", symbol="BTC/USDT:USDT", side="long", paper=False,
                           quantity=Decimal("0.01"), entry_price=Decimal(60000), status="open"))
    tray.quit_action.trigger()
    await until(lambda: tray.confirm is not None, 5, "the quit confirmation")
    box = tray.confirm
    assert box is not None and "1 position(s) are open" in box.text()
    box.button(QMessageBox.StandardButton.No).click()
    await until(lambda: tray.confirm is None, 5, "the confirmation answered")
    assert not gui.quit_event.is_set()
    tray.request_quit()
    await until(lambda: tray.confirm is not None, 5, "the quit confirmation")
    tray.confirm.button(QMessageBox.StandardButton.Yes).click()
    await asyncio.wait_for(gui.wait_for_quit(), 2)
    await gui.shutdown()


async def test_quit_without_positions_does_not_ask(services: Services) -> None:
    gui = make_gui(services)
    gui.window.tray.quit_action.trigger()
    await asyncio.wait_for(gui.wait_for_quit(), 2)
    assert gui.window.tray.confirm is None
    await gui.shutdown()


async def test_first_close_to_tray_notifies_once_and_logs_a_toast(services: Services) -> None:
    gui = make_gui(services)
    window = gui.window
    window.tray.available = True  # offscreen Qt has no tray host; pretend one is there
    gui.show()
    window.close()
    window.showNormal()
    window.close()
    assert not gui.quit_event.is_set()
    assert [n[0] for n in window.tray.notifications] == ["CTS Desktop keeps running"]
    assert services.writer.flush(10)
    logs = await gui.app.overview.recent_logs(limit=20)
    assert [r.message for r in logs if r.category == "toast"] == [
        "notification: CTS Desktop keeps running — The engine is stopped; the app waits in the tray. Use the tray "
        "menu to show the window or quit."]  # the engine is stopped: nothing "continues trading"
    await gui.shutdown()


async def test_tray_engine_actions_run_commands(services: Services) -> None:
    gui = make_gui(services)
    tray = gui.window.tray
    ran: list[str] = []
    tray.command = ran.append
    tray.engine_actions["start"].trigger()
    tray.engine_actions["pause"].trigger()  # disabled while stopped: ignored
    tray.set_state("running")
    tray.engine_actions["pause"].trigger()
    tray.engine_actions["stop"].trigger()
    assert ran == ["start", "pause", "stop"]
    await gui.shutdown()
