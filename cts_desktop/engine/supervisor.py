"""The supervisor: restarts a crashed or persistently unhealthy connection engine, within limits.

Every *health check interval* it looks at each engine. An engine in the error state, or unhealthy for
*unhealthy checks before restart* checks in a row, is restarted — at most *max restart attempts* times within the
*restart window*, and never sooner than the *restart cooldown* after the previous attempt. Each attempt is logged
(category ``engine``, message starting with ``auto-restart``, which the Monitoring tab's restart history reads);
when the attempts are used up it gives up, raises a critical alert and leaves the engine stopped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from cts_desktop.engine.engine_config import SupervisorPolicy
from cts_desktop.events.status import EngineState, HealthStatus, TradeEngineStatus

log = logging.getLogger("cts.engine.supervisor")

RESTART_MARKER = "auto-restart"


@dataclass(slots=True)
class Watch:
    unhealthy_checks: int = 0
    attempts: list[float] = field(default_factory=list)
    gave_up: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    connection_id: str
    action: str  # "restart" | "give_up" | "wait"
    reason: str


class Supervisor:
    def __init__(
        self,
        statuses: Callable[[], list[TradeEngineStatus]],
        restart: Callable[[str], Awaitable[None]],
        give_up: Callable[[str, str], Awaitable[None]],
        policy: Callable[[], SupervisorPolicy],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.statuses = statuses
        self.restart = restart
        self.give_up = give_up
        self.policy = policy
        self.clock = clock
        self.watches: dict[str, Watch] = {}

    def decide(self, status: TradeEngineStatus) -> Decision | None:
        policy = self.policy()
        watch = self.watches.setdefault(status.connection_id, Watch())
        if watch.gave_up or not policy.enabled:
            return None
        crashed = status.state is EngineState.ERROR
        unhealthy = status.state is EngineState.RUNNING and status.health is HealthStatus.UNHEALTHY
        if not crashed and not unhealthy:
            watch.unhealthy_checks = 0
            return None
        watch.unhealthy_checks += 1
        if not crashed and watch.unhealthy_checks < policy.unhealthy_checks:
            return None
        now = self.clock()
        watch.attempts = [t for t in watch.attempts if now - t < policy.window_s]
        reason = f"crashed: {status.last_error}" if crashed else f"unhealthy for {watch.unhealthy_checks} checks"
        if len(watch.attempts) >= policy.max_attempts:
            watch.gave_up = True
            return Decision(status.connection_id, "give_up", reason)
        if watch.attempts and now - watch.attempts[-1] < policy.cooldown_s:
            return Decision(status.connection_id, "wait", reason)
        watch.attempts.append(now)
        watch.unhealthy_checks = 0
        return Decision(status.connection_id, "restart", reason)

    async def check_once(self) -> list[Decision]:
        decisions = []
        for status in self.statuses():
            decision = self.decide(status)
            if decision is None:
                continue
            decisions.append(decision)
            watch = self.watches[decision.connection_id]
            extra = {"connection_id": decision.connection_id}
            if decision.action == "restart":
                max_attempts = self.policy().max_attempts
                log.warning("%s attempt %d/%d for %s (%s)", RESTART_MARKER, len(watch.attempts), max_attempts,
                            status.connection_name, decision.reason, extra=extra)
                try:
                    await self.restart(decision.connection_id)
                    log.info("%s of %s succeeded", RESTART_MARKER, status.connection_name, extra=extra)
                except Exception as error:  # the next check sees the error state again
                    log.error("%s of %s failed: %s", RESTART_MARKER, status.connection_name, error, extra=extra)
            elif decision.action == "give_up":
                message = (f"{RESTART_MARKER}: gave up on {status.connection_name} after "
                           f"{len(watch.attempts)} attempts ({decision.reason})")
                log.critical(message, extra=extra)
                await self.give_up(decision.connection_id, message)
        return decisions

    def reset(self, connection_id: str) -> None:
        """A manual start clears the history (the user took over)."""
        self.watches.pop(connection_id, None)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.policy().check_interval_s)
            try:
                await self.check_once()
            except Exception:
                log.exception("supervisor check failed")
