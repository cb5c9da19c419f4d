"""Monitoring › Health agrees with the Dashboard (issue 19): the running coordinator keeps its heartbeat fresh (it
read "no heartbeat for 310 s" while everything ran), and the CPU figures are the Dashboard's (they read 0 % while
the Dashboard showed the load)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from cts_desktop.application.application import Application
from cts_desktop.monitoring.health import HealthStatus, engine_health, now_utc
from cts_desktop.services import Services
from cts_desktop.storage.models import EngineState
from tests.helpers.waiting import until
from tests.ui.conftest import replay_services

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


@pytest.fixture
def fast_services(data_dir: Path) -> Iterator[Services]:
    with replay_services(data_dir) as svc:
        yield svc


def burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))


async def test_health_cpu_is_the_dashboards(services: Services) -> None:
    import asyncio

    services.start(asyncio.get_running_loop())
    app = Application(services)
    app.dashboard.system_load()  # the Dashboard's sampler starts measuring
    worker = threading.Thread(target=burn, args=(1.2,))
    worker.start()
    await until(lambda: not worker.is_alive(), 10, "the CPU burner")
    shown = app.dashboard.system_load()
    rows = {r.name: r for r in await app.monitoring.health()}
    assert shown.machine_cpu_pct > 0
    assert rows["CPU"].value == shown.machine_cpu_pct
    assert rows["app CPU"].value == shown.app_cpu_pct


async def test_running_coordinator_keeps_its_heartbeat(fast_services: Services) -> None:
    import asyncio

    services = fast_services
    services.start(asyncio.get_running_loop())
    app = Application(services)
    trading = await app.load_trading()
    await trading.coordinator.start()
    await trading.coordinator.wait_started(90)
    assert services.writer.flush(10)
    with services.db.session() as s:  # as if the coordinator's row had last been written ten minutes ago
        s.execute(update(EngineState).where(EngineState.connection_id == "*")
                  .values(updated_at=now_utc() - timedelta(minutes=10)))

    async def coordinator() -> tuple[HealthStatus, str]:
        row = next(r for r in await app.monitoring.health() if r.kind == "engine" and r.name == "coordinator")
        return row.status, row.detail

    first = await coordinator()
    assert first[0] is HealthStatus.DEGRADED and "no heartbeat" in first[1]

    def coordinator_now() -> tuple[HealthStatus, str]:
        with services.db.session() as s:
            row = next(r for r in engine_health(s, now_utc()) if r.name == "coordinator")
        return row.status, row.detail

    await until(lambda: coordinator_now()[0] is HealthStatus.OK, 30,
                f"a fresh coordinator heartbeat ({coordinator_now()})")
    assert (await coordinator())[0] is HealthStatus.OK
    await trading.coordinator.stop()
