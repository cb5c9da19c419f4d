"""System tab: engines and their loop intervals, database history length and size, symbol refresh, retention,
logging and window behaviour (DOMAIN Part 1 §5, §10; Part 2 §6.5, §8.6, §9.6)."""

from __future__ import annotations

from cts_desktop.domain.settings_schema.builder import TabBuilder
from cts_desktop.domain.settings_schema.model import Tab

_b = TabBuilder(Tab.SYSTEM)

_b.group("Engines")
_b.flag(
    "system.main_engine_enabled", "Main engine enabled", True,
    help="Runs the step-based indication pipeline (Base → Main → Real → Exchange) on every active connection.",
    confirm="Disabling the Main engine stops all new Main-mode entries on every connection. Open exchange "
    "positions keep their exchange-side TP/SL. Continue?",
)
_b.flag(
    "system.preset_engine_enabled", "Preset engine enabled", True,
    help="Runs the common-indicator (Preset) pipeline on every connection that has Preset Trade on.",
    confirm="Disabling the Preset engine stops all new Preset-mode entries on every connection. Open exchange "
    "positions keep their exchange-side TP/SL. Continue?",
)
_b.flag(
    "system.resume_on_start", "Resume trading on start", True,
    help="At start the app returns trading to what it was when it last ran (running, paused or stopped, per "
    "connection) after reconciling with each exchange; live connections only where live trading is still "
    "confirmed and their keys can be read. Off: the window starts with trading stopped (F5 starts it) and headless "
    "mode always starts it.",
)
_b.integer(
    "system.order_handling_interval_ms", "Active order handling interval", 50, 50, 1000, 50, unit="ms",
    help="How often the order/real loop syncs live orders, fills and positions with the exchange.",
)
_b.integer(
    "system.persist_interval_ms", "Persistence batch interval", 1000, 500, 5000, 500, unit="ms",
    help="High-rate rows (closed pseudo results, logs, metrics) are written in one batch this often, so no "
    "engine loop waits on a commit.",
)
_b.integer(
    "system.exchange_sync_interval_s", "Exchange sync interval", 5, 1, 60, 1, unit="s",
    help="How often fills, positions, funding and the balance are read from the exchange and reconciled.",
)
_b.flag(
    "system.persist_pseudo_results", "Store every pseudo result", False,
    help="Keep each closed pseudo position in the database (trimmed per set to the position length). Off: only "
    "set statistics and book snapshots are stored, which is far less data.",
)

_b.group("Database")
_b.text(
    "system.database_url", "Database URL", "", 500, text_format="database_url", restart=True,
    help="Empty: the embedded SQLite database in the data folder. Otherwise a PostgreSQL URL without its "
    "password — the password is kept in the OS keyring. Takes effect at the next start.",
    confirm="The app will use the other database from the next start; data is not copied. Continue?",
)
_b.integer(
    "system.backup_interval_hours", "Backup interval", 6, 1, 168, 1, unit="h",
    help="How often the SQLite database is copied to a verified backup in the backups folder of the data "
    "folder (a PostgreSQL server is backed up with its own tools, see Backups below).",
)
_b.integer(
    "system.backup_count", "Backups kept", 10, 1, 50, 1,
    help="Backups kept of each kind (periodic, manual, before a schema upgrade); the oldest is deleted once a "
    "new one has passed its check.",
)
_b.integer(
    "system.position_length", "Database position length", 250, 50, 500, 50, unit="",
    help="Closed results kept per configuration set (its history ring). Statistics windows read from it.",
    confirm="Lowering the position length trims every configuration set to its newest results; the older "
    "results are deleted for good. Continue?",
)
_b.integer(
    "system.position_threshold_pct", "Database position threshold", 20, 10, 50, 5, unit="%",
    help="A set's history is trimmed back to the position length once it exceeds it by this much "
    "(250 at 20 % trims at 300), so trimming is a rare batch, not a per-result delete.",
)
_b.integer(
    "system.max_database_size_gb", "Overall database size", 20, 5, 50, 5, unit="GB",
    help="Checked every 10 minutes: over this, the oldest candles, then logs, cycle metrics and stored pseudo "
    "results are deleted until the database is under 90 % of it, and the space is given back to the disk (a "
    "warning in the log and on the Database page says what went). Orders, fills and positions are never deleted.",
)
_b.flag(
    "system.automatic_cleanup", "Automatic database cleanup", True,
    help="Deletes market data, indication states and logs older than their retention periods.",
)
_b.integer(
    "system.cleanup_interval_hours", "Cleanup interval", 24, 1, 168, 1, unit="h",
    help="How often the retention cleanup runs.",
)
_b.choice(
    "system.market_data_retention_days", "Market data retention", 30,
    [(7, "7 days"), (14, "14 days"), (30, "30 days"), (60, "60 days"), (90, "90 days")], unit="days",
    help="Recorded prices and candles older than this are deleted by the cleanup.",
)

_b.group("Symbols")
_b.choice(
    "system.symbol_update_interval_min", "Symbol update interval", 60,
    [(15, "15 min"), (30, "30 min"), (60, "1 h"), (120, "2 h"), (360, "6 h")], unit="min",
    help="How often each connection re-ranks the exchange's tradable perpetuals and refreshes its symbols.",
)
_b.integer(
    "system.volatility_period_hours", "Volatility calculation period", 1, 1, 24, 1, unit="h",
    help="Window over which symbol volatility is measured for the 'volatility' symbol order.",
)

_b.group("Logging")
_b.choice(
    "system.log_level", "Log level", "info",
    [("debug", "Debug"), ("info", "Info"), ("warning", "Warning"), ("error", "Error"), ("critical", "Critical")],
    help="Lowest level written to the log file and the database.",
)
_b.integer(
    "system.log_retention_days", "Log retention", 30, 1, 365, 1, unit="days",
    help="Log records older than this are deleted by the cleanup.",
)

_b.group("Interface")
_b.flag(
    "system.close_to_tray", "Close to tray", True,
    help="Closing the main window hides it to the system tray and keeps the engines running; quit from the "
    "tray menu.",
)

_b.flag(
    "system.start_at_login", "Start at login", False,
    help="Starts CTS Desktop when you log in to this computer (Linux: XDG autostart entry, macOS: LaunchAgent, "
    "Windows: the Run key of your user), so trading resumes after a reboot without you. Off removes the entry.",
)
_b.flag(
    "system.start_minimized", "Start minimized to the tray", False,
    help="When started at login, only the tray icon appears; the window opens from the tray (on a desktop without "
    "a tray the window is shown).",
)

SYSTEM_SETTINGS = _b.build()
