"""Monitoring tab: what happened and how the services are doing.

Overview — log statistics of the last 24 h (by level, by category, errors by category), the hourly error rate
chart, the most frequent errors and the critical errors of the last hour. Activity — the recent engine,
connection, order/exchange and toast records. Logs — the filtered, paged log viewer with details and export.
Health — every service and the auto-restart history. Alerts — the alerts the services' alert monitor raised (in the
background, whether or not this tab or the window is shown), with acknowledge.

Every read runs off the GUI thread through the application's Monitoring part. The window refreshes the visible tab
every 2 s; this tab re-reads at most every ``FULL_REFRESH_S`` seconds unless asked (Refresh button, switching
pages), and never runs two refreshes at once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.decisions import DecisionsPart
from cts_desktop.application.monitoring import MonitoringOverview, MonitoringPart, time_text
from cts_desktop.ui.table import text_table
from cts_desktop.ui.tabs.monitoring_decisions import DecisionsPage
from cts_desktop.ui.tabs.monitoring_health import AlertsPage, HealthPage
from cts_desktop.ui.tabs.monitoring_logs import LogViewer
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.widgets import MetricCard

FULL_REFRESH_S = 10.0


def _short_time(ts_ms: int) -> str:
    return time_text(ts_ms)[:19].replace("T", " ")


def _titled(title: str, widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(QLabel(f"<b>{title}</b>"))
    layout.addWidget(widget, 1)
    return box


class OverviewPage(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards = {
            "records": MetricCard("Records (24 h)"),
            "errors": MetricCard("Errors (24 h)"),
            "critical": MetricCard("Critical (1 h)"),
            "alerts": MetricCard("Open alerts"),
        }
        cards = QHBoxLayout()
        for card in self.cards.values():
            cards.addWidget(card)
        self.chart_slot = QVBoxLayout()
        self.chart_placeholder = QLabel("The error-rate chart appears with the first refresh.")
        self.chart_slot.addWidget(self.chart_placeholder)
        self.chart: QWidget | None = None
        chart_box = QWidget()
        chart_box.setLayout(self.chart_slot)
        self.by_category = text_table("monitoring.by_category", "Category", "Records", "Errors")
        self.by_level = text_table("monitoring.by_level", "Level", "Records")
        counts = QWidget()
        counts_layout = QGridLayout(counts)
        counts_layout.setContentsMargins(0, 0, 0, 0)
        counts_layout.addWidget(_titled("By category (24 h)", self.by_category), 0, 0)
        counts_layout.addWidget(_titled("By level (24 h)", self.by_level), 0, 1)
        self.top_errors = text_table("monitoring.top_errors", "Count", "Last seen (UTC)", "Message")
        self.critical = text_table("monitoring.critical", "Time (UTC)", "Category", "Connection", "Message")
        self.critical_empty = QLabel("No critical errors in the last hour.")
        for table, name in ((self.by_category, "Records by category (24 h)"),
                            (self.by_level, "Records by level (24 h)"),
                            (self.top_errors, "Most frequent errors"),
                            (self.critical, "Critical errors (last hour)")):
            table.setAccessibleName(name)
        middle = QSplitter(Qt.Orientation.Horizontal)
        middle.addWidget(chart_box)
        middle.addWidget(counts)
        middle.setStretchFactor(0, 3)
        middle.setStretchFactor(1, 2)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(_titled("Top errors (24 h)", self.top_errors))
        critical_box = QWidget()
        critical_layout = QVBoxLayout(critical_box)
        critical_layout.setContentsMargins(0, 0, 0, 0)
        critical_layout.setSpacing(2)
        critical_layout.addWidget(QLabel("<b>Critical errors (last hour)</b>"))
        critical_layout.addWidget(self.critical_empty)
        critical_layout.addWidget(self.critical, 1)
        bottom.addWidget(critical_box)
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(middle)
        vertical.addWidget(bottom)
        vertical.setStretchFactor(0, 1)
        vertical.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(cards)
        layout.addWidget(vertical, 1)
        self.data: MonitoringOverview | None = None

    def ensure_chart(self) -> QWidget:
        """Build the pyqtgraph chart on first use (pyqtgraph is imported here, not at start-up)."""
        if self.chart is None:
            from cts_desktop.ui.monitoring_chart import ErrorRateChart

            self.chart = ErrorRateChart()
            self.chart_slot.removeWidget(self.chart_placeholder)
            self.chart_placeholder.deleteLater()
            self.chart_slot.addWidget(self.chart)
        return self.chart

    def show_overview(self, data: MonitoringOverview, open_alerts: int) -> None:
        from cts_desktop.ui.monitoring_chart import ErrorRateChart

        self.data = data
        stats = data.stats
        errors = stats.by_level.get("ERROR", 0) + stats.by_level.get("CRITICAL", 0)
        self.cards["records"].set(f"{stats.total:,}", f"{stats.by_level.get('WARNING', 0):,} warnings")
        worst = next(iter(stats.errors_by_category.items()), None)
        self.cards["errors"].set(f"{errors:,}", f"most in {worst[0]} ({worst[1]:,})" if worst else "none")
        self.cards["critical"].set(f"{len(data.critical):,}", "CRITICAL records")
        self.cards["alerts"].set(f"{open_alerts:,}", "see the Alerts page")
        chart = self.ensure_chart()
        assert isinstance(chart, ErrorRateChart)
        chart.show_buckets(data.hourly)
        self.by_category.fill(
            [(c, f"{n:,}", f"{stats.errors_by_category.get(c, 0):,}") for c, n in stats.by_category.items()]
        )
        self.by_level.fill([(level, f"{n:,}") for level, n in stats.by_level.items()])
        self.top_errors.fill([(f"{e.count:,}", _short_time(e.last_ts_ms), e.message) for e in data.top])
        self.critical.fill([(_short_time(e.ts_ms), e.category, e.connection_id or "", e.message)
                            for e in data.critical])
        self.critical_empty.setVisible(not data.critical)
        self.critical.setVisible(bool(data.critical))


class MonitoringTab(QWidget):
    HEADERS = ("Time (UTC)", "Level", "Category", "Connection", "Message")

    def __init__(self, part: MonitoringPart, parent: QWidget | None = None,
                 decisions: DecisionsPart | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.decisions = DecisionsPage(decisions) if decisions is not None else None
        self.overview = OverviewPage()
        self.table = text_table("monitoring.timeline", *self.HEADERS)  # the activity timeline
        self.table.setAccessibleName("Activity timeline")
        self.logs = LogViewer(part)
        self.health = HealthPage(part)
        self.alerts = AlertsPage(part)
        self.pages = QTabWidget()
        activity = QWidget()
        activity_layout = QVBoxLayout(activity)
        activity_layout.setContentsMargins(0, 0, 0, 0)
        activity_layout.addWidget(QLabel("Engine events, connection changes, orders and exchange calls, toasts — "
                                         "newest first."))
        activity_layout.addWidget(self.table, 1)
        for widget, title in (
            (self.overview, "Overview"), (activity, "Activity"), (self.logs, "Logs"), (self.health, "Health"),
            (self.alerts, "Alerts"),
        ):
            self.pages.addTab(widget, title)
        if self.decisions is not None:
            self.pages.addTab(self.decisions, "Decisions")
        self.updated = QLabel("")
        self.refresh_button = QPushButton("Refresh now")
        self.refresh_button.clicked.connect(lambda: spawn(self.refresh(force=True), "monitoring refresh"))
        bar = QHBoxLayout()
        bar.addWidget(self.updated, 1)
        bar.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)
        self.pages.currentChanged.connect(lambda _i: spawn(self.refresh_page(), "monitoring page"))
        self._last_full: float | None = None
        self._inflight: asyncio.Future[None] | None = None

    async def refresh(self, force: bool = False) -> None:
        """Overview, activity and the visible page; at most every FULL_REFRESH_S s unless ``force``. A call while
        a refresh runs waits for that one (so an awaited refresh always means the data is on screen)."""
        if self._inflight is not None:
            await asyncio.shield(self._inflight)
            if not force:
                return
        now = asyncio.get_running_loop().time()
        if not force and self._last_full is not None and now - self._last_full < FULL_REFRESH_S:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight = done
        try:
            self._last_full = now
            data = await self.part.overview()
            alerts = await self.part.alerts()
            self.overview.show_overview(data, len(alerts))
            await self.refresh_timeline()
            await self.refresh_page(reload_logs=force)
            self.updated.setText(f"Updated {datetime.now(UTC).strftime('%H:%M:%S')} UTC")
        finally:
            self._inflight = None
            done.set_result(None)

    async def refresh_timeline(self) -> None:
        entries = await self.part.timeline()
        self.table.fill([(_short_time(e.ts_ms), e.level, e.category, e.connection_id or "", e.message)
                         for e in entries])

    async def refresh_page(self, reload_logs: bool = False) -> None:
        """The visible page; the log viewer keeps its scroll position unless asked to reload (Refresh now)."""
        page = self.pages.currentWidget()
        if page is self.logs:
            if reload_logs and self.logs.started:
                await self.logs.load_connections()
                await self.logs.reload()
            else:
                await self.logs.start()
        elif page is self.health:
            await self.health.refresh()
        elif page is self.alerts:
            await self.alerts.refresh()
        elif page is not None and page is self.decisions:
            await self.decisions.refresh()
