"""The main window: Dashboard, Connections, Settings and Monitoring tabs, a status bar and the tray icon."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import QLabel, QMainWindow, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from cts_desktop.application.application import Application
from cts_desktop.ui.accessibility import make_accessible
from cts_desktop.ui.bridge import EventBridge
from cts_desktop.ui.database_alarm import DatabaseAlarm
from cts_desktop.ui.first_run import FirstRunGuide
from cts_desktop.ui.icons import app_icon
from cts_desktop.ui.notifications import Notifier
from cts_desktop.ui.quit_guard import QuitGuard
from cts_desktop.ui.security import SecurityActions
from cts_desktop.ui.tabs.connections import ConnectionsTab
from cts_desktop.ui.tabs.dashboard import DashboardTab
from cts_desktop.ui.tabs.monitoring import MonitoringTab
from cts_desktop.ui.tabs.settings import SettingsTab
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.theme_menu import add_theme_menu
from cts_desktop.ui.tray import TrayController
from cts_desktop.ui.widgets import human_bytes

log = logging.getLogger("cts.ui")

REFRESH_MS = 2000


def _strategies_tab(app: Application) -> QWidget:
    from cts_desktop.ui.tabs.strategies import StrategiesTab  # imports numba and the kernels: about a second

    return StrategiesTab(app.strategies)


def _sets_tab(app: Application) -> QWidget:
    from cts_desktop.ui.tabs.sets import SetsTab

    return SetsTab(app.sets)


def _journal_tab(app: Application) -> QWidget:
    from cts_desktop.ui.tabs.journal import JournalTab

    return JournalTab(app.journal)


class LazyTab(QWidget):
    """A tab whose content is built the first time it is shown, so that what it imports does not delay the
    window (the Strategies tab pulls numba and the backtest kernels in)."""

    def __init__(self, build: Callable[[], QWidget]) -> None:
        super().__init__()
        self._build = build
        self.content: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    def ensure(self) -> QWidget:
        if self.content is None:
            self.content = self._build()
            self.layout().addWidget(self.content)
        return self.content

    def showEvent(self, event: QShowEvent) -> None:
        self.ensure()
        super().showEvent(event)

    async def refresh(self) -> None:
        refresh = getattr(self.ensure(), "refresh", None)
        if refresh is not None:
            await refresh()


class MainWindow(QMainWindow):
    def __init__(
        self,
        app: Application,
        on_quit: Callable[[], None],
        security: SecurityActions | None = None,
    ) -> None:
        super().__init__()
        self.app = app
        self.on_quit = on_quit
        self.setWindowTitle("CTS Desktop")
        self.setWindowIcon(app_icon())
        self.resize(1280, 760)
        self.setMinimumSize(1000, 620)
        self.bridge = EventBridge(app.bus, parent=self)
        self.dashboard = DashboardTab(app.dashboard, self.bridge, manual=app.manual)
        self.connections = ConnectionsTab(app.connections)
        self.settings = SettingsTab(app.settings)
        self.monitoring = MonitoringTab(app.monitoring, decisions=app.decisions)
        self.strategies = LazyTab(lambda: _strategies_tab(app))
        self.sets = LazyTab(lambda: _sets_tab(app))  # the set statistics import numba
        self.journal = LazyTab(lambda: _journal_tab(app))  # its charts import pyqtgraph
        self.tabs = QTabWidget()
        for number, (widget, title) in enumerate((  # Alt+<underlined letter> or Ctrl+<number> shows a tab
            (self.dashboard, "&Dashboard"),
            (self.sets, "Se&ts"),
            (self.journal, "&Journal"),
            (self.connections, "&Connections"),
            (self.settings, "Setti&ngs"),
            (self.strategies, "St&rategies"),
            (self.monitoring, "&Monitoring"),
        ), start=1):
            self.tabs.addTab(widget, title)
            self.tabs.setTabToolTip(number - 1, f"Alt+{title[title.index('&') + 1]} or Ctrl+{number}")
            shortcut = QShortcut(QKeySequence(f"Ctrl+{number}"), self)
            shortcut.activated.connect(lambda w=widget: self.tabs.setCurrentWidget(w))
        self.guide = FirstRunGuide()  # on the first start, until dismissed; Help › First-run guide brings it back
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.guide)
        column.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        self.engine_label = QLabel("Engine: stopped")
        self.db_label = QLabel("Database: …")
        self.connections_label = QLabel("Connections: …")
        for label in (self.engine_label, self.db_label, self.connections_label):
            self.statusBar().addPermanentWidget(label)
        self.tray = TrayController(self, self.request_quit)
        self.tray.attach_engine(lambda name: spawn(self.dashboard.run_command(name), f"tray {name}"),
                                app.overview.open_position_count)
        self.notifier = Notifier(self.bridge, self.tray, self)
        self.database_alarm = DatabaseAlarm(self, self.bridge.database_damaged, self.show_backups)
        from cts_desktop.ui.theme import on_theme_changed

        self._theme_listener = on_theme_changed(self.dashboard.apply_theme)
        self.destroyed.connect(self._theme_listener)  # also when deleted without closing
        self.security = security
        self.quit_guard = QuitGuard(self, app.overview.live_engines, self.close)
        self._build_menu()
        self.first_close_notified = False
        self.quitting = False
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: spawn(self.refresh(), "window refresh"))
        self.tabs.currentChanged.connect(lambda _i: spawn(self.refresh_current(), "tab refresh"))
        make_accessible(self)

    def _build_menu(self) -> None:
        app_menu = self.menuBar().addMenu("&File")
        quit_action = app_menu.addAction("&Quit")
        quit_action.setShortcut("Ctrl+Q")
        quit_action.triggered.connect(self.tray.request_quit)
        engine_menu = self.menuBar().addMenu("&Engine")
        engine_menu.addActions(self.dashboard.engine.make_actions(self))
        self.theme_actions = add_theme_menu(self.menuBar().addMenu("&View"))
        if self.security is not None:
            security = self.menuBar().addMenu("&Security")
            self.encrypt_action = security.addAction("Store secrets in an encrypted file…")
            self.encrypt_action.triggered.connect(self.security.open_create_dialog)
            self.unlock_action = security.addAction("Unlock the secrets file…")
            self.unlock_action.triggered.connect(self.security.open_unlock_dialog)
            security.aboutToShow.connect(self._sync_security_actions)
            self._sync_security_actions()
            # the key fields follow at once (they were disabled while no store could keep keys)
            self.security.on_changed = lambda: spawn(self.connections.reload(), "keys store changed")
        self.guide_action = self.menuBar().addMenu("&Help").addAction("First-run guide")  # the last menu
        self.guide_action.triggered.connect(self.guide.reopen)

    def _sync_security_actions(self) -> None:
        if self.security is None:
            return
        self.encrypt_action.setEnabled(self.security.can_create())
        self.unlock_action.setEnabled(self.security.is_locked())

    def show_backups(self) -> None:
        """The Backups section of Settings › System, in view (from the damaged-database dialog)."""
        from cts_desktop.domain.settings import Tab

        self.show()
        self.tabs.setCurrentWidget(self.settings)
        self.settings.pages.setCurrentIndex(list(Tab).index(Tab.SYSTEM))
        self.settings.build_page(Tab.SYSTEM)
        panel = self.settings.backups
        scroll = self.settings.stacks[Tab.SYSTEM].widget(0)
        if panel is not None and isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(panel)

    def start_refreshing(self) -> None:
        spawn(self.refresh(), "first refresh")
        self.timer.start()

    async def refresh(self) -> None:
        """Refresh the status bar and the visible tab (hidden tabs refresh when shown)."""
        overview = await self.app.overview.overview()
        live = self.app.overview.engine_status()  # the running coordinator's own state (the DB row lags behind)
        engine_state = live.state.value if live is not None else overview.engine_status
        self.engine_label.setText(f"Engine: {engine_state}")
        self.db_label.setText(
            f"Database: {overview.database_kind} {human_bytes(overview.database_size_bytes)}"
            + ("" if overview.database_healthy else " (writes failing)")
        )
        self.connections_label.setText(
            f"Connections: {overview.connections_enabled}/{overview.connections_total} enabled"
        )
        self.tray.set_state(engine_state)
        await self.refresh_current()

    async def refresh_current(self) -> None:
        widget = self.tabs.currentWidget()
        refresh = getattr(widget, "refresh", None)
        if refresh is not None:
            await refresh()
        make_accessible(widget)  # what the tab built since (a first visit, new rows of cards) gets its names

    async def refresh_all(self) -> None:
        await self.refresh()
        for tab in (self.dashboard, self.connections, self.settings, self.monitoring):
            await tab.refresh()

    # --- closing --------------------------------------------------------------------------------------------

    def close_to_tray_enabled(self) -> bool:
        return self.app.overview.close_to_tray() and self.tray.available

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.quitting and not self.close_to_tray_enabled() and not self.quit_guard.confirmed:
            event.ignore()  # closing quits here: a running live engine is asked about first
            spawn(self.quit_guard.check(), "close check")
            return
        if self.quitting or not self.close_to_tray_enabled():
            self.timer.stop()
            event.accept()
            if not self.quitting:
                self.request_quit()
            self.release()
            return
        event.ignore()
        self.hide()
        if not self.first_close_notified:
            self.first_close_notified = True
            trading = self.tray.state in ("running", "paused")
            self.tray.notify(
                "CTS Desktop keeps running",
                ("Trading continues in the tray." if trading else "The engine is stopped; the app waits in the tray.")
                + " Use the tray menu to show the window or quit.",
            )

    def release(self) -> None:
        """The window closes for good (the app quits): stop following theme changes and remove the tray icon, so
        nothing outside the window keeps using it (a closed window's dashboard was re-themed on every later theme
        change, and failed once the window was deleted)."""
        self._theme_listener()
        self.tray.hide()

    def request_quit(self) -> None:
        if self.quitting:
            return
        self.quitting = True
        self.timer.stop()
        self.tray.hide()
        log.info("quit requested from the window")
        self.on_quit()
