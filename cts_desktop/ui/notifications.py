"""Desktop notifications for fills, engine errors and alerts (and the services' own ``Toast`` events).

Listens to the bridge's batched signals, so a burst of fills becomes one notification. Each notification goes
through :meth:`TrayController.notify`, which also logs it in the ``toast`` category.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from cts_desktop.ui.bridge import EventBridge
from cts_desktop.ui.tray import TrayController

FILLED = ("filled", "partially_filled")


class Notifier(QObject):
    def __init__(self, bridge: EventBridge, tray: TrayController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tray = tray
        self._engine_states: dict[str, str] = {}
        self._coordinator_state = "stopped"
        bridge.orders.connect(self.on_orders)
        bridge.trade_engines.connect(self.on_trade_engines)
        bridge.engine_status.connect(self.on_engine_status)
        bridge.alerts.connect(self.on_alerts)
        bridge.toasts.connect(self.on_toasts)

    def on_orders(self, events: list[Any]) -> None:
        fills = [e for e in events if e.status in FILLED]
        if not fills:
            return
        mode = "paper" if all(e.paper for e in fills) else "live"
        if len(fills) == 1:
            e = fills[0]
            self.tray.notify(f"Order {e.status.replace('_', ' ')} ({mode})", f"{e.symbol} · {e.client_order_id}")
        else:
            symbols = ", ".join(sorted({e.symbol for e in fills}))
            self.tray.notify(f"{len(fills)} orders filled ({mode})", symbols)

    def on_trade_engines(self, engines: dict[str, Any]) -> None:
        for cid, status in engines.items():
            state = status.state.value
            before = self._engine_states.get(cid)
            self._engine_states[cid] = state
            if state == "error" and before != "error":
                self.tray.notify(f"Engine error: {status.connection_name}",
                                 status.last_error or "the engine stopped with an error", critical=True)

    def on_engine_status(self, status: Any) -> None:
        state = status.state.value
        if state == "error" and self._coordinator_state != "error":
            self.tray.notify("Trade engine error", status.last_error or "the coordinator failed", critical=True)
        self._coordinator_state = state
        self.tray.set_state(state)

    def on_alerts(self, alerts: list[Any]) -> None:
        for alert in alerts[-3:]:
            self.tray.notify(f"Alert ({alert.severity})", alert.message,
                             critical=alert.severity in ("critical", "error"))

    def on_toasts(self, toasts: list[Any]) -> None:
        for toast in toasts[-3:]:
            self.tray.notify(toast.title, toast.message, critical=toast.level == "error")
