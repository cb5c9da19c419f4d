"""Dashboard tab: watch and command the engine — metric cards, engine controls, connection cards, the ticker,
the candlestick chart and the positions/orders/trades tables (DOMAIN Part 2 §12, issue 6).

Two update paths: engine events arrive through the :class:`~cts_desktop.ui.bridge.EventBridge` (batched, at most
~5 signals a second) and move the fast-changing parts (engine panel, connection cards, chart, ticker); the window's
refresh timer calls :meth:`refresh` for the database figures. Engine commands run as coroutines via
``tasks.spawn``; the GUI thread never waits on the engine, the exchange or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from cts_desktop.application.dashboard import DashboardPart
from cts_desktop.application.manual import ManualPart
from cts_desktop.events.status import EngineStatus
from cts_desktop.ui.bridge import EventBridge
from cts_desktop.ui.tabs.dashboard_cards import MetricsPanel
from cts_desktop.ui.tabs.dashboard_cockpit import CockpitBar
from cts_desktop.ui.tabs.dashboard_connections import ConnectionsPanel
from cts_desktop.ui.tabs.dashboard_engine import EnginePanel
from cts_desktop.ui.tabs.dashboard_market import ChartPanel, TickerBar
from cts_desktop.ui.tabs.dashboard_tables import TablesPanel
from cts_desktop.ui.tasks import spawn

log = logging.getLogger("cts.ui.dashboard")


class DashboardTab(QWidget):
    def __init__(self, part: DashboardPart, bridge: EventBridge, parent: QWidget | None = None,
                 manual: ManualPart | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.manual = manual
        self.cockpit = CockpitBar()
        self.manual_message = ""
        self.bridge = bridge
        self.banner = QLabel("")
        self.banner.setObjectName("warningBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.command_message = ""
        self.ticker = TickerBar()
        self.metrics = MetricsPanel()
        self.cards = self.metrics.cards
        self.engine = EnginePanel()
        self.connections = ConnectionsPanel(part, self.run)
        self.tables = TablesPanel()
        if manual is not None:
            self.tables.act = lambda what, cid, target: self.run(self.manual_action(what, cid, target),
                                                                 f"manual {what}")
        self.chart_panel: ChartPanel | None = None
        self.chart_holder = QWidget()
        QVBoxLayout(self.chart_holder).setContentsMargins(0, 0, 0, 0)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.setSpacing(6)
        left_layout.addWidget(self.engine)
        title = QLabel("Connections")
        title.setObjectName("panelTitle")
        left_layout.addWidget(title)
        left_layout.addWidget(self.connections, 1)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.chart_holder)
        right.addWidget(self.tables)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        self.chart_holder.setMinimumHeight(240)
        self.tables.setMinimumHeight(140)
        right.setSizes([460, 220])
        self.right_split = right
        self.split = QSplitter(Qt.Orientation.Horizontal)
        self.split.addWidget(left)
        self.split.addWidget(right)
        self.split.setStretchFactor(0, 0)
        self.split.setStretchFactor(1, 1)
        self.split.setSizes([400, 900])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        layout.addWidget(self.banner)
        layout.addWidget(self.ticker)
        layout.addWidget(self.metrics)
        layout.addWidget(self.cockpit)
        layout.addWidget(self.split, 1)
        self.engine.command.connect(lambda name, close: self.run(self.run_command(name, close), f"engine {name}"))
        self.bridge.engine_status.connect(self._on_engine_status)
        self.bridge.trade_engines.connect(self.connections.show_engines)
        self.bridge.trade_engines.connect(lambda engines: self.cockpit.show_engines(engines.values()))
        self.bridge.prices.connect(self._on_prices)
        self.bridge.orders.connect(lambda _b: self._tables_changed())
        self.bridge.positions.connect(lambda _b: self._tables_changed())
        self.bridge.connections_changed.connect(lambda: self.run(self.refresh_connections(), "dashboard cards"))
        self._tables_pending = False
        self.last_status: EngineStatus | None = None

    def run(self, coro: Coroutine[Any, Any, Any], what: str = "dashboard task") -> None:
        spawn(coro, what)

    # --- chart (built after the window is on screen: pyqtgraph loads then) ----------------------------------

    def ensure_chart(self) -> ChartPanel:
        if self.chart_panel is None:
            from cts_desktop.ui.theme import current_theme

            self.chart_panel = ChartPanel(self.part, self.run, current_theme())
            layout = self.chart_holder.layout()
            assert layout is not None
            layout.addWidget(self.chart_panel)
        return self.chart_panel

    def apply_theme(self, theme: str) -> None:
        if self.chart_panel is not None:
            self.chart_panel.chart.apply_theme(theme)

    # --- engine commands ------------------------------------------------------------------------------------------

    async def run_command(self, name: str, close_positions: bool = False) -> EngineStatus | None:
        """Run an engine command; a refusal or failure is shown in the banner, never raised into Qt."""
        self.engine.buttons[name].setEnabled(False)
        try:
            status: EngineStatus | None = await self.part.engine_command(name, close_positions)
            self.command_message = ""
        except Exception as error:
            log.error("engine %s failed: %s", name, error)
            self.command_message = f"{name.capitalize()} failed: {error}"
            status = self.part.engine_status()
        self._on_engine_status(status)
        return status

    def _on_engine_status(self, status: EngineStatus | None) -> None:
        self.last_status = status
        self.engine.show_status(status)
        self.cockpit.show_engines(() if status is None else status.engines, replace=True)
        self._update_banner()

    async def manual_action(self, what: str, connection_id: str, target: object) -> str:
        """close (a position id) | close_symbol (a symbol) | cancel (an order id), through the manual part; the
        outcome is shown under the tables and the tables reload."""
        assert self.manual is not None
        try:
            if what == "close":
                assert isinstance(target, int)
                message = f"Position #{target}: close order {await self.manual.close_position(connection_id, target)}"
            elif what == "close_symbol":
                sent = await self.manual.close_symbol(connection_id, str(target))
                message = f"{target}: {sent} close order(s) sent"
            else:
                assert isinstance(target, int)
                await self.manual.cancel_order(connection_id, target)
                message = f"Order #{target} cancelled"
        except Exception as error:  # refused (engine not running, nothing open) or the exchange said no
            log.warning("manual %s failed: %s", what, error)
            message = f"{what.replace('_', ' ').capitalize()} failed: {error}"
        self.manual_message = message
        self.tables.message.setText(message)
        await self.refresh_tables()
        return message

    def _on_prices(self, prices: dict[tuple[str, str], tuple[float, int]]) -> None:
        if self.chart_panel is not None:
            self.chart_panel.on_prices(prices)
        for (_cid, symbol), (price, _ts) in prices.items():
            self.ticker.on_price(symbol, price)

    def _tables_changed(self) -> None:
        if not self._tables_pending:
            self._tables_pending = True
            self.run(self.refresh_tables(), "dashboard tables")

    # --- refresh ------------------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Reload everything that comes from the database or the exchange (the window calls this every 2 s
        while the Dashboard is visible)."""
        chart = self.ensure_chart()
        self.overview = await self.part.overview()
        metrics = await self.part.metrics()
        self.metrics.show_metrics(metrics)
        self.metrics.show_errors(self.overview.errors_24h, self.overview.warnings_24h)
        await self.refresh_connections()
        self._on_engine_status(self.part.engine_status())
        await self.refresh_tables()
        chart.set_sources(self.part.chart_sources())
        try:
            self.ticker.show_rows(await self.part.ticker())
        except Exception as error:  # the exchange did not answer: keep the last prices, say why in the log
            log.warning("ticker not refreshed: %s", error)

    async def refresh_connections(self) -> None:
        """The connection cards (also when another tab changed a connection: ``ConnectionsChanged``)."""
        self.connections.show_cards(await self.part.connection_cards())

    async def refresh_tables(self) -> None:
        self._tables_pending = False
        self.tables.set_rows("positions", await self.part.positions())
        self.tables.set_rows("orders", await self.part.orders())
        self.tables.set_rows("fills", await self.part.fills())

    def _update_banner(self) -> None:
        warnings = []
        status = self.last_status
        state = "stopped" if status is None else status.state.value
        if state in ("stopped", "error"):
            warnings.append(f"The trade engine is {state}: no positions are opened or managed"
                            + (" (F5 starts it)." if state == "stopped" else "."))
        elif status is not None and status.health.label == "unhealthy":
            warnings.append("The trade engine is unhealthy: a loop fails or runs far behind its interval.")
        overview = getattr(self, "overview", None)
        if overview is not None and not overview.database_healthy:
            warnings.append("Database writes are failing; records are kept and retried.")
        if overview is not None and not overview.secrets_usable:
            warnings.append("API keys cannot be stored: no OS keyring is available or the secrets file is locked "
                            "(Security menu).")
        if self.command_message:
            warnings.append(self.command_message)
        text = " ".join(warnings)
        if self.banner.text() != text:
            self.banner.setText(text)
        self.banner.setVisible(bool(warnings))
