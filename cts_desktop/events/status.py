"""Typed snapshots of the engines' state (DOMAIN Part 2 §6.3): what the dashboard, the tray, the monitoring tab
and the supervisor read, carried by the engine events. Frozen dataclasses and enums; nothing here does I/O. The
meters that produce them and the health rules live in :mod:`cts_desktop.engine.status`.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass


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


DECISION_KINDS = ("taken", "no_real_set", "cooldown", "kill_switch", "drawdown", "sl_streak", "max_open", "paused",
                  "sizing", "margin", "other")


@dataclass(frozen=True, slots=True)
class EntryDecision:
    """Why an engine took or refused one entry ("why (no) trade"). ``kind`` names the rule, one of
    :data:`DECISION_KINDS` (``margin``: the symbol's margin mode is not yet the connection's); ``reason`` is the
    sentence shown and logged."""

    connection_id: str
    symbol: str
    direction: str
    kind: str
    reason: str
    at: float  # epoch seconds

    @property
    def taken(self) -> bool:
        return self.kind == "taken"


@dataclass(frozen=True, slots=True)
class StreamState:
    """How one kind of exchange data reaches an engine now: prices (websocket or REST polling) and, live, the
    account's own fills/orders/positions (private stream, or the REST sync alone after the stream failed)."""

    name: str  # prices | account
    streaming: bool  # False: REST only (a fallback or the exchange has no stream)
    detail: str  # "websocket", "polling REST every 1 s", "private stream: 4 fills", "REST sync only: <why>"


@dataclass(frozen=True, slots=True)
class ProtectionState:
    """One protection of an engine's entries (daily-loss kill switch, drawdown guard, stop-loss streak guard):
    whether it is on, whether it holds entries back now, the figure it watches and its threshold, as text."""

    name: str  # kill_switch | drawdown | sl_streak
    label: str
    enabled: bool
    tripped: bool
    value: str  # "loss 1.20 %", "drawdown 0.4 %", "BTC/USDT:USDT until 12:35"
    threshold: str  # "5 %", "3 stops → 60 min"

    @property
    def text(self) -> str:
        if not self.enabled:
            return f"{self.label}: off"
        return f"{self.label}: {'TRIPPED' if self.tripped else 'ok'} · {self.value} (limit {self.threshold})"


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
    last_decision: EntryDecision | None = None  # the newest entry decision and its reason
    protections: tuple[ProtectionState, ...] = ()
    streams: tuple[StreamState, ...] = ()  # prices and, live, the account's private stream

    @property
    def uptime_s(self) -> float:
        return _uptime(self.started_at)

    @property
    def success_rate(self) -> float:
        return _success_rate(self.loops)

    @property
    def clock_text(self) -> str:
        """This computer's clock against the exchange's ("3.0 s ahead"); "" before the first measurement."""
        return "" if self.clock_offset_ms is None else describe_offset(self.clock_offset_ms)


def describe_offset(offset_ms: int) -> str:
    """This computer's clock against the exchange's: ``"3.0 s ahead"``, ``"8.0 s behind"``, ``"in step"``."""
    if offset_ms == 0:
        return "in step"
    return f"{abs(offset_ms) / 1000:.1f} s {'behind' if offset_ms > 0 else 'ahead'}"


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
        return _uptime(self.started_at)

    @property
    def active_positions(self) -> int:
        return sum(e.real_open for e in self.engines)

    @property
    def success_rate(self) -> float:
        return _success_rate([loop for e in self.engines for loop in e.loops])


def worst(healths: list[HealthStatus]) -> HealthStatus:
    return max(healths, default=HealthStatus.UNKNOWN)


def _uptime(started_at: float | None) -> float:
    return 0.0 if started_at is None else max(0.0, time.time() - started_at)


def _success_rate(loops: Sequence[LoopStats]) -> float:
    cycles = sum(loop.cycles for loop in loops)
    errors = sum(loop.errors for loop in loops)
    return 100.0 if cycles == 0 else 100.0 * (cycles - errors) / cycles
