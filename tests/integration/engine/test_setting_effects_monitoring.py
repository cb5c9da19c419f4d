"""Monitoring and storage settings on the running services (real SQLite, the alert monitor's and the cleaner's own
rounds): each threshold changes which alerts are stored and published, each retention period which rows the
cleanup deletes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cts_desktop.events.trading import AlertRaised
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage import models as m
from cts_desktop.storage.retention import DAY_MS, RetentionCleaner
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


@pytest.fixture
def services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info", alert_interval_s=0.1))
    with svc.db.session() as s:
        s.add(m.Connection(id="c1", name="Bybit X03", exchange="bybit", is_enabled=True, is_active=True))
    try:
        yield svc
    finally:
        svc.close()


def _failed_orders(services: Services, count: int) -> None:
    with services.db.session() as s:
        s.add_all(m.Order(connection_id="c1", client_order_id=f"cts-failed-{i}", symbol="BTC/USDT:USDT", side="buy",
                          order_type="market", quantity=Decimal("0.01"), status="rejected") for i in range(count))


def _quiet_engine(services: Services, minutes: float) -> None:
    with services.db.session() as s:
        s.add(m.EngineState(connection_id="c1", status="running",
                            updated_at=datetime.now(UTC) - timedelta(minutes=minutes)))


ALERT_ROWS: dict[str, tuple[Callable[[Services], None], int, int, str]] = {
    # key: (the condition, a threshold that holds it back, one that lets it through, the alert's source)
    "monitoring.alert_failed_orders_per_hour": (lambda svc: _failed_orders(svc, 6), 10, 3, "failed_orders"),
    "monitoring.alert_connection_stale_min": (lambda svc: _quiet_engine(svc, 8), 10, 5, "stale_connection"),
}


@pytest.mark.parametrize("key", sorted(ALERT_ROWS))
async def test_an_alert_threshold_decides_whether_the_running_monitor_raises(services: Services, key: str) -> None:
    condition, holds_back, lets_through, source = ALERT_ROWS[key]
    raised: list[AlertRaised] = []
    services.bus.subscribe(AlertRaised, raised.append)
    services.settings.set(key, holds_back)
    condition(services)
    services.start(asyncio.get_running_loop())
    try:
        monitor = services.alert_monitor
        await monitor.settle()
        rounds = monitor.rounds
        await until(lambda: monitor.rounds >= rounds + 3, 10, "three rounds under the higher threshold")
        assert [e for e in raised if e.source == source] == []
        services.settings.set(key, lets_through)
        await until(lambda: any(e.source == source for e in raised), 10, f"the {source} alert")
        [event] = [e for e in raised if e.source == source]
        assert f"{lets_through}" in event.message and event.key == "c1", event.message
        with services.db.session() as s:
            assert s.execute(select(func.count()).select_from(m.Alert).where(m.Alert.source == source)).scalar_one()
    finally:
        await services.stop_monitoring()


def _count(services: Services, model: type) -> int:
    with services.db.session() as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


def _seed_ages(services: Services, days: tuple[float, ...]) -> None:
    now = datetime.now(UTC).timestamp() * 1000
    with services.db.session() as s:
        for d in days:
            ts = int(now - d * DAY_MS)
            s.add(m.CycleMetric(connection_id="c1", loop="main", ts_ms=ts, duration_ms=1.0))
            s.add(m.Candle(connection_id="c1", symbol="BTC/USDT:USDT", timeframe="1m", ts=ts, open=1.0, high=1.0,
                           low=1.0, close=1.0, volume=1.0))


RETENTION_ROWS: dict[str, tuple[type, int]] = {
    # key: (the rows it keeps, its schema minimum)
    "monitoring.metrics_retention_days": (m.CycleMetric, 7),
    "system.market_data_retention_days": (m.Candle, 7),
}


@pytest.mark.parametrize("key", sorted(RETENTION_ROWS))
async def test_a_retention_period_decides_which_rows_the_cleanup_deletes(services: Services, key: str) -> None:
    model, shortest = RETENTION_ROWS[key]
    longest = 90
    _seed_ages(services, (shortest / 2, shortest + 2, longest + 30))
    services.settings.set_many({"system.automatic_cleanup": True, "monitoring.metrics_retention_days": longest,
                                "system.market_data_retention_days": longest})  # both at their longest
    cleaner = RetentionCleaner(services.db, services.settings.values, first_delay_s=0)
    await cleaner.run_once()
    assert _count(services, model) == 2  # the row past the longest period went, the two recent ones stay
    services.settings.set(key, shortest)
    await cleaner.run_once()
    assert _count(services, model) == 1  # only the row younger than the new period is left
    other = m.Candle if model is m.CycleMetric else m.CycleMetric
    assert _count(services, other) == 2  # the other period did not move
