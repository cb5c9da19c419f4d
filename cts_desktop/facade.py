"""The one door the UI uses to reach the services: queries return plain dataclasses, commands are coroutines.

Nothing here imports Qt. Database reads run in a worker thread (``Database.run``) so the GUI thread never waits
on the database; the UI awaits these coroutines from qasync slots and shows progress while they run.

``AppFacade`` is composed of one part per job (``cts_desktop/facades/``); add a method to the part it belongs to:

==========================  ===========================================================================
part                        job
==========================  ===========================================================================
base.FacadeBase             the services, the lazily built trading services, shared helpers
overview.OverviewFacade     app overview, connection rows, recent logs, CPU/memory load
settings.SettingsFacade     Settings tab: set/reset/apply, trim preview, import/export JSON
database.DatabaseFacade     Settings tab: database in use, test, migrate, save the choice
monitoring.MonitoringFacade Monitoring tab: statistics, log pages, export, health, restarts, alerts
dashboard.DashboardFacade   Dashboard tab, chart and tray: engine commands, cards, tables, ticker, chart
strategies.StrategiesFacade Strategies tab: the Strategies service, runs, presets
connections.ConnectionsFacade            Connections tab: list, detail, add, save, keys
connection_actions.ConnectionActionsFacade  test, enable, active, live trade, volume factor, delete
==========================  ===========================================================================
"""

from __future__ import annotations

from cts_desktop.facades.connection_actions import ConnectionActionsFacade
from cts_desktop.facades.dashboard import DashboardFacade
from cts_desktop.facades.database import DatabaseFacade
from cts_desktop.facades.monitoring import MonitoringFacade
from cts_desktop.facades.overview import ConnectionRow, LogRow, Overview, SystemLoad
from cts_desktop.facades.settings import SettingsFacade
from cts_desktop.facades.strategies import StrategiesFacade


class AppFacade(
    SettingsFacade,
    DatabaseFacade,
    MonitoringFacade,
    DashboardFacade,
    StrategiesFacade,
    ConnectionActionsFacade,
):
    """Every part above over one ``Services`` (``AppFacade(services)``)."""


__all__ = ["AppFacade", "ConnectionRow", "LogRow", "Overview", "SystemLoad"]
