"""An alert reaches the user while the window is hidden in the tray: the services raise it (no Monitoring tab
refresh), the tray shows the notification, and the Monitoring tab later lists it for acknowledging."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from cts_desktop.app import GuiApp, create_qapp
from cts_desktop.services import AppOptions, Services
from cts_desktop.ui import tasks
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


@pytest.fixture
def services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info", alert_interval_s=0.1))
    try:
        yield svc
    finally:
        svc.close()


async def test_alert_notifies_while_the_window_is_hidden_in_the_tray(services: Services) -> None:
    create_qapp()
    gui = GuiApp(services)
    window = gui.window
    gui.start(asyncio.get_running_loop())  # started in the tray: the window is never shown
    await services.alert_monitor.settle()
    notifications = window.tray.notifications
    assert not window.isVisible() and not [n for n in notifications if n[0].startswith("Alert")]
    for i in range(15):
        logging.getLogger("cts.exchange.test").error("order rejected by exchange: code %d", i)
    assert services.writer.flush(10)
    await until(lambda: [n for n in notifications if n[0].startswith("Alert")], 10, "an alert notification")
    [(title, message, critical)] = [n for n in notifications if n[0].startswith("Alert")]
    assert title == "Alert (critical)" and critical
    assert message.startswith("15 errors were logged in the last 10 minutes")
    tab = window.monitoring
    assert tab.overview.data is None and tab._last_full is None  # the Monitoring tab never refreshed
    # later the user opens the window: the Monitoring tab lists the stored alert and acknowledges it
    window.show()
    window.tabs.setCurrentWidget(tab)
    tab.pages.setCurrentWidget(tab.alerts)
    await tasks.wait_all()
    await tab.refresh(force=True)
    assert tab.overview.cards["alerts"].value.text() == "1"
    assert tab.alerts.table.column_texts(2) == ["error_burst"]
    assert await tab.alerts.acknowledge_every() == 1
    with services.db.engine.connect() as conn:
        rows = conn.execute(text("SELECT source, acknowledged_at IS NOT NULL FROM alerts")).all()
    assert [tuple(r) for r in rows] == [("error_burst", 1)]
    await gui.shutdown()
