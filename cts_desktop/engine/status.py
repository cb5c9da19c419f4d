"""Typed snapshots of the engines' state (DOMAIN Part 2 §6.3): what the dashboard, the tray, the monitoring tab
and the supervisor read. All are frozen dataclasses built from live meters; nothing here does I/O.

Health of one loop (Part 2 §6.3): *unhealthy* when its success rate is below 80 % or its last cycle took more than
3 × the expected interval; *degraded* below 95 % or above 2 ×; else *healthy*. Overall health is the worst
component. The thresholds come from the Monitoring settings.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from dataclasses import dataclass, field

from cts_desktop.exchanges.clock import describe_offset


class EngineState(enum.StrEnum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    ERROR = "error"


class ConnectionStatus(enum.StrEnum):
    DISABLED = "disabled"
    CONNECTING = "connecting"
    LOADING = "loading"
    CONNECTED = "connected"
    ERROR = "error"


class HealthStatus(enum.IntEnum):
    """Ordered so that ``max`` gives the worst."""

    HEALTHY = 0
    UNKNOWN = 1
    DEGRADED = 2
    UNHEALTHY = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True, slots=True)
class HealthRules:
    degraded_success_pct: float = 95.0
    unhealthy_success_pct: float = 80.0
    degraded_cycle_factor: float = 2.0
    unhealthy_cycle_factor: float = 3.0


@dataclass(frozen=True, slots=True)
class LoopStats:
    """One loop of one engine (e.g. ``main``, ``orders``, ``sync``)."""

    name: str
    cycles: int
    errors: int
    last_ms: float
    avg_ms: float
    expected_interval_ms: float
    last_run_at: float | None
    health: HealthStatus

    @property
    def success_rate(self) -> float:
        return 100.0 if self.cycles == 0 else 100.0 * (self.cycles - self.errors) / self.cycles


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


@dataclass(frozen=True, slots=True)
class TradeEngineStatus:
    """One connection's engine."""

    connection_id: str
    connection_name: str
    state: EngineState
    connection: ConnectionStatus
    paper: bool
    paused: bool
    started_at: float | None
    loops: tuple[LoopStats, ...]
    health: HealthStatus
    symbols: tuple[str, ...]
    pseudo_open: int
    real_open: int
    sets_by_status: dict[str, int]
    balance_usdt: float | None
    progress: float | None  # 0..1 while markets/history load, else None
    progress_text: str
    last_error: str | None
    # the exchange's clock minus this computer's (ms; None before the first measurement), and whether that is a skew
    # worth showing (over 1 s; exchanges/clock.py)
    clock_offset_ms: int | None = None
    clock_skewed: bool = False

    @property
    def uptime_s(self) -> float:
        return 0.0 if self.started_at is None else max(0.0, time.time() - self.started_at)

    @property
    def success_rate(self) -> float:
        cycles = sum(loop.cycles for loop in self.loops)
        errors = sum(loop.errors for loop in self.loops)
        return 100.0 if cycles == 0 else 100.0 * (cycles - errors) / cycles

    @property
    def clock_text(self) -> str:
        """This computer's clock against the exchange's ("3.0 s ahead"); "" before the first measurement."""
        return "" if self.clock_offset_ms is None else describe_offset(self.clock_offset_ms)


@dataclass(frozen=True, slots=True)
class ConnectionEngineState:
    """What the coordinator keeps per connection between restarts (supervisor bookkeeping)."""

    connection_id: str
    restarts: int
    last_restart_at: float | None
    gave_up: bool


@dataclass(frozen=True, slots=True)
class SystemStats:
    cpu_pct: float
    memory_pct: float
    app_cpu_pct: float
    app_memory_mb: float


@dataclass(frozen=True, slots=True)
class MonitoringStats:
    errors_last_hour: int
    writer_pending: int
    writer_healthy: bool
    database_ping_ms: float | None


@dataclass(frozen=True, slots=True)
class EngineStatus:
    """The process-wide coordinator."""

    state: EngineState
    started_at: float | None
    main_enabled: bool
    preset_enabled: bool
    engines: tuple[TradeEngineStatus, ...]
    health: HealthStatus
    last_error: str | None

    @property
    def uptime_s(self) -> float:
        return 0.0 if self.started_at is None else max(0.0, time.time() - self.started_at)

    @property
    def active_positions(self) -> int:
        return sum(e.real_open for e in self.engines)

    @property
    def success_rate(self) -> float:
        cycles = sum(loop.cycles for e in self.engines for loop in e.loops)
        errors = sum(loop.errors for e in self.engines for loop in e.loops)
        return 100.0 if cycles == 0 else 100.0 * (cycles - errors) / cycles


def worst(healths: list[HealthStatus]) -> HealthStatus:
    return max(healths, default=HealthStatus.UNKNOWN)
