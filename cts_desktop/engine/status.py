"""Meters of the engines' loops and the health rules that judge them (DOMAIN Part 2 §6.3). The snapshots they
produce (:class:`~cts_desktop.events.status.LoopStats` and the engine statuses) are event types.

Health of one loop (Part 2 §6.3): *unhealthy* when its success rate is below 80 % or its last cycle took more than
3 × the expected interval; *degraded* below 95 % or above 2 ×; else *healthy*. Overall health is the worst
component. The thresholds come from the Monitoring settings.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from cts_desktop.events.status import HealthStatus, LoopStats


@dataclass(frozen=True, slots=True)
class HealthRules:
    degraded_success_pct: float = 95.0
    unhealthy_success_pct: float = 80.0
    degraded_cycle_factor: float = 2.0
    unhealthy_cycle_factor: float = 3.0


def loop_health(
    cycles: int, errors: int, last_ms: float, expected_interval_ms: float, rules: HealthRules
) -> HealthStatus:
    if cycles == 0:
        return HealthStatus.UNKNOWN
    success = 100.0 * (cycles - errors) / cycles
    ratio = last_ms / expected_interval_ms if expected_interval_ms > 0 else 0.0
    if success < rules.unhealthy_success_pct or ratio > rules.unhealthy_cycle_factor:
        return HealthStatus.UNHEALTHY
    if success < rules.degraded_success_pct or ratio > rules.degraded_cycle_factor:
        return HealthStatus.DEGRADED
    return HealthStatus.HEALTHY


@dataclass(slots=True)
class LoopWindow:
    """Cycles of one loop between two persists."""

    cycles: int
    errors: int
    total_ms: float
    max_ms: float

    @property
    def mean_ms(self) -> float:
        return self.total_ms / self.cycles


@dataclass(slots=True)
class LoopMeter:
    """Counts cycles and errors of a loop and keeps its recent durations (the average is over the last 100)."""

    name: str
    expected_interval_ms: float
    cycles: int = 0
    errors: int = 0
    last_ms: float = 0.0
    last_run_at: float | None = None
    recent_errors: deque[bool] = field(default_factory=lambda: deque(maxlen=200))
    durations: deque[float] = field(default_factory=lambda: deque(maxlen=100))
    window: LoopWindow | None = None  # what ran since the last take_window()

    def record(self, duration_ms: float, ok: bool) -> None:
        self.cycles += 1
        if not ok:
            self.errors += 1
        self.last_ms = duration_ms
        self.last_run_at = time.time()
        self.durations.append(duration_ms)
        self.recent_errors.append(not ok)
        w = self.window
        if w is None:
            self.window = LoopWindow(1, 0 if ok else 1, duration_ms, duration_ms)
        else:
            w.cycles += 1
            w.errors += 0 if ok else 1
            w.total_ms += duration_ms
            w.max_ms = max(w.max_ms, duration_ms)

    def take_window(self) -> LoopWindow | None:
        """The cycles since the previous call (None when the loop did not run): persisted as a cycle-metric row."""
        window, self.window = self.window, None
        return window

    def stats(self, rules: HealthRules) -> LoopStats:
        avg = sum(self.durations) / len(self.durations) if self.durations else 0.0
        # health judges the recent window (so an engine can recover), counts are totals since start
        window = len(self.recent_errors)
        window_errors = sum(self.recent_errors)
        health = loop_health(window, window_errors, self.last_ms, self.expected_interval_ms, rules)
        return LoopStats(
            self.name, self.cycles, self.errors, self.last_ms, avg, self.expected_interval_ms, self.last_run_at, health
        )
