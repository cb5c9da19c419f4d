"""The window's part of background trading (the Qt-free rest is ``application/background.py``):

* the window shown at start — or only the tray icon after a ``--minimized`` start at login, where a tray exists;
* a later launch on the same data folder brings this window to the front (show, raise, activate), from the tray too;
* trading resumed once the trading services are loaded, and the run banner when there is something to tell;
* the login entry kept equal to *Start at login* / *Start minimized to the tray* (``system/autostart.py``);
* Windows' resume-from-sleep message handed to the wake watch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Protocol

from PySide6.QtWidgets import QMainWindow

from cts_desktop.application.application import Application
from cts_desktop.application.background import START_AT_LOGIN, START_MINIMIZED, Launch, Lifetime
from cts_desktop.events.app import SettingsChanged
from cts_desktop.ui.power_events import PowerEvents, install_power_events
from cts_desktop.ui.run_banner import install_banner
from cts_desktop.ui.tasks import spawn

if TYPE_CHECKING:
    from cts_desktop.ui.main_window import MainWindow


class WindowApp(Protocol):
    """The window and the application it shows (``app.GuiApp``)."""

    window: MainWindow
    app: Application

    def show(self) -> None: ...

log = logging.getLogger("cts.ui.desktop")

FRONT_TIMEOUT_S = 3.0  # a window that cannot come to the front within this is reported as not responding


def bring_to_front(window: QMainWindow) -> None:
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()


class DesktopLife:
    def __init__(self, gui: WindowApp, lifetime: Lifetime | None) -> None:
        self.gui = gui
        self.window = gui.window
        self.lifetime = lifetime
        background = gui.app.background(lifetime)
        self.runtime = background.runtime
        self.login = background.login
        self.banner = install_banner(self.window)
        self.power: PowerEvents | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def show_window(self) -> bool:
        """Show the window, unless started minimized with a tray to live in; whether it was shown."""
        minimized = self.lifetime is not None and self.lifetime.minimized
        if minimized and self.window.tray.available:
            log.info("started minimized to the tray")
            return False
        if minimized:
            log.info("started minimized, but this desktop has no tray: showing the window")
        self.gui.show()
        return True

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        if self.lifetime is not None:
            self.lifetime.guard.on_launch(self._on_launch)
        self.power = install_power_events(self.runtime.watch.os_resumed)
        self.gui.app.bus.subscribe(SettingsChanged, self._on_settings)
        spawn(asyncio.to_thread(self.login.apply), "start at login")
        spawn(self._resume(), "resume trading")

    async def _resume(self) -> None:
        notice = await self.runtime.start(self.gui.app.load_trading)
        if notice:
            self.banner.show_notice(notice)
            log.info("banner shown: %s", notice)

    def _on_settings(self, event: SettingsChanged) -> None:
        if any(key in (START_AT_LOGIN, START_MINIMIZED) for key, _old, _new in event.changes):
            spawn(asyncio.to_thread(self.login.apply), "start at login")

    def _on_launch(self, launch: Launch) -> bool:
        """A later launch (in the instance channel's thread): the window to the front on the GUI thread, waited for
        so the launch can tell the user whether it worked."""
        loop = self._loop
        if loop is None or loop.is_closed() or not launch.wants_window:
            return True
        done = threading.Event()

        def front() -> None:
            if not self.window.quitting:
                bring_to_front(self.window)
                log.info("brought the window to the front for a second launch (pid %d)", launch.pid)
            done.set()

        loop.call_soon_threadsafe(front)
        return done.wait(FRONT_TIMEOUT_S)

    async def stop(self) -> None:
        """Before the app stops trading to quit (see ``BackgroundRuntime.stop``)."""
        await self.runtime.stop()
