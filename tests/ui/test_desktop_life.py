"""The window's part of background trading, on real services offscreen: the banner after an unclean exit (trading
resumed on its own), a second launch bringing the hidden window to the front through the real channel, *Start at
login* writing and removing the XDG autostart entry as the setting changes, and a ``--minimized`` start."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.domain.settings import Tab
from cts_desktop.engine.intent import COORDINATOR, instance_key, write_intent
from cts_desktop.events.status import EngineState
from cts_desktop.services import Services
from cts_desktop.system.instance import AlreadyRunning, InstanceGuard, Mode
from cts_desktop.system.lifetime import Lifetime
from cts_desktop.system.run_marker import RunMarker, UncleanExit
from cts_desktop.ui.desktop_life import DesktopLife
from cts_desktop.ui.tasks import wait_all
from tests.helpers.waiting import until
from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


@pytest.fixture
def guard(services: Services) -> Iterator[InstanceGuard]:
    claimed = InstanceGuard.claim(services.paths.data, Mode.WINDOW, [])
    yield claimed
    claimed.release()


def _desktop(services: Services, lifetime: Lifetime | None) -> DesktopLife:
    create_qapp()
    gui = GuiApp(services)
    services.start(asyncio.get_running_loop())
    return DesktopLife(gui, lifetime)


async def _quit(desktop: DesktopLife) -> None:
    await wait_all()
    await desktop.stop()
    await desktop.gui.shutdown()


async def test_trading_resumes_after_an_unclean_exit_and_the_banner_says_so(services: Services,
                                                                           guard: InstanceGuard) -> None:
    services.settings.set_many({"overall.prehistoric_days": 1, "overall.use_main_symbols": True,
                                "overall.main_symbols": ["BTC"], "overall.forced_symbols": []})
    with services.db.session() as s:
        write_intent(s, instance_key(services.paths.data), COORDINATOR, EngineState.RUNNING, False)
    last_seen = time.time() - 120
    unclean = UncleanExit(os.getpid() + 1, "window", last_seen - 3600, last_seen)
    desktop = _desktop(services, Lifetime(guard, RunMarker(services.paths.data), unclean))
    assert desktop.show_window()
    desktop.start(asyncio.get_running_loop())
    await wait_all()
    at = time.strftime("%H:%M", time.localtime(last_seen))
    assert desktop.banner.isVisible()
    assert desktop.banner.label.text() == f"Trading resumed after an unclean exit at {at} (crash / power loss)."
    assert services.trading.coordinator.state is EngineState.RUNNING  # no F5 needed
    notice = ("Alert (warning)", desktop.banner.label.text(), False)
    # the desktop notification comes through the bridge's batches
    await until(lambda: notice in desktop.window.tray.notifications, 5, "the desktop notification")
    await desktop.window.refresh()
    save_screenshot(desktop.window, "window-resumed-after-unclean-exit-system")
    desktop.banner.close_button.click()
    assert not desktop.banner.isVisible()
    await _quit(desktop)


async def test_a_second_launch_brings_the_hidden_window_to_the_front(services: Services,
                                                                    guard: InstanceGuard) -> None:
    desktop = _desktop(services, Lifetime(guard, RunMarker(services.paths.data), None))
    desktop.show_window()
    desktop.start(asyncio.get_running_loop())
    desktop.window.hide()  # closed to the tray
    assert not desktop.window.isVisible()
    started = time.monotonic()
    with pytest.raises(AlreadyRunning) as handed:
        await asyncio.to_thread(InstanceGuard.claim, services.paths.data, Mode.WINDOW, [])
    assert handed.value.exit_code == 0 and "brought to the front" in str(handed.value)
    assert time.monotonic() - started < 3.0
    assert desktop.window.isVisible()
    await _quit(desktop)


async def test_start_at_login_follows_the_setting(services: Services, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    desktop = _desktop(services, None)
    desktop.login.platform = "linux"
    entry = Path(desktop.login.entry().location)
    desktop.start(asyncio.get_running_loop())
    await wait_all()
    assert not entry.exists()
    await desktop.gui.app.settings.set("system.start_at_login", True)
    await until(entry.exists, 5, "the autostart entry")
    assert entry.read_text().count("--minimized") == 0
    await desktop.gui.app.settings.set("system.start_minimized", True)
    await until(lambda: "--minimized" in entry.read_text(), 5, "--minimized in the entry")
    assert f"--data-dir {services.paths.data.parent} --minimized" in entry.read_text()
    window = desktop.window
    desktop.show_window()
    window.tabs.setCurrentWidget(window.settings)
    await window.refresh_all()
    window.settings.pages.setCurrentIndex(list(Tab).index(Tab.SYSTEM))
    window.settings.stacks[Tab.SYSTEM].widget(0).ensureWidgetVisible(  # type: ignore[attr-defined]
        window.settings.rows["system.start_minimized"].editor)
    save_screenshot(window, "settings-start-at-login-system")
    await desktop.gui.app.settings.set("system.start_at_login", False)
    await until(lambda: not entry.exists(), 5, "the autostart entry removed")
    await _quit(desktop)


@pytest.mark.parametrize("tray", [True, False])
async def test_a_minimized_start_shows_only_the_tray_where_there_is_one(services: Services, guard: InstanceGuard,
                                                                       tray: bool) -> None:
    desktop = _desktop(services, Lifetime(guard, RunMarker(services.paths.data), None, minimized=True))
    desktop.window.tray.available = tray
    assert desktop.show_window() is not tray
    assert desktop.window.isVisible() is not tray
    await desktop.gui.shutdown()
