"""Every setting round-trips Settings tab widget → DB → the running engine, without a restart.

A Replay engine runs on the in-process simulator. Each setting is changed through its own widget; then the value
is in the database, the same engine instance still runs (no restart), reads the new value, and everything it
derives from the settings — indication and activity-gate parameters, the exit matrix, the book parameters, the
gate thresholds and the variant limit of every symbol pipeline, its health rules — equals what the new values
imply. Then the previous value is restored and checked the same way.

``KNOWN_NOT_APPLIED`` lists the settings the running engine does not apply yet (engine/connection_engine.py
``_on_settings``/``_build_pipelines``: a pipeline keeps its set book — with the old book parameters and the old exit
matrix — whenever the matrix keeps its length, and ``strategy.validation_timeout_s`` does not rebuild the
pipelines at all). The test fails when that list changes either way, so a fix removes its entry here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cts_desktop.application.application import Application
from cts_desktop.domain.settings import SETTINGS
from cts_desktop.engine import engine_config as cfg
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID
from cts_desktop.services import AppOptions, Services
from cts_desktop.ui.tabs.settings import DATABASE_URL
from tests.ui.test_settings_tab import enter, make_tab, other_value, settle, stored_row

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])

KNOWN_NOT_APPLIED: list[str] = []  # every setting reaches the running engine

FAST = {  # one symbol, a small matrix and a short prehistory so the engine starts in seconds
    "overall.use_main_symbols": True, "overall.main_symbols": ["BTC"], "overall.forced_symbols": [],
    "overall.prehistoric_days": 1, "overall.market_timeframe_s": 1,
    "indications.activity.enabled": False, "indications.active.enabled": False,
    "indications.direction.range_min": 3, "indications.direction.range_max": 6,
    "indications.move.range_min": 3, "indications.move.range_max": 6,
    "strategy.tp_factors": [2, 4, 8], "strategy.sl_ratios": [0.5, 1.0], "strategy.trailing_starts": [0.6],
    "strategy.trailing_stops": [0.2],
}


@pytest.fixture
def services(data_dir: Path) -> Iterator[Services]:
    svc = Services(AppOptions(data_dir=data_dir, console_log=False, log_level="info", replay_speed=60.0))
    svc.settings.set_many(FAST)
    try:
        yield svc
    finally:
        svc.close()


def _matrix(matrix: Any) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(float(x) for x in getattr(matrix, name)) for name in ("tp", "sl", "trail_start", "trail_stop"))


def applied(engine: Any) -> dict[str, object]:
    """What the running engine works with, per symbol pipeline."""
    state: dict[str, object] = {"health rules": engine._health_rules()}
    for symbol, p in engine.pipelines.items():
        state[symbol] = {
            "indication params": p.indications.params, "activity gate": p.indications.gate.params,
            "matrix": _matrix(p.book.matrix), "book params": p.book.params, "thresholds": p.thresholds,
            "max variants": p.max_variants,
        }
    return state


def implied(engine: Any, values: dict[str, object]) -> dict[str, object]:
    """What the stored settings say the engine should work with."""
    state: dict[str, object] = {"health rules": cfg.health_rules(values)}
    for symbol in engine.pipelines:
        state[symbol] = {
            "indication params": cfg.indication_params(values), "activity gate": cfg.activity_params(values),
            "matrix": _matrix(cfg.exit_matrix(values)), "book params": cfg.book_params(values),
            "thresholds": cfg.gate_thresholds(values, engine._connection_pf()),
            "max variants": int(values["indications.max_variants_per_symbol"]),  # type: ignore[call-overload]
        }
    return state


async def test_every_setting_reaches_the_running_engine_without_a_restart(services: Services) -> None:
    tab = make_tab(services)
    try:
        await check_every_setting(services, tab, Application(services))
    finally:
        await services.stop_trading()


async def check_every_setting(services: Services, tab: Any, app: Application) -> None:
    await app.dashboard.engine_command("start")
    coordinator = (await app.load_trading()).coordinator
    status = await coordinator.wait_started(90)
    engine = coordinator.engines[REPLAY_CONNECTION_ID]
    assert status.engines[0].state.value == "running", status.engines[0]
    assert engine.pipelines and applied(engine) == implied(engine, services.settings.values())
    started_at = engine.started_at
    editable = [d for d in SETTINGS if d.key != DATABASE_URL]  # the URL applies at the next start (its panel)
    not_applied: list[str] = []
    began = time.perf_counter()
    for index, defn in enumerate(editable):
        before = services.settings.values()
        value = other_value(defn, before)
        enter(tab, defn.key, value, index)
        await settle(tab)
        assert stored_row(services, defn.key) == value, defn.key
        assert coordinator.engines.get(REPLAY_CONNECTION_ID) is engine and engine.started_at == started_at, defn.key
        assert engine.state.value in ("running", "paused"), (defn.key, engine.state)
        assert engine.values[defn.key] == value, defn.key
        if applied(engine) != implied(engine, engine.values):
            not_applied.append(defn.key)
        services.settings.set(defn.key, before[defn.key])  # back, so each setting is judged on its own
        await asyncio.sleep(0)
        assert applied(engine) == implied(engine, engine.values) or defn.key in not_applied, defn.key
    assert sorted(not_applied) == sorted(KNOWN_NOT_APPLIED), (
        f"not applied by the running engine: {', '.join(sorted(set(not_applied) - set(KNOWN_NOT_APPLIED)))}; "
        f"now applied (remove from KNOWN_NOT_APPLIED): {', '.join(sorted(set(KNOWN_NOT_APPLIED) - set(not_applied)))}")
    assert time.perf_counter() - began < 120
