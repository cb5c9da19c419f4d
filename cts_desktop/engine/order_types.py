"""The values the order manager takes and gives: a Real-layer entry signal, the risk limits it is checked
against, the outcome of an entry, and the report of one reconciliation with the exchange."""

from __future__ import annotations

from dataclasses import dataclass, field

from cts_desktop.domain.sizing import VolumeSettings


@dataclass(frozen=True, slots=True)
class EntrySignal:
    """A Real-layer decision: open ``direction`` on ``symbol`` now, with exits at these distances (fractions of
    the entry price; ``take_profit_frac`` is None when the set trails, then the engine closes it)."""

    symbol: str
    direction: str
    price: float
    stop_loss_frac: float
    take_profit_frac: float | None
    set_id: int | None = None
    label: str = ""
    preset: bool = False  # from the Preset engine: sized with the connection's Preset volume factor


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_open_exchange: int = 100
    max_per_symbol_direction: int = 1
    cooldown_s: float = 60.0
    daily_loss_limit_pct: float = 5.0
    volume: VolumeSettings = field(default_factory=VolumeSettings)
    max_drawdown_pct: float = 0.0  # account drawdown guard (engine/guards.py); 0 = off
    sl_streak_count: int = 0  # stop-loss streak guard; 0 = off
    sl_streak_pause_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    accepted: bool
    reason: str
    client_order_id: str | None = None
    real_position_id: int | None = None
    status: str | None = None


@dataclass(slots=True)
class ReconcileReport:
    resolved: int = 0
    not_sent: int = 0
    still_unknown: int = 0
    external: int = 0
    fills: int = 0
    closed_positions: int = 0
