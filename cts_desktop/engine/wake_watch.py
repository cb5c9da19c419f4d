"""Sleep, wake and clock jumps, seen from the asyncio loop: a small watchdog compares two clocks every few seconds.

* The **monotonic** clock does not advance while Linux or macOS sleeps; the **wall** clock does. After a suspend the
  wall clock has moved on by the time asleep while the monotonic clock has not: ``wall − monotonic`` jumps
  forward. An NTP step or a user setting the clock looks the same (forward) or the opposite (back).
* Where the monotonic clock runs on through a suspend (Windows), or the process was stopped (SIGSTOP, a paused
  VM), the tick simply comes late: far more monotonic time passed than the interval.
* An OS signal (Windows ``WM_POWERBROADCAST`` through Qt's native event filter, see ``ui/power_events.py``) calls
  :meth:`WakeWatch.os_resumed`.

Each of them hands one :class:`Wake` to the recovery (``on_wake``); ticks wait while it runs, and the clocks are
read afresh afterwards, so the recovery's own time is not mistaken for another gap. The clock is injectable
(:class:`Clock`) so tests jump it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("cts.engine.wake")

INTERVAL_S = 5.0
THRESHOLD_S = 20.0  # a smaller gap is scheduling noise or an NTP slew, not a sleep


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()


def _duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h {minutes % 60} min"


@dataclass(frozen=True, slots=True)
class Wake:
    """``kind``: ``slept`` (wall clock ahead of the monotonic one: a sleep, or the clock was set forward),
    ``clock_back`` (the wall clock was set back), ``stalled`` (the loop did not run: a suspend where the monotonic
    clock runs on, or a stopped process) or ``os`` (the OS reported a resume)."""

    kind: str
    gap_s: float
    at: float

    def describe(self) -> str:
        return {
            "slept": f"the computer slept or its clock jumped forward ({_duration(self.gap_s)})",
            "clock_back": f"the wall clock jumped back by {_duration(self.gap_s)}",
            "stalled": f"the app did not run for {_duration(self.gap_s)} (suspended)",
        }.get(self.kind, "the operating system reported a resume from sleep")


class WakeWatch:
    def __init__(self, on_wake: Callable[[Wake], Awaitable[object]], clock: Clock | None = None,
                 interval_s: float = INTERVAL_S, threshold_s: float = THRESHOLD_S) -> None:
        self.on_wake = on_wake
        self.clock = clock or SystemClock()
        self.interval_s = interval_s
        self.threshold_s = threshold_s
        self.wakes = 0
        self.looks = 0  # ticks so far (what a caller waits on to know the watch has compared the clocks)
        self._os_signal = asyncio.Event()
        self._mark = (self.clock.monotonic(), self.clock.wall())

    def reset(self) -> None:
        """Read both clocks afresh: the next tick compares against now."""
        self._mark = (self.clock.monotonic(), self.clock.wall())

    def check(self) -> Wake | None:
        """Compare the clocks since the last look (one tick of :meth:`run`)."""
        mono0, wall0 = self._mark
        self.reset()
        mono1, wall1 = self._mark
        mono, wall = mono1 - mono0, wall1 - wall0
        if wall - mono > self.threshold_s:
            return Wake("slept", wall - mono, wall1)
        if mono - wall > self.threshold_s:
            return Wake("clock_back", mono - wall, wall1)
        if mono - self.interval_s > self.threshold_s:
            return Wake("stalled", mono, wall1)
        return None

    def os_resumed(self) -> None:
        """The OS said the machine resumed (call on the loop's thread)."""
        self._os_signal.set()

    async def run(self) -> None:
        """Tick until cancelled; each wake is handled to its end before the next tick."""
        self.reset()
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._os_signal.wait(), timeout=self.interval_s)
            wake = self.check()
            self.looks += 1
            if self._os_signal.is_set():
                self._os_signal.clear()
                wake = wake or Wake("os", 0.0, self.clock.wall())
            if wake is None:
                continue
            self.wakes += 1
            log.warning("wake-up detected: %s", wake.describe())
            try:
                await self.on_wake(wake)
            except Exception:
                log.exception("recovering after the wake-up failed")
            self.reset()


__all__ = ["Clock", "SystemClock", "Wake", "WakeWatch"]
