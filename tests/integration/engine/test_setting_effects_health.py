"""Health and auto-restart settings on one running Replay engine (the simulator in-process, real ccxt, real SQLite):

* the health rules decide the loop health the Dashboard shows, judged on the engine's own loop meters — failed
  and slow cycles are recorded into the running orders loop's meter as the loop records its own;
* the order-handling interval sets the pace of the running orders loop;
* auto-restart restarts an engine that stays unhealthy (a new engine, an ``auto-restart`` line in the log) at the
  health-check interval; the restart limits decide, per check, whether the coordinator's supervisor restarts,
  waits or gives up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

import pytest

from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.events.status import EngineState, HealthStatus
from tests.helpers.waiting import until
from tests.integration.engine.test_coordinator_replay import World, make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


def health_after(engine: ConnectionEngine, failed: int, last_factor: float) -> HealthStatus:
    """The orders loop's health right after ``failed`` failed cycles and one that took ``last_factor`` intervals
    (no await in between: the loop's own cycles cannot interleave)."""
    meter = engine.meters["orders"]
    meter.recent_errors.clear()
    for _ in range(failed):
        meter.record(1.0, ok=False)
    for _ in range(100 - failed - 1):
        meter.record(1.0, ok=True)
    meter.record(meter.expected_interval_ms * last_factor, ok=True)
    [loop] = [loop for loop in engine.status().loops if loop.name == "orders"]
    return loop.health


async def started(world: World) -> ConnectionEngine:
    world.settings.set_many({"system.main_engine_enabled": False, "monitoring.auto_restart": False})
    await world.coordinator.start()
    status = await world.coordinator.wait_started(180)
    assert status.engines[0].state is EngineState.RUNNING, status.engines[0]
    return world.coordinator.engines[world.config.id]


HEALTH_ROWS: dict[str, tuple[object, object, int, float, HealthStatus, HealthStatus]] = {
    # key: (value A, value B, failed cycles of 100, last cycle in intervals, health under A, under B)
    "monitoring.unhealthy_success_pct": (90, 50, 15, 1.0, HealthStatus.UNHEALTHY, HealthStatus.DEGRADED),
    "monitoring.degraded_cycle_factor": (2.0, 4.0, 0, 2.5, HealthStatus.DEGRADED, HealthStatus.HEALTHY),
    "monitoring.unhealthy_cycle_factor": (3.0, 6.0, 0, 4.0, HealthStatus.UNHEALTHY, HealthStatus.DEGRADED),
}


async def test_health_settings_change_what_the_running_engine_reports_and_the_supervisor_does(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cts.engine")
    async with make_world(tmp_path) as world:
        engine = await started(world)
        defaults = {k: world.settings.get(k) for k in HEALTH_ROWS}
        for key, (a, b, failed, factor, under_a, under_b) in HEALTH_ROWS.items():
            if key == "monitoring.degraded_cycle_factor":
                world.settings.set("monitoring.unhealthy_cycle_factor", 10.0)
            world.settings.set(key, a)
            assert health_after(engine, failed, factor) is under_a, key
            world.settings.set(key, b)
            assert health_after(engine, failed, factor) is under_b, key
            world.settings.set_many(defaults | {"monitoring.unhealthy_cycle_factor": 3.0})

        # the order-handling interval is the running orders loop's pace
        meter = engine.meters["orders"]
        rates: dict[int, float] = {}
        for interval_ms in (1000, 50):
            world.settings.set("system.order_handling_interval_ms", interval_ms)
            await until(lambda c=meter.cycles: meter.cycles >= c + 2, 10, "the loop on the new interval")
            cycles, began = meter.cycles, time.monotonic()
            enough = cycles + (3 if interval_ms == 1000 else 20)
            await until(lambda n=enough: meter.cycles >= n, 20, "cycles")
            rates[interval_ms] = (meter.cycles - cycles) / (time.monotonic() - began)
        assert rates[1000] <= 1.5 and rates[50] > 3 * rates[1000], rates  # about one a second, then far more

        # auto-restart: an engine unhealthy at one health check is restarted at the next
        world.settings.set_many({"monitoring.auto_restart": True, "monitoring.unhealthy_checks_before_restart": 1,
                                 "monitoring.health_check_interval_s": 5,
                                 "system.order_handling_interval_ms": 1000})  # few good cycles to wash them out
        assert world.coordinator.supervisor.policy().check_interval_s == 5
        for _ in range(200):
            meter.record(1.0, ok=False)  # a loop failing every cycle
        await until(lambda: world.coordinator.engines.get(world.config.id) not in (None, engine), 45,
                    "the engine restarted by the supervisor")
        assert "auto-restart attempt 1/3" in caplog.text
        await world.coordinator.wait_started(180)

        # the limits, check by check, on the coordinator's own supervisor (its clock moved by the test)
        supervisor = world.coordinator.supervisor
        now = [0.0]
        supervisor.clock = lambda: now[0]
        crashed = replace(world.coordinator.engines[world.config.id].status(), state=EngineState.ERROR,
                          last_error="boom")

        def decisions(*at_minutes: float) -> list[str]:
            supervisor.reset(world.config.id)
            out = []
            for minute in at_minutes:
                now[0] = minute * 60.0
                decision = supervisor.decide(crashed)
                out.append("none" if decision is None else decision.action)
            return out

        world.settings.set_many({"monitoring.restart_cooldown_min": 5, "monitoring.max_restart_attempts": 2,
                                 "monitoring.restart_window_hours": 1})
        assert decisions(0, 1, 6, 12) == ["restart", "wait", "restart", "give_up"]
        world.settings.set("monitoring.restart_cooldown_min", 1)  # restart cooldown: no wait after a minute
        assert decisions(0, 1.5, 3) == ["restart", "restart", "give_up"]
        world.settings.set("monitoring.max_restart_attempts", 3)  # one more attempt before giving up
        assert decisions(0, 1.5, 3, 4.5) == ["restart", "restart", "restart", "give_up"]
        world.settings.set("monitoring.restart_window_hours", 24)  # attempts within the window count
        assert decisions(0, 30, 61, 92) == ["restart", "restart", "restart", "give_up"]
        world.settings.set("monitoring.restart_window_hours", 1)  # older ones do not
        assert decisions(0, 30, 61, 92) == ["restart", "restart", "restart", "restart"]
        world.settings.set("monitoring.auto_restart", False)
        assert decisions(0) == ["none"]
        world.settings.set_many({"monitoring.auto_restart": True, "monitoring.unhealthy_checks_before_restart": 3})
        unhealthy = replace(crashed, state=EngineState.RUNNING, health=HealthStatus.UNHEALTHY)
        supervisor.reset(world.config.id)
        assert [getattr(supervisor.decide(unhealthy), "action", "none") for _ in range(3)] == [
            "none", "none", "restart"]
