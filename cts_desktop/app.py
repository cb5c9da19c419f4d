"""GUI mode: QApplication + qasync loop + the main window over the services (the composition root for Qt).

Start-up order is chosen for a fast first window: Qt, then the services (SQLite opens and migrates in well under a
second), then the window is shown; anything heavy (ccxt, charts) loads after the window is on screen. The time
from process start to the first shown window is logged (``window shown after … s``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from typing import TYPE_CHECKING

from cts_desktop.services import AppOptions, Services
from cts_desktop.startup import StartupError, open_services
from cts_desktop.system.lifetime import Lifetime

if TYPE_CHECKING:
    from cts_desktop.application.control_api import ControlServer

log = logging.getLogger("cts.ui")


def process_started_at() -> float:
    """Wall-clock start of this process, so start-up time includes the interpreter and imports.

    A launcher (bench/startup.py) may pass its exact launch time in ``CTS_LAUNCHED_AT``; otherwise psutil's process
    creation time is used (on Linux it is derived from the boot time, which is only known to the second).
    """
    launched = os.environ.get("CTS_LAUNCHED_AT")
    if launched:
        try:
            return float(launched)
        except ValueError:
            pass
    try:
        import psutil

        return float(psutil.Process(os.getpid()).create_time())
    except Exception:
        return time.time()


GIL_SWITCH_INTERVAL_S = 0.001


def create_qapp() -> object:
    from PySide6.QtWidgets import QApplication

    from cts_desktop import APP_NAME
    from cts_desktop.ui.icons import app_icon
    from cts_desktop.ui.theme import apply_theme, follow_os, theme_choice
    from cts_desktop.ui.wheel_guard import install_wheel_guard

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("CTS Desktop")
    app.setOrganizationName(APP_NAME)
    app.setQuitOnLastWindowClosed(False)  # the tray keeps the app alive; quitting is explicit
    # The GUI thread gives up the GIL on every call into Qt and must take it back to run any Python slot or
    # paint; while a busy thread (the DB writer) holds it, each take waits up to the switch interval (5 ms by
    # default), many times per repaint. At 1 ms the 99th-percentile event-loop stall measured with the engine
    # trading 20 symbols fell from 93 to 53 ms (bench/ui_lag.py --switch-interval); the busy thread pays a few
    # more switches.
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    app.setWindowIcon(app_icon())
    install_wheel_guard(app)  # the wheel scrolls pages, never an unfocused value (ui/wheel_guard.py)
    apply_theme(app, theme_choice())  # View › Theme, remembered
    if not app.property("ctsFollowsOs"):
        app.setProperty("ctsFollowsOs", True)
        follow_os(app)  # dark/light follows the OS while the app runs
    return app


class GuiApp:
    """The running GUI: services, the application layer, window and crash hooks, with an orderly shutdown."""

    def __init__(self, services: Services) -> None:
        from cts_desktop.application.application import Application
        from cts_desktop.ui.crash import CrashReporter
        from cts_desktop.ui.main_window import MainWindow
        from cts_desktop.ui.security import SecurityActions
        from cts_desktop.ui.table import keep_state_in

        self.services = services
        keep_state_in(services.paths.config)  # the tables' column state
        self.app = Application(services)
        self.quit_event = asyncio.Event()
        self.signal_timer: object | None = None  # keeps Python running signal handlers (quit_on_signals)
        self.security = SecurityActions(self.app.security)
        self.window = MainWindow(self.app, self.quit_event.set, self.security)
        self.security.parent = self.window
        self.crash = CrashReporter(self.window, services.redactor.redact)
        self.control: ControlServer | None = None

    def show(self) -> None:
        self.window.show()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.services.start(loop)
        self.window.start_refreshing()
        from cts_desktop.ui.tasks import spawn

        # connections, Replay and the coordinator (ccxt/numba imports in a worker thread) once the window is up
        spawn(self.app.load_trading(), "trading services")
        if self.services.options.control.enabled:
            spawn(self._start_control(), "control API")

    async def _start_control(self) -> None:
        """The local control API (``cts-desktop ctl``); a token made now is printed once on the terminal only."""
        from cts_desktop.application.control_api import open_control_api
        from cts_desktop.application.remote import RemotePart

        def show(token: str) -> None:
            print(f"cts-desktop: control API token (shown once, kept in the secret store): {token}", flush=True)

        self.control = await open_control_api(self.services, RemotePart(self.services, self.app.dashboard), show)

    async def wait_for_quit(self) -> None:
        await self.quit_event.wait()

    async def shutdown(self) -> None:
        from cts_desktop.ui.tasks import stop_spawning, wait_all

        self.window.timer.stop()
        self.window.bridge.close()
        stop_spawning()
        await wait_all()
        if self.control is not None:
            await self.control.stop()
        await self.services.stop_monitoring()  # no alert round or cleanup left running when the loop closes
        await self.services.stop_trading()  # engines stop; exchange positions keep their exchange-side TP/SL
        await self.services.bus.drain()
        self.crash.uninstall()
        self.window.quitting = True
        self.window.close()


def ask_passphrase_before_start(services: Services, attempts: int = 3) -> None:
    """Unlock the encrypted secrets file at start (a blocking prompt is fine: the event loop is not running yet).

    Cancelling starts the app with the secrets locked; the Security menu can unlock them later.
    """
    from PySide6.QtWidgets import QInputDialog, QLineEdit

    from cts_desktop.storage.secrets import SecretStoreError

    label = f"Passphrase of {services.secrets_file}:"
    for _ in range(attempts):
        passphrase, ok = QInputDialog.getText(None, "Unlock secrets", label, QLineEdit.EchoMode.Password)
        if not ok:
            return
        try:
            services.unlock_secrets(passphrase)
            return
        except SecretStoreError as error:
            label = f"{error}\nPassphrase of {services.secrets_file}:"


def quit_on_signals(gui: GuiApp, loop: asyncio.AbstractEventLoop) -> None:
    """Ctrl+C in the terminal and SIGTERM (log-out, ``kill``) quit the app as its Quit does: engines stop, state is
    stored. Without this SIGTERM killed the process on the spot and Ctrl+C raised KeyboardInterrupt inside a Qt slot,
    where it was lost (the app kept running). Python runs the handler between bytecodes — often under qasync — and
    a half-second timer makes sure it gets the chance while Qt is idle."""
    import signal

    from PySide6.QtCore import QTimer

    def request(signum: int, _frame: object) -> None:
        log.info("signal %d: quitting", signum)
        loop.call_soon_threadsafe(gui.quit_event.set)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, request)
        except (ValueError, OSError):  # not the main thread, or the platform has no such signal
            continue
    gui.signal_timer = QTimer()
    gui.signal_timer.timeout.connect(lambda: None)
    gui.signal_timer.start(500)


def open_services_or_explain(options: AppOptions) -> Services | None:
    """The services, or None after the user was told why the app cannot start (a dialog; no event loop runs yet,
    so ``exec`` is safe). A damaged database comes with the offer to restore its newest backup and start."""
    from PySide6.QtWidgets import QMessageBox

    from cts_desktop.storage.db import DatabaseDamagedError
    from cts_desktop.ui.database_alarm import offer_restore_at_start

    while True:
        try:
            return open_services(options)
        except StartupError as error:
            print(f"cts-desktop: {error}", file=sys.stderr, flush=True)
            damaged = error.__cause__
            if not isinstance(damaged, DatabaseDamagedError):
                QMessageBox.critical(None, "CTS Desktop cannot start", str(error))
                return None
            if not offer_restore_at_start(str(error), damaged.database, damaged.backup):
                return None


def show_refusal(message: str) -> None:
    """This launch cannot run (the data folder is in use by headless mode, or a window that does not respond): a
    dialog says so (already printed; with no screen to show it on — offscreen — the print is all)."""
    app = create_qapp()
    from PySide6.QtWidgets import QApplication, QMessageBox

    if isinstance(app, QApplication) and app.platformName() != "offscreen":
        QMessageBox.warning(None, "CTS Desktop is already running", message)  # no event loop runs: exec is safe


def run_gui(options: AppOptions, exit_after: float | None = None, lifetime: Lifetime | None = None) -> int:
    started = process_started_at()
    app = create_qapp()
    import qasync
    from PySide6.QtCore import QTimer

    services = open_services_or_explain(options)
    if services is None:
        return 2
    if services.secrets_locked:
        ask_passphrase_before_start(services)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    gui = GuiApp(services)
    from cts_desktop.ui.desktop_life import DesktopLife

    desktop = DesktopLife(gui, lifetime)  # resume, start at login, hand-over of later launches, wake-ups
    what = "window shown" if desktop.show_window() else "started minimized to the tray"

    def shown() -> None:
        elapsed = time.time() - started
        log.info("%s after %.2f s", what, elapsed)
        print(f"cts-desktop: {what} after {elapsed:.2f} s", flush=True)

    QTimer.singleShot(0, shown)
    quit_on_signals(gui, loop)
    if exit_after is not None:
        QTimer.singleShot(int(exit_after * 1000), gui.quit_event.set)
    try:
        with loop:
            gui.start(loop)
            desktop.start(loop)
            loop.run_until_complete(gui.wait_for_quit())
            loop.run_until_complete(desktop.stop())  # a quit is no intent: trading resumes at the next start
            loop.run_until_complete(gui.shutdown())
    finally:
        services.close()
    return 0
