"""The one object between the services and the UI: it holds one part per screen and hands each tab its own.

Like vn.py's ``MainEngine`` holding its engines, :class:`Application` composes the parts (no mixins) and delegates
the few calls that concern the whole app. Every part is typed and Qt-free: queries return plain dataclasses,
commands are coroutines, database reads run in the database's worker thread, anything that talks to an exchange
runs in a worker or on the loop without blocking it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cts_desktop.application.common import TradingAccess
from cts_desktop.application.connection_keys import KeyPresence
from cts_desktop.application.connection_switches import ConnectionSwitches
from cts_desktop.application.connections import ConnectionsPart
from cts_desktop.application.dashboard import DashboardPart
from cts_desktop.application.decisions import DecisionsPart
from cts_desktop.application.journal import JournalPart
from cts_desktop.application.manual import ManualPart
from cts_desktop.application.monitoring import MonitoringPart
from cts_desktop.application.overview import OverviewPart
from cts_desktop.application.security import SecurityPart
from cts_desktop.application.settings import SettingsPart
from cts_desktop.events.bus import EventBus
from cts_desktop.services import Services

if TYPE_CHECKING:
    from cts_desktop.application.background import DesktopBackground
    from cts_desktop.application.sets import SetsPart
    from cts_desktop.application.strategies import StrategiesPart
    from cts_desktop.system.lifetime import Lifetime
    from cts_desktop.trading import Trading


class Application:
    """The parts: ``overview`` (window, tray), ``dashboard``, ``connections``, ``settings`` (with ``database``),
    ``strategies``, ``monitoring``, ``security``, ``sets``, ``journal`` (with the equity curves), ``manual`` (close
    or cancel by hand) and ``decisions`` (why the engines trade or not); ``bus`` is the event bus the UI's bridge
    listens to."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self.bus: EventBus = services.bus
        self.trading = TradingAccess(services)
        switches = ConnectionSwitches(services.db, self.trading, KeyPresence(services.secrets), services.bus)
        self.overview = OverviewPart(services, self.trading)
        self.dashboard = DashboardPart(services, self.trading, switches, self.overview)
        self.connections = ConnectionsPart(services, self.trading, switches)
        self.settings = SettingsPart(services)
        self.monitoring = MonitoringPart(services)
        self.security = SecurityPart(services)
        self.journal = JournalPart(services)
        self.manual = ManualPart(self.trading)
        self.decisions = DecisionsPart(self.trading)
        self._strategies: StrategiesPart | None = None
        self._sets: SetsPart | None = None

    @property
    def strategies(self) -> StrategiesPart:
        """Built on first use: it imports numba and the backtest kernels (about a second)."""
        if self._strategies is None:
            from cts_desktop.application.strategies import StrategiesPart

            services = self._services
            self._strategies = StrategiesPart(services.db, services.settings, self.trading)
        return self._strategies

    @property
    def sets(self) -> SetsPart:
        """Built on first use: the set statistics import numba."""
        if self._sets is None:
            from cts_desktop.application.sets import SetsPart

            self._sets = SetsPart(self.trading)
        return self._sets

    def background(self, lifetime: Lifetime | None) -> DesktopBackground:
        """The window's background life over these services (resume, wake-ups, start at login)."""
        from cts_desktop.application.background import DesktopBackground

        return DesktopBackground(self._services, lifetime)

    async def load_trading(self) -> Trading:
        """Build the trading services now (ccxt/numba imports in a worker thread), e.g. once the window shows."""
        return await self.trading.get()
