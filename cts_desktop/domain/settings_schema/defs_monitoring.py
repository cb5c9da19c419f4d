"""Monitoring tab: health checks, the engine auto-restart supervisor, metrics retention and alert thresholds
(DOMAIN Part 2 §6.3, §6.5, §9.2, §11)."""

from __future__ import annotations

from cts_desktop.domain.settings_schema.builder import TabBuilder
from cts_desktop.domain.settings_schema.model import Tab

_b = TabBuilder(Tab.MONITORING)

_b.group("Health")
_b.flag(
    "monitoring.enabled", "System monitoring", True,
    help="Collect engine health, metrics and alerts.",
)
_b.integer(
    "monitoring.health_check_interval_s", "Engine health check interval", 10, 5, 60, 5, unit="s",
    help="How often each connection engine's loop health is computed.",
)
_b.integer(
    "monitoring.global_health_interval_s", "Global health interval", 30, 10, 300, 10, unit="s",
    help="How often the coordinator summarises all engines.",
)
_b.integer(
    "monitoring.degraded_success_pct", "Degraded below success rate", 95, 50, 100, 1, unit="%",
    help="A loop whose cycle success rate is below this is degraded.",
)
_b.integer(
    "monitoring.unhealthy_success_pct", "Unhealthy below success rate", 80, 10, 100, 1, unit="%",
    help="A loop whose cycle success rate is below this is unhealthy.",
)
_b.decimal(
    "monitoring.degraded_cycle_factor", "Degraded cycle length", 2.0, 1.5, 10.0, 0.5, unit="× interval",
    help="A loop whose last cycle took longer than this many intervals is degraded.",
)
_b.decimal(
    "monitoring.unhealthy_cycle_factor", "Unhealthy cycle length", 3.0, 1.5, 10.0, 0.5, unit="× interval",
    help="A loop whose last cycle took longer than this many intervals is unhealthy.",
)

_b.group("Auto-restart")
_b.flag(
    "monitoring.auto_restart", "Auto-restart on errors", True,
    help="Restart a connection engine that crashed or stayed unhealthy; give up with a critical alert after "
    "the maximum attempts.",
)
_b.integer(
    "monitoring.unhealthy_checks_before_restart", "Unhealthy checks before restart", 3, 1, 10, 1,
    help="Consecutive unhealthy health checks that count as a failure to restart from.",
)
_b.integer(
    "monitoring.restart_cooldown_min", "Restart cooldown", 5, 1, 30, 1, unit="min",
    help="Wait between two restart attempts of the same engine.",
)
_b.integer(
    "monitoring.max_restart_attempts", "Maximum restart attempts", 3, 1, 10, 1,
    help="Restart attempts per engine within the restart window before giving up.",
)
_b.integer(
    "monitoring.restart_window_hours", "Restart window", 1, 1, 24, 1, unit="h",
    help="Period over which restart attempts are counted.",
)

_b.group("Retention")
_b.integer(
    "monitoring.metrics_retention_days", "Metrics retention", 30, 7, 90, 1, unit="days",
    help="Metrics samples older than this are deleted.",
)

_b.group("Alerts")
_b.integer(
    "monitoring.alert_failed_orders_per_hour", "Failed orders alert", 5, 1, 100, 1, unit="per hour",
    help="Warn when more orders than this failed within the last hour.",
)
_b.integer(
    "monitoring.alert_connection_stale_min", "Stale connection alert", 5, 1, 60, 1, unit="min",
    help="Warn when an enabled trading connection received no update for this long.",
)
_b.integer(
    "monitoring.alert_errors_per_10min", "Error burst alert", 10, 1, 1000, 1, unit="per 10 min",
    help="Raise a critical alert when more error records than this were logged within 10 minutes.",
)

_b.group("Notifications")
_b.flag(
    "monitoring.notify_fill", "Notify fills", True,
    help="Send a notification for every filled order (through the notification URLs below).",
)
_b.flag(
    "monitoring.notify_position_closed", "Notify closed positions", True,
    help="Send a notification when a position is closed, with its net PnL.",
)
_b.flag(
    "monitoring.notify_engine", "Notify engine errors and restarts", True,
    help="Send a notification when a connection engine fails, is restarted, or is not started (and why).",
)
_b.flag(
    "monitoring.notify_guard", "Notify kill switch and guards", True,
    help="Send a notification when the daily-loss kill switch or another entry guard trips.",
)
_b.flag(
    "monitoring.notify_alert", "Notify other alerts", True,
    help="Send a notification for every other alert (stale connection, error bursts, reconciliation, clock skew).",
)
_b.flag(
    "monitoring.notify_daily_summary", "Daily summary", True,
    help="Send a summary of the last 24 hours (closed positions and their net PnL, open positions) once a day.",
)
_b.integer(
    "monitoring.notify_summary_hour", "Daily summary at", 20, 0, 23, 1, unit="h",
    help="The hour (this computer's local time) the daily summary is sent at.",
)
_b.flag(
    "monitoring.notify_paper", "Include paper trading", False,
    help="Also notify fills and closed positions of paper trading (off: live trading only).",
)
_b.integer(
    "monitoring.notify_max_per_minute", "Notification rate limit", 10, 1, 60, 1, unit="per min",
    help="At most this many notifications are sent per minute; the rest are counted and the count is told with "
    "the next one sent.",
)

MONITORING_SETTINGS = _b.build()
