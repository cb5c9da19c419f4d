"""Dashboard tab: the state of the app at a glance (engine, connections, positions, database, system load)."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from cts_desktop.facade import AppFacade
from cts_desktop.ui.widgets import MetricCard, human_bytes


class DashboardTab(QWidget):
    def __init__(self, facade: AppFacade, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facade = facade
        self.banner = QLabel("")
        self.banner.setObjectName("warningBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.cards = {
            "engine": MetricCard("Trade engine"),
            "connections": MetricCard("Connections"),
            "positions": MetricCard("Open positions"),
            "database": MetricCard("Database"),
            "load": MetricCard("System load"),
            "errors": MetricCard("Errors (24 h)"),
        }
        grid = QGridLayout()
        for index, card in enumerate(self.cards.values()):
            grid.addWidget(card, index // 3, index % 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.banner)
        layout.addLayout(grid)
        layout.addStretch(1)

    async def refresh(self) -> None:
        overview = await self.facade.overview()
        load = self.facade.system_load()
        self.cards["engine"].set(overview.engine_status.capitalize(), "Paper trading by default")
        self.cards["connections"].set(
            str(overview.connections_total), f"{overview.connections_enabled} enabled"
        )
        self.cards["positions"].set(str(overview.open_positions), "Real positions open")
        self.cards["database"].set(
            human_bytes(overview.database_size_bytes),
            f"{overview.database_kind} · revision {overview.database_revision}"
            + ("" if overview.database_healthy else " · WRITES FAILING"),
        )
        self.cards["load"].set(
            f"{load.machine_cpu_pct:.0f} % CPU",
            f"app {load.app_cpu_pct:.0f} % CPU, {load.app_memory_mb:.0f} MB · machine memory "
            f"{load.machine_memory_pct:.0f} %",
        )
        self.cards["errors"].set(str(overview.errors_24h), f"{overview.warnings_24h} warnings")
        warnings = []
        if overview.engine_status in ("stopped", "error"):
            warnings.append(f"The trade engine is {overview.engine_status}.")
        if not overview.database_healthy:
            warnings.append("Database writes are failing; records are kept and retried.")
        if not overview.secrets_usable:
            warnings.append(
                "API keys cannot be stored: no OS keyring is available or the secrets file is locked "
                "(Security menu: store secrets in an encrypted file, or unlock it)."
            )
        self.banner.setText(" ".join(warnings))
        self.banner.setVisible(bool(warnings))
