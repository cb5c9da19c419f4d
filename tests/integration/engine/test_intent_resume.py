"""Trading intents on the Replay connection (simulator in-process, real SQLite): a start and a pause are recorded,
the stop to quit is not, and resuming returns the coordinator to the stored state (paused: engines paused)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from cts_desktop.engine.intent import COORDINATOR, IntentRecorder, load_intents
from cts_desktop.engine.resume import ConnectionFacts, plan_resume, resume
from cts_desktop.events.status import EngineState
from cts_desktop.storage.models_intent import TradingIntent
from tests.integration.engine.test_coordinator_replay import make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


def _rows(world, instance: str) -> dict[str, tuple[str, bool]]:  # type: ignore[no-untyped-def]
    assert world.writer.flush(10)
    with world.db.session() as s:
        rows = s.execute(select(TradingIntent).where(TradingIntent.instance == instance)).scalars()
        return {r.connection_id: (r.state, r.live) for r in rows}


async def test_commands_are_intents_a_quit_is_not_and_resume_returns_to_them(tmp_path: Path) -> None:
    async with make_world(tmp_path, live=False) as world:
        world.settings.set_many({"overall.prehistoric_days": 1})
        recorder = IntentRecorder(world.bus, world.writer, "here")
        other = IntentRecorder(world.bus, world.writer, "elsewhere")  # another instance on the same database
        other.freeze()
        coordinator = world.coordinator
        await coordinator.start()
        await coordinator.wait_started(120)
        coordinator.pause()
        replay = world.config.id
        assert _rows(world, "here") == {COORDINATOR: ("paused", False), replay: ("paused", False)}
        recorder.freeze()  # the app quits: the stop that follows is no intent
        await coordinator.stop()
        assert _rows(world, "here")[COORDINATOR] == ("paused", False)
        assert _rows(world, "elsewhere") == {}

        stored = await load_intents(world.db, "here")
        facts = [ConnectionFacts(replay, "Replay", enabled=True, active=True, live=False, replay=True,
                                 test_passed=True, keys_readable=True)]
        plan = plan_resume(resume_enabled=True, headless=False, stored=stored, connections=facts)
        assert plan.target is EngineState.PAUSED
        again = IntentRecorder(world.bus, world.writer, "here")
        again.know(stored)
        status = await resume(coordinator, plan)
        assert status.state is EngineState.PAUSED
        assert coordinator.engines[replay].paused  # no entry before the user resumes
        await coordinator.wait_started(120)
        assert coordinator.engines[replay].state is EngineState.PAUSED
        coordinator.resume()
        await coordinator.stop()  # a stop from the window: recorded
        assert _rows(world, "here")[COORDINATOR] == ("stopped", False)


async def test_start_with_only_leaves_the_others_stopped(tmp_path: Path) -> None:
    async with make_world(tmp_path, live=False) as world:
        status = await world.coordinator.start(only=())
        assert status.state is EngineState.RUNNING and world.coordinator.engines == {}
