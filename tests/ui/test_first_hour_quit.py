"""Closing the window (issue 19): the tray balloon says trading continues only while an engine runs; where closing
quits (no tray), a running live engine on the Replay simulator is asked about first, and No keeps it running."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import Services
from tests.helpers.waiting import until
from tests.ui.conftest import open_window, replay_services

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


@pytest.fixture
def fast_services(data_dir: Path) -> Iterator[Services]:
    with replay_services(data_dir) as svc:
        yield svc


async def test_balloon_says_trading_continues_only_while_the_engine_runs(services: Services) -> None:
    gui = open_window(services)
    window = gui.window
    window.tray.available = True  # offscreen Qt has no tray host; pretend one is there
    window.tray.set_state("running")
    window.close()
    assert not gui.quit_event.is_set()
    assert window.tray.notifications[-1][1].startswith("Trading continues in the tray.")
    await gui.shutdown()


async def test_closing_without_a_tray_asks_while_a_live_engine_runs(fast_services: Services) -> None:
    services = fast_services
    gui = open_window(services)
    window = gui.window
    assert not window.close_to_tray_enabled()  # offscreen: no tray, so closing quits
    trading = await gui.app.load_trading()
    await gui.app.connections.switches.set_live_trade(REPLAY_CONNECTION_ID, True, "Replay (offline)")
    await trading.coordinator.start()
    await until(lambda: REPLAY_CONNECTION_ID in trading.coordinator.engines, 60, "the Replay engine")
    assert await gui.app.overview.live_engines() == ["Replay (offline)"]

    window.close()
    await until(lambda: window.quit_guard.confirm is not None, 10, "the quit question")
    box = window.quit_guard.confirm
    assert box is not None and "Live trading runs on Replay (offline)" in box.text()
    box.button(QMessageBox.StandardButton.No).click()
    await until(lambda: window.quit_guard.confirm is None, 5, "answered")
    assert not gui.quit_event.is_set() and window.isVisible() and trading.coordinator.engines

    window.close()
    await until(lambda: window.quit_guard.confirm is not None, 10, "the quit question again")
    window.quit_guard.confirm.button(QMessageBox.StandardButton.Yes).click()
    await asyncio.wait_for(gui.wait_for_quit(), 5)
    await gui.shutdown()
