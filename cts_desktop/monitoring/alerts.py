"""Computed alerts (DOMAIN Part 2 §11, Part 1 §5) persisted as ``alerts`` rows the user acknowledges.

Rules, each with its thresholds from the Monitoring/System settings:

=================  ========  ==========================================================================
source             severity  condition
=================  ========  ==========================================================================
error_burst        critical  more than ``monitoring.alert_errors_per_10min`` ERROR+ records in 10 min
failed_orders      warning   more than ``monitoring.alert_failed_orders_per_hour`` orders failed/rejected
                             in the last hour (per connection)
engine_error       critical  an engine (``engine_state`` row) is in ``error``
stale_connection   warning   an enabled, active connection whose running engine sent no heartbeat for
                             ``monitoring.alert_connection_stale_min`` minutes
database_size      warning   the database is larger than ``system.max_database_size_gb``
database_writes    critical  the batched writer cannot write (rows wait in memory/spool)
=================  ========  ==========================================================================

A rule raises a new row only when no alert of the same source and connection was raised within its cool-down
(the rule's own window), so an acknowledged alert whose cause persists comes back once per window, not on every
round. The engine coordinator stores its own alerts (source ``engine``: an engine that failed or whose restarts gave
up); one of those for the same connection counts as a recent ``engine_error`` alert, so one incident is not
notified twice.

The rules are evaluated on the services' loop by ``alert_monitor.AlertMonitor`` (GUI or headless, window shown or
not); the Monitoring tab only lists and acknowledges the stored rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cts_desktop.monitoring.stats import ERROR_LEVELNO, HOUR_MS
from cts_desktop.storage.models import Alert, Connection, EngineState, LogRecord, Order

TEN_MIN_MS = 10 * 60_000
FAILED_ORDER_STATUSES: tuple[str, ...] = ("failed", "rejected")
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")
# stored alerts of another source that also count for a rule's cool-down
COVERED_BY: dict[str, tuple[str, ...]] = {"engine_error": ("engine",)}


@dataclass(frozen=True, slots=True)
class AlertThresholds:
    errors_per_10min: int = 10
    failed_orders_per_hour: int = 5
    stale_connection_min: int = 5
    max_database_gb: int = 20

    @classmethod
    def from_settings(cls, values: Mapping[str, object]) -> AlertThresholds:
        def number(key: str, default: int) -> int:
            value = values.get(key, default)
            return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default

        defaults = cls()
        return cls(
            errors_per_10min=number("monitoring.alert_errors_per_10min", defaults.errors_per_10min),
            failed_orders_per_hour=number(
                "monitoring.alert_failed_orders_per_hour", defaults.failed_orders_per_hour
            ),
            stale_connection_min=number("monitoring.alert_connection_stale_min", defaults.stale_connection_min),
            max_database_gb=number("system.max_database_size_gb", defaults.max_database_gb),
        )


@dataclass(frozen=True, slots=True)
class AlertCandidate:
    source: str
    severity: str
    connection_id: str | None
    message: str
    cooldown: timedelta


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    severity: str
    source: str
    connection_id: str | None
    message: str
    created_at: datetime
    acknowledged_at: datetime | None


def evaluate(
    session: Session,
    now: datetime,
    thresholds: AlertThresholds,
    *,
    database_bytes: int | None = None,
    writer_healthy: bool = True,
    writer_error: str | None = None,
) -> list[AlertCandidate]:
    """Every rule whose condition holds at ``now``."""
    now_ms = int(now.timestamp() * 1000)
    found: list[AlertCandidate] = []
    errors = session.execute(
        select(func.count()).where(LogRecord.levelno >= ERROR_LEVELNO, LogRecord.ts_ms >= now_ms - TEN_MIN_MS,
                                   LogRecord.ts_ms <= now_ms)
    ).scalar_one()
    if errors > thresholds.errors_per_10min:
        found.append(AlertCandidate(
            "error_burst", "critical", None,
            f"{errors} errors were logged in the last 10 minutes (alert above {thresholds.errors_per_10min})",
            timedelta(minutes=10),
        ))
    hour_ago = now - timedelta(milliseconds=HOUR_MS)
    failed = session.execute(
        select(Order.connection_id, func.count())
        .where(Order.status.in_(FAILED_ORDER_STATUSES), Order.created_at >= hour_ago)
        .group_by(Order.connection_id)
    ).all()
    for failed_conn, count in failed:
        if count > thresholds.failed_orders_per_hour:
            found.append(AlertCandidate(
                "failed_orders", "warning", str(failed_conn),
                f"{count} orders failed on connection {failed_conn} in the last hour "
                f"(alert above {thresholds.failed_orders_per_hour})",
                timedelta(hours=1),
            ))
    stale_after = timedelta(minutes=thresholds.stale_connection_min)
    active = set(session.execute(
        select(Connection.id).where(Connection.is_enabled.is_(True), Connection.is_active.is_(True))
    ).scalars())
    for state in session.execute(select(EngineState)).scalars():
        conn_id = None if state.connection_id == "*" else state.connection_id
        label = "the engine coordinator" if conn_id is None else f"the engine of {conn_id}"
        if state.status == "error":
            found.append(AlertCandidate(
                "engine_error", "critical", conn_id,
                f"{label} is in error: {state.last_error or 'no message'}", timedelta(hours=1),
            ))
        elif state.status == "running" and state.connection_id in active:
            updated = state.updated_at if state.updated_at.tzinfo else state.updated_at.replace(tzinfo=UTC)
            age = now - updated
            if age > stale_after:
                found.append(AlertCandidate(
                    "stale_connection", "warning", conn_id,
                    f"connection {state.connection_id} sent no update for {int(age.total_seconds() // 60)} min "
                    f"(alert after {thresholds.stale_connection_min} min)",
                    stale_after,
                ))
    if database_bytes is not None and database_bytes > thresholds.max_database_gb * 1024**3:
        found.append(AlertCandidate(
            "database_size", "warning", None,
            f"the database holds {database_bytes / 1024**3:.1f} GB, over the {thresholds.max_database_gb} GB limit",
            timedelta(hours=24),
        ))
    if not writer_healthy:
        found.append(AlertCandidate(
            "database_writes", "critical", None,
            f"database writes are failing ({writer_error or 'unknown error'}); records wait and are retried",
            timedelta(minutes=10),
        ))
    return found


def raise_alerts(session: Session, candidates: Iterable[AlertCandidate], now: datetime) -> list[AlertRow]:
    """Store the candidates that are not within their cool-down; returns the new rows."""
    created: list[Alert] = []
    for candidate in candidates:
        conn_filter = (
            Alert.connection_id.is_(None) if candidate.connection_id is None
            else Alert.connection_id == candidate.connection_id
        )
        recent = session.execute(
            select(func.count()).where(
                Alert.source.in_((candidate.source, *COVERED_BY.get(candidate.source, ()))), conn_filter,
                Alert.created_at >= now - candidate.cooldown,
            )
        ).scalar_one()
        if recent:
            continue
        alert = Alert(
            severity=candidate.severity, source=candidate.source, connection_id=candidate.connection_id,
            message=candidate.message, created_at=now,
        )
        session.add(alert)
        created.append(alert)
    session.flush()
    return [_row(a) for a in created]


def list_alerts(session: Session, include_acknowledged: bool = False, limit: int = 500) -> list[AlertRow]:
    """Open alerts (and, optionally, acknowledged ones), newest first."""
    query = select(Alert)
    if not include_acknowledged:
        query = query.where(Alert.acknowledged_at.is_(None))
    rows = session.execute(query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit)).scalars()
    return [_row(a) for a in rows]


def acknowledge(session: Session, ids: Iterable[int], now: datetime) -> int:
    """Mark open alerts as acknowledged; returns how many were open."""
    wanted = list(ids)
    if not wanted:
        return 0
    result: Any = session.execute(
        update(Alert).where(Alert.id.in_(wanted), Alert.acknowledged_at.is_(None)).values(acknowledged_at=now)
    )
    return int(result.rowcount or 0)


def _row(alert: Alert) -> AlertRow:
    return AlertRow(
        alert.id, alert.severity, alert.source, alert.connection_id, alert.message, alert.created_at,
        alert.acknowledged_at,
    )
