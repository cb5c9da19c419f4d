"""The background runtime over real services (SQLite, the in-process Replay simulator): resume on start follows the
stored intent and *Resume trading on start*; an unclean exit is logged, raised as an alert and told in the notice
the window's banner shows."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from cts_desktop.application.background import BackgroundRuntime
from cts_desktop.engine.intent import COORDINATOR, instance_key, write_intent
from cts_desktop.events.status import EngineState
from cts_desktop.events.trading import AlertRaised
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.models import Alert
from cts_desktop.system.instance import InstanceGuard, Mode
from cts_desktop.system.lifetime import Lifetime
from cts_desktop.system.run_marker import RunMarker, UncleanExit

QUICK = {"overall.prehistoric_days": 1, "overall.use_main_symbols": True, "overall.main_symbols": ["BTC"],
         "overall.forced_symbols": []}


def _services(data_dir: Path, intent: EngineState | None, **settings: object) -> Services:
    services = Services(AppOptions(data_dir=data_dir, console_log=False))
    services.settings.set_many({**QUICK, **settings})
    if intent is not None:
        with services.db.session() as s:
            write_intent(s, instance_key(services.paths.data), COORDINATOR, intent, False)
    return services


async def _run(services: Services, lifetime: Lifetime | None, headless: bool = False) -> tuple[EngineState, str | None,
                                                                                                list[AlertRaised]]:
    alerts: list[AlertRaised] = []
    services.bus.subscribe(AlertRaised, alerts.append)
    services.start(asyncio.get_running_loop())
    runtime = BackgroundRuntime(services, lifetime, headless=headless)

    async def trading():  # type: ignore[no-untyped-def]
        return services.trading

    try:
        notice = await runtime.start(trading)
        state = services.trading.coordinator.state
    finally:
        await runtime.stop()
        await services.stop_monitoring()
        await services.stop_trading()
        await services.bus.drain()
    return state, notice, alerts


@pytest.mark.parametrize(("resume_on", "expected"), [(True, EngineState.RUNNING), (False, EngineState.STOPPED)])
def test_the_window_resumes_the_stored_intent_only_with_the_setting_on(tmp_path: Path, resume_on: bool,
                                                                     expected: EngineState) -> None:
    services = _services(tmp_path, EngineState.RUNNING, **{"system.resume_on_start": resume_on})
    try:
        state, notice, alerts = asyncio.run(_run(services, None))
    finally:
        services.close()
    assert state is expected
    assert notice is None and alerts == []  # a clean restart tells nothing


def test_an_unclean_exit_is_logged_alerted_and_told(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    services = _services(tmp_path, EngineState.PAUSED)
    guard = InstanceGuard.claim(services.paths.data, Mode.WINDOW, [])
    noon = time.time() - 60
    lifetime = Lifetime(guard, RunMarker(services.paths.data), UncleanExit(os.getpid() + 1, "window", noon - 60, noon))
    try:
        state, notice, alerts = asyncio.run(_run(services, lifetime))
        assert services.writer.flush(10)
        with services.db.session() as s:
            stored = [a.message for a in s.execute(select(Alert).where(Alert.source == "system")).scalars()]
    finally:
        services.close()
        guard.release()
    at = time.strftime("%H:%M", time.localtime(noon))
    assert state is EngineState.PAUSED
    assert notice == f"Trading resumed paused (no new entries) after an unclean exit at {at} (crash / power loss)."
    assert [a.message for a in alerts] == [notice] and alerts[0].severity == "warning"
    assert stored == [notice]
    assert f"ended without a clean stop at about {at}" in caplog.text
    assert "trading resumed paused (no new entries) (as it was left at" in caplog.text
