"""Resume on start: return trading to the stored intent (:mod:`cts_desktop.engine.intent`) — window and headless.

:func:`plan_resume` decides (pure): the coordinator's target (running / paused / stopped) and which connections
start. The coordinator's own start reconciles every engine with its exchange (orders by client id, positions,
fills) before it trades, so resuming never trades on a stale picture. A live connection resumes live only within
the rules of the live-trading confirmation: its confirmation still stands (``is_live_trade``, which an emergency
stop, a failed test, new keys or disabling clear), its last connection test passed, and its API keys can be read
now (the OS keyring, or the encrypted secrets file unlocked); otherwise it is not started and the reason is told.
The same key rule holds for a paper connection on a real exchange (its engine could not start without keys).

Without a stored intent (never traded on this instance), the window stays stopped and headless mode starts, as
before; with *Resume trading on start* off, so do they whatever was stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cts_desktop.engine.intent import StoredIntents
from cts_desktop.events.status import EngineState, EngineStatus

if TYPE_CHECKING:  # the coordinator pulls the whole engine in: not before the window is up
    from cts_desktop.engine.coordinator import GlobalTradeEngineCoordinator

log = logging.getLogger("cts.engine.resume")

RESUME_SETTING = "system.resume_on_start"


@dataclass(frozen=True, slots=True)
class ConnectionFacts:
    """What the plan needs to know of a connection now."""

    id: str
    name: str
    enabled: bool
    active: bool
    live: bool
    replay: bool
    test_passed: bool
    keys_readable: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class ResumePlan:
    target: EngineState  # RUNNING, PAUSED or STOPPED
    why: str  # where the target comes from, for the log
    start: tuple[str, ...] = ()
    live: tuple[str, ...] = ()  # names of the connections that resume live trading
    paper: tuple[str, ...] = ()
    skipped: tuple[Skipped, ...] = field(default=())

    def summary(self) -> str:
        if self.target is EngineState.STOPPED:
            return f"trading stays stopped ({self.why})"
        parts = [f"{name} LIVE" for name in self.live] + [f"{name} paper" for name in self.paper]
        how = "resumed paused (no new entries)" if self.target is EngineState.PAUSED else "resumed"
        text = f"trading {how} ({self.why}): " + (", ".join(parts) if parts else "no connection to trade")
        for skipped in self.skipped:
            text += f"; {skipped.name} not resumed: {skipped.reason}"
        return text


def plan_resume(*, resume_enabled: bool, headless: bool, stored: StoredIntents,
                connections: list[ConnectionFacts]) -> ResumePlan:
    default = EngineState.RUNNING if headless else EngineState.STOPPED
    mode = "headless mode starts trading" if headless else "the window starts with trading stopped"
    if not resume_enabled:
        target, why = default, f"Resume trading on start is off: {mode}"
    elif stored.coordinator is None:
        target, why = default, f"no earlier trading on this data folder: {mode}"
    else:
        target = stored.coordinator.state
        when = stored.coordinator.changed_at.astimezone().strftime("%Y-%m-%d %H:%M")
        why = f"as it was left at {when}"
    if target is EngineState.STOPPED:
        return ResumePlan(target, why)
    start: list[str] = []
    live: list[str] = []
    paper: list[str] = []
    skipped: list[Skipped] = []
    for c in connections:
        if not (c.enabled and c.active):
            continue
        if c.live and not c.test_passed:
            skipped.append(Skipped(c.name, "live trading needs a passed connection test"))
        elif not c.replay and not c.keys_readable:
            skipped.append(Skipped(c.name, "its API keys cannot be read (no keyring, or the secrets file is locked: "
                                           "Security › Unlock, or CTS_SECRETS_PASSPHRASE headless)"))
        else:
            start.append(c.id)
            (live if c.live else paper).append(c.name)
    return ResumePlan(target, why, tuple(start), tuple(live), tuple(paper), tuple(skipped))


async def resume(coordinator: GlobalTradeEngineCoordinator, plan: ResumePlan) -> EngineStatus:
    """Carry the plan out: start the planned connections (each reconciles with its exchange first), paused when
    that was the intent. Nothing else runs between the start and the pause (no await), so no entry slips in."""
    if plan.target is EngineState.STOPPED:
        log.info("%s", plan.summary())
        return coordinator.status()
    log.log(logging.WARNING if plan.live or plan.skipped else logging.INFO, "%s", plan.summary())
    status = await coordinator.start(only=plan.start)
    if plan.target is EngineState.PAUSED:
        status = coordinator.pause()
    return status


__all__ = ["RESUME_SETTING", "ConnectionFacts", "ResumePlan", "Skipped", "plan_resume", "resume"]
