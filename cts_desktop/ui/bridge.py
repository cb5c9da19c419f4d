"""EventBus → Qt signals, batched: widgets hear at most one signal per kind per flush (default every 200 ms).

The engines publish many events per second (a price per symbol per second, status on every loop change). The
bridge keeps only the newest status per engine and the newest price per (connection, symbol), queues the rare
events (orders, positions, alerts, toasts) and emits them together on a timer, so no widget repaints more than
about five times a second however busy the engine is. Handlers run on the loop thread, which under qasync is the
GUI thread, so no locking is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from cts_desktop.events.app import ConnectionsChanged, DatabaseDamaged, Toast
from cts_desktop.events.bus import Event, EventBus
from cts_desktop.events.trading import (
    AlertRaised,
    EngineStatusChanged,
    IndicationFired,
    OrderChanged,
    PositionChanged,
    PriceUpdate,
    Progress,
    TradeEngineChanged,
)

FLUSH_MS = 200


class EventBridge(QObject):
    engine_status = Signal(object)  # EngineStatus (newest)
    trade_engines = Signal(object)  # dict connection id → TradeEngineStatus (newest of each that changed)
    prices = Signal(object)  # dict (connection id, symbol) → (price, ts_ms)
    progress = Signal(object)  # dict connection id → Progress
    orders = Signal(object)  # list[OrderChanged]
    positions = Signal(object)  # list[PositionChanged]
    alerts = Signal(object)  # list[AlertRaised]
    toasts = Signal(object)  # list[Toast]
    indications = Signal(int)  # indications fired since the last flush
    connections_changed = Signal()
    database_damaged = Signal(str)  # the message (rare and urgent: emitted at once, not batched)

    def __init__(self, bus: EventBus, interval_ms: int = FLUSH_MS, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bus = bus
        self._engine: Any = None
        self._engines: dict[str, Any] = {}
        self._prices: dict[tuple[str, str], tuple[float, int]] = {}
        self._progress: dict[str, Progress] = {}
        self._orders: list[OrderChanged] = []
        self._positions: list[PositionChanged] = []
        self._alerts: list[AlertRaised] = []
        self._toasts: list[Toast] = []
        self._indications = 0
        self._connections = False
        self.flushes = 0
        self.events_in = 0
        self.last_flush_ms = 0.0
        handlers: list[tuple[type[Event], Callable[[Any], None]]] = [
            (EngineStatusChanged, self._on_engine), (TradeEngineChanged, self._on_trade_engine),
            (PriceUpdate, self._on_price), (Progress, self._on_progress), (OrderChanged, self._orders.append),
            (PositionChanged, self._positions.append), (AlertRaised, self._alerts.append),
            (Toast, self._toasts.append), (IndicationFired, self._on_indication),
            (ConnectionsChanged, self._on_connections),
            (DatabaseDamaged, lambda event: self.database_damaged.emit(event.message)),
        ]
        self._unsubscribe = [bus.subscribe(kind, self._counted(handler)) for kind, handler in handlers]
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def _counted(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        def handle(event: Any) -> None:
            self.events_in += 1
            handler(event)

        return handle

    def _on_engine(self, event: EngineStatusChanged) -> None:
        self._engine = event.status

    def _on_trade_engine(self, event: TradeEngineChanged) -> None:
        self._engines[event.status.connection_id] = event.status

    def _on_price(self, event: PriceUpdate) -> None:
        self._prices[(event.key or "", event.symbol)] = (event.price, event.ts_ms)

    def _on_progress(self, event: Progress) -> None:
        self._progress[event.key or ""] = event

    def _on_indication(self, _event: IndicationFired) -> None:
        self._indications += 1

    def _on_connections(self, _event: ConnectionsChanged) -> None:
        self._connections = True

    def flush(self) -> None:
        """Emit what arrived since the last flush (each kind at most once)."""
        started = time.perf_counter()
        self.flushes += 1
        if self._engine is not None:
            status, self._engine = self._engine, None
            self.engine_status.emit(status)
        if self._engines:
            engines, self._engines = self._engines, {}
            self.trade_engines.emit(engines)
        if self._progress:
            progress, self._progress = self._progress, {}
            self.progress.emit(progress)
        if self._prices:
            prices, self._prices = self._prices, {}
            self.prices.emit(prices)
        for name in ("_orders", "_positions", "_alerts", "_toasts"):
            queued: list[Any] = getattr(self, name)
            if queued:
                batch = list(queued)
                queued.clear()
                getattr(self, name[1:]).emit(batch)
        if self._indications:
            count, self._indications = self._indications, 0
            self.indications.emit(count)
        if self._connections:
            self._connections = False
            self.connections_changed.emit()
        self.last_flush_ms = (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self.timer.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []
