"""The control API's ``/metrics`` in the Prometheus text exposition format (version 0.0.4): ``# HELP`` and ``# TYPE``
once per family, then its samples; label values escaped (backslash, double quote, newline)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from cts_desktop.application.dashboard_data import DashboardMetrics
from cts_desktop.application.remote import Health
from cts_desktop.events.status import EngineState, EngineStatus

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


@dataclass
class Family:
    name: str
    kind: str  # gauge | counter
    help: str
    samples: list[tuple[dict[str, str], float]] = field(default_factory=list)

    def add(self, value: float, **labels: str) -> Family:
        self.samples.append((labels, value))
        return self

    def render(self) -> str:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        for labels, value in self.samples:
            text = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
            lines.append(f"{self.name}{{{text}}} {_number(value)}" if text else f"{self.name} {_number(value)}")
        return "\n".join(lines)


def render(metrics: DashboardMetrics, status: EngineStatus | None, health: Health) -> str:
    engines = status.engines if status is not None else ()
    state = status.state if status is not None else EngineState.STOPPED
    families = [
        Family("cts_up", "gauge", "1 while the app answers; 0 when its database is unusable.").add(
            0.0 if health.status == "down" else 1.0),
        Family("cts_engine_state", "gauge", "The trade engine coordinator's state (1 for the current one).").add(
            1.0, state=state.value),
        Family("cts_engine_uptime_seconds", "gauge", "Seconds since the coordinator started.").add(
            status.uptime_s if status is not None else 0.0),
        Family("cts_connection_engine_running", "gauge", "1 per connection engine running or paused."),
        Family("cts_connection_engine_paper", "gauge", "1 when the connection's engine trades on paper."),
        Family("cts_connection_open_positions", "gauge", "Open Real positions the engine holds."),
        Family("cts_connection_balance_usdt", "gauge", "The account balance the engine read last (USDT)."),
        Family("cts_connection_loop_errors_total", "counter", "Errors of each engine loop since it started."),
        Family("cts_positions_open", "gauge", "Open Real positions by kind (database).").add(
            metrics.live_positions, kind="live").add(metrics.paper_positions, kind="paper").add(
            metrics.pseudo_positions, kind="pseudo"),
        Family("cts_daily_pnl_usdt", "gauge", "Net PnL of the Real positions closed in the last 24 h (USDT).").add(
            float(metrics.daily_pnl)),
        Family("cts_daily_closed_positions", "gauge", "Real positions closed in the last 24 h.").add(
            metrics.daily_closed),
        Family("cts_connections", "gauge", "Connections by state.").add(metrics.connections_total, state="total").add(
            metrics.connections_enabled, state="enabled").add(metrics.connections_active, state="active"),
        Family("cts_database_bytes", "gauge", "Size of the database.").add(metrics.database_bytes,
                                                                            kind=metrics.database_kind),
        Family("cts_database_healthy", "gauge", "1 while the database writer commits.").add(
            1.0 if health.database_healthy else 0.0),
        Family("cts_writer_pending_rows", "gauge", "Rows waiting in the batched writer.").add(health.writer_pending),
        Family("cts_process_cpu_percent", "gauge", "CPU use of this process.").add(metrics.app_cpu_pct),
        Family("cts_process_memory_megabytes", "gauge", "Resident memory of this process.").add(metrics.app_memory_mb),
    ]
    by_name = {f.name: f for f in families}
    for e in engines:
        labels = {"connection": e.connection_name, "connection_id": e.connection_id}
        by_name["cts_connection_engine_running"].add(
            1.0 if e.state in (EngineState.RUNNING, EngineState.PAUSED) else 0.0, **labels)
        by_name["cts_connection_engine_paper"].add(1.0 if e.paper else 0.0, **labels)
        by_name["cts_connection_open_positions"].add(e.real_open, **labels)
        if e.balance_usdt is not None:
            by_name["cts_connection_balance_usdt"].add(e.balance_usdt, **labels)
        for loop in e.loops:
            by_name["cts_connection_loop_errors_total"].add(loop.errors, loop=loop.name, **labels)
    if metrics.balance_usdt is not None:
        families.append(Family("cts_balance_usdt", "gauge", "Total balance over the connections (USDT).").add(
            metrics.balance_usdt))
    return "\n".join(f.render() for f in families) + "\n"


__all__ = ["CONTENT_TYPE", "render"]
