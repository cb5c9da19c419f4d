"""The Dashboard's metric cards: each value comes from one source named in ``dashboard_data.DashboardMetrics``."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QWidget

from cts_desktop.application.dashboard import DashboardMetrics
from cts_desktop.ui.widgets import MetricCard, human_bytes, set_style_state

CARDS = (
    ("connections", "Active connections"), ("positions", "Open positions"), ("pnl", "Daily P&L (24 h)"),
    ("balance", "Total balance"), ("indications", "Indications"), ("strategies", "Strategies (sets)"),
    ("load", "System load"), ("database", "Database"), ("errors", "Errors (24 h)"),
)


def money(value: float) -> str:
    return f"{value:,.2f}"


class MetricsPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cards = {key: MetricCard(title) for key, title in CARDS}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        for index, card in enumerate(self.cards.values()):
            grid.addWidget(card, 0, index)
            grid.setColumnStretch(index, 1)

    def show_metrics(self, m: DashboardMetrics) -> None:
        c = self.cards
        c["connections"].set(str(m.connections_active),
                             f"{m.connections_enabled} enabled of {m.connections_total}")
        c["positions"].set(str(m.live_positions + m.paper_positions),
                           f"live {m.live_positions} · paper {m.paper_positions} · pseudo {m.pseudo_positions}")
        # paper and live apart: the big figure is live money once any live position closed in the 24 h
        live, live_closed = m.daily("live")
        paper, paper_closed = m.daily("paper")
        shown, other = ("live", "paper") if live_closed else ("paper", "live")
        pnl = float(live if live_closed else paper)
        other_net, other_closed = (paper, paper_closed) if live_closed else (live, live_closed)
        closed = live_closed if live_closed else paper_closed
        c["pnl"].set(f"{pnl:+,.2f}", f"{shown} · {closed} closed · {other} {float(other_net):+,.2f}"
                                     + (f" ({other_closed})" if other_closed else ""))
        set_style_state(c["pnl"].value, "sign", "up" if pnl > 0 else "down" if pnl < 0 else "flat")
        if m.balance_usdt is None:
            c["balance"].set("—", "no balance read yet")
        else:
            source = "from the exchanges" if m.balance_source == "engines" else "last snapshot"
            c["balance"].set(money(m.balance_usdt), f"USDT · {source}")
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(m.indications_by_type.items())) or "none fired yet"
        c["indications"].set(str(m.indication_variants), kinds)
        sets = m.sets_by_status
        c["strategies"].set(str(sets.get("active", 0)),
                            " · ".join(f"{k} {sets.get(k, 0)}" for k in ("evaluating", "paused", "failed")))
        c["load"].set(f"{m.machine_cpu_pct:.0f} % CPU",
                      f"app {m.app_cpu_pct:.0f} % · {m.app_memory_mb:.0f} MB · RAM {m.machine_memory_pct:.0f} %")
        c["database"].set(human_bytes(m.database_bytes), m.database_kind)

    def show_errors(self, errors: int, warnings: int) -> None:
        self.cards["errors"].set(str(errors), f"{warnings} warnings")
