"""Alerts are raised by the services themselves (headless, no Qt, no Monitoring tab): the alert monitor's periodic
rounds store, log and publish them; the Monitoring part lists and acknowledges them; settings change the running
monitor."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cts_desktop.application.monitoring import MonitoringPart
from cts_desktop.events.trading import AlertRaised
from cts_desktop.headless import serve
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.models import Alert, LogRecord
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])

INTERVAL_S = 0.1


@pytest.fixture
def services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info", alert_interval_s=INTERVAL_S))
    try:
        yield svc
    finally:
        svc.close()


def log_errors(services: Services, count: int) -> None:
    for i in range(count):
        logging.getLogger("cts.exchange.test").error("order rejected by exchange: code %d", 100 + i)
    assert services.writer.flush(10)


def stored(services: Services) -> list[Alert]:
    with services.db.session() as s:
        rows = list(s.execute(select(Alert).order_by(Alert.id)).scalars())
        s.expunge_all()
        return rows


async def test_an_alert_fires_in_headless_mode_and_is_stored_and_acknowledgeable(services: Services) -> None:
    raised: list[AlertRaised] = []
    services.bus.subscribe(AlertRaised, raised.append)
    stop = asyncio.Event()
    headless = asyncio.create_task(serve(services, stop))
    await until(lambda: services.alert_monitor.rounds >= 1, 10, "the first round, at start: nothing to raise")
    assert raised == [] and stored(services) == []
    # the first error burst arrives later: a periodic round (not a tab refresh) raises it
    rounds = services.alert_monitor.rounds
    log_errors(services, 12)
    await until(lambda: raised, 10, "the alert raised by a periodic round")
    assert services.alert_monitor.rounds > rounds
    [event] = raised
    assert (event.source, event.severity, event.key) == ("error_burst", "critical", None)
    assert event.message.startswith("12 errors were logged in the last 10 minutes")
    [row] = stored(services)
    assert (row.source, row.severity, row.message, row.acknowledged_at) == (
        "error_burst", "critical", event.message, None)
    # it is logged as a warning, for the log viewer and the activity timeline
    assert services.writer.flush(10)
    with services.db.session() as s:
        logged = s.execute(select(LogRecord.level, LogRecord.category).where(
            LogRecord.message == f"alert (critical): {event.message}")).all()
    assert logged == [("WARNING", "system")]
    # the cause persists: later rounds stay quiet within the rule's cool-down
    rounds = services.alert_monitor.rounds
    await until(lambda: services.alert_monitor.rounds >= rounds + 3, 10, "three more rounds")
    assert len(raised) == 1 and len(stored(services)) == 1
    # the Monitoring part (no Qt, no tab) lists it; acknowledging stores who saw it when
    monitoring = MonitoringPart(services)
    [listed] = await monitoring.alerts()
    assert listed.id == row.id and listed.source == "error_burst"
    assert await monitoring.acknowledge_alerts([row.id]) == 1
    assert await monitoring.acknowledge_alerts([row.id]) == 0  # already acknowledged
    assert await monitoring.alerts() == []
    [acked] = await monitoring.alerts(include_acknowledged=True)
    assert acked.id == row.id and acked.acknowledged_at is not None
    # listing raises nothing: the monitor alone does
    assert len(stored(services)) == 1
    stop.set()
    await asyncio.wait_for(headless, 30)
    assert not services.alert_monitor.running and services.alert_monitor.idle  # nothing scheduled: no more rounds


async def test_settings_change_the_running_monitor(data_dir: Path) -> None:
    """Thresholds, the on/off switch and the interval are read each round: a change applies without a restart."""
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info"))
    try:
        monitor = svc.alert_monitor
        assert monitor.interval() == 30.0  # monitoring.global_health_interval_s default
        svc.settings.set("monitoring.global_health_interval_s", 60)
        assert monitor.interval() == 60.0
        monitor.fixed_interval_s = INTERVAL_S  # fast rounds for the rest of the test
        raised: list[AlertRaised] = []
        svc.bus.subscribe(AlertRaised, raised.append)
        svc.settings.set("monitoring.alert_errors_per_10min", 20)
        svc.start(asyncio.get_running_loop())
        await monitor.settle()
        log_errors(svc, 12)  # 12 errors: under 20, no alert
        rounds = monitor.rounds
        await until(lambda: monitor.rounds >= rounds + 2, 10, "two more rounds")
        assert raised == []
        svc.settings.set("monitoring.enabled", False)  # switched off: rounds evaluate nothing
        await monitor.settle()
        svc.settings.set("monitoring.alert_errors_per_10min", 5)
        rounds, ticks = monitor.rounds, monitor.ticks
        await until(lambda: monitor.ticks >= ticks + 3, 10, "three rounds while switched off")
        assert monitor.rounds == rounds and raised == []
        svc.settings.set("monitoring.enabled", True)
        await until(lambda: raised, 10, "the alert, monitoring switched on again")
        assert [e.source for e in raised] == ["error_burst"]
        assert raised[0].message.endswith("(alert above 5)")
    finally:
        await svc.stop_monitoring()
        svc.close()


async def test_a_failing_round_is_logged_once_and_the_rounds_go_on(services: Services,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    real_size = services.db.size_bytes
    failures = 0

    def unreadable() -> int:  # the database file cannot be measured for a while (e.g. a network drive away)
        nonlocal failures
        failures += 1
        raise OSError("the database file is not reachable")

    services.db.size_bytes = unreadable  # type: ignore[method-assign]
    raised: list[AlertRaised] = []
    services.bus.subscribe(AlertRaised, raised.append)
    with caplog.at_level(logging.WARNING, logger="cts.system.alerts"):
        services.start(asyncio.get_running_loop())
        log_errors(services, 12)
        await until(lambda: failures >= 3, 10, "three failing rounds")
        services.db.size_bytes = real_size  # type: ignore[method-assign]
        await until(lambda: raised, 10, "the alert after the database came back")
    reports = [r for r in caplog.records if r.getMessage().startswith("alert rules could not be evaluated")]
    assert len(reports) == 1 and "the database file is not reachable" in reports[0].getMessage()
    assert [e.source for e in raised] == ["error_burst"]
    with services.db.session() as s:
        assert s.execute(select(func.count()).select_from(Alert)).scalar_one() == 1
    await services.stop_monitoring()
