"""Events of the trading runtime (published on the :class:`~cts_desktop.events.bus.EventBus`, key = connection
id): what the dashboard, the tray notifications and the monitoring timeline react to."""

from __future__ import annotations

from dataclasses import dataclass

from cts_desktop.events.bus import Event
from cts_desktop.events.status import EngineStatus, EntryDecision, TradeEngineStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineStatusChanged(Event):
    status: EngineStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class TradeEngineChanged(Event):
    status: TradeEngineStatus


@dataclass(frozen=True, slots=True, kw_only=True)
class Progress(Event):
    """Markets or history loading for a connection: ``done`` of ``total`` steps."""

    what: str
    done: int
    total: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderChanged(Event):
    client_order_id: str
    symbol: str
    status: str
    paper: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionChanged(Event):
    position_id: int
    symbol: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IndicationFired(Event):
    symbol: str
    indication: str
    direction: str
    price: float


@dataclass(frozen=True, slots=True, kw_only=True)
class PriceUpdate(Event):
    symbol: str
    price: float
    ts_ms: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertRaised(Event):
    severity: str
    source: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionsReconciled(Event):
    """One reconciliation with the exchange ended: ``checked`` symbol sides compared, ``differences`` of them not
    equal (waiting or settled now), ``settled`` settled now."""

    checked: int
    differences: int
    settled: int


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDecided(Event):
    """An engine took or refused an entry, and why (key = connection id)."""

    decision: EntryDecision
