"""Resume on start, decided: the stored intent (or the mode's rule), and which connections may start — a live one
only within the rules of the live-trading confirmation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cts_desktop.engine.intent import Intent, StoredIntents
from cts_desktop.engine.resume import ConnectionFacts, plan_resume
from cts_desktop.events.status import EngineState

AT = datetime(2026, 12, 8, 11, 3, tzinfo=UTC)
REPLAY = ConnectionFacts("replay", "Replay", enabled=True, active=True, live=False, replay=True, test_passed=True,
                         keys_readable=True)
BYBIT = ConnectionFacts("b1", "Bybit X03", enabled=True, active=True, live=True, replay=False, test_passed=True,
                        keys_readable=True)


def stored(state: EngineState | None) -> StoredIntents:
    return StoredIntents(None if state is None else Intent("*", state, False, AT), {})


@pytest.mark.parametrize(("headless", "resume_on", "intent", "target"), [
    (False, True, None, EngineState.STOPPED),  # never traded here: the window starts stopped, as before
    (True, True, None, EngineState.RUNNING),  # ... and headless starts, as before
    (False, True, EngineState.RUNNING, EngineState.RUNNING),
    (False, True, EngineState.PAUSED, EngineState.PAUSED),
    (True, True, EngineState.STOPPED, EngineState.STOPPED),  # the user stopped it: headless stays stopped too
    (False, False, EngineState.RUNNING, EngineState.STOPPED),  # the setting off: the old behaviour of each mode
    (True, False, EngineState.STOPPED, EngineState.RUNNING),
])
def test_the_target_comes_from_the_intent_or_the_mode(headless: bool, resume_on: bool, intent: EngineState | None,
                                                      target: EngineState) -> None:
    plan = plan_resume(resume_enabled=resume_on, headless=headless, stored=stored(intent),
                       connections=[REPLAY])
    assert plan.target is target
    assert plan.start == (() if target is EngineState.STOPPED else ("replay",))


def test_live_resumes_only_within_the_rules_of_the_live_confirmation() -> None:
    untested = ConnectionFacts("b2", "BingX X01", enabled=True, active=True, live=True, replay=False,
                               test_passed=False, keys_readable=True)
    locked = ConnectionFacts("b3", "OKX", enabled=True, active=True, live=False, replay=False, test_passed=True,
                             keys_readable=False)
    inactive = ConnectionFacts("b4", "Gate", enabled=True, active=False, live=True, replay=False, test_passed=True,
                               keys_readable=True)
    plan = plan_resume(resume_enabled=True, headless=False, stored=stored(EngineState.RUNNING),
                       connections=[REPLAY, BYBIT, untested, locked, inactive])
    assert plan.start == ("replay", "b1")
    assert plan.live == ("Bybit X03",) and plan.paper == ("Replay",)
    assert [(s.name, s.reason.split(" (")[0]) for s in plan.skipped] == [
        ("BingX X01", "live trading needs a passed connection test"),
        ("OKX", "its API keys cannot be read"),
    ]
    summary = plan.summary()
    assert summary.startswith("trading resumed (as it was left at ")
    assert "Bybit X03 LIVE, Replay paper" in summary and "BingX X01 not resumed" in summary


def test_a_stop_is_said_with_its_reason() -> None:
    plan = plan_resume(resume_enabled=False, headless=False, stored=stored(EngineState.RUNNING), connections=[REPLAY])
    assert plan.summary() == ("trading stays stopped (Resume trading on start is off: the window starts with trading "
                              "stopped)")
