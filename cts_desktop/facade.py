"""The one door the UI uses to reach the services: queries return plain dataclasses, commands are coroutines.

Nothing here imports Qt. Database reads run in a worker thread (``Database.run``) so the GUI thread never waits
on the database; the UI awaits these coroutines from qasync slots and shows progress while they run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.storage.models import Connection, EngineState, LogRecord, RealPosition

if TYPE_CHECKING:
    from cts_desktop.services import Services


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    id: str
    name: str
    exchange: str
    kind: str
    enabled: bool
    active: bool
    live_trade: bool
    last_test_ok: bool | None
    last_test_message: str | None


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    ts_ms: int
    level: str
    category: str
    connection_id: str | None
    message: str
    exc_text: str | None


@dataclass(frozen=True, slots=True)
class SystemLoad:
    app_cpu_pct: float
    app_memory_mb: float
    machine_cpu_pct: float
    machine_memory_pct: float


@dataclass(frozen=True, slots=True)
class Overview:
    database: str
    database_kind: str
    database_revision: str
    database_size_bytes: int
    database_healthy: bool
    writer_pending: int
    connections_total: int
    connections_enabled: int
    open_positions: int
    engine_status: str
    errors_24h: int
    warnings_24h: int
    secrets_backend: str
    secrets_usable: bool


class AppFacade:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._process: Any = None

    # --- queries ------------------------------------------------------------------------------------------------

    async def overview(self) -> Overview:
        services = self.services
        since = int((time.time() - 24 * 3600) * 1000)

        def read(session: Session) -> tuple[int, int, int, str, int, int]:
            total = session.execute(select(func.count()).select_from(Connection)).scalar_one()
            enabled = session.execute(select(func.count()).where(Connection.is_enabled.is_(True))).scalar_one()
            open_positions = session.execute(
                select(func.count()).where(RealPosition.status.in_(("opening", "open", "closing")))
            ).scalar_one()
            state = session.get(EngineState, "*")
            errors = session.execute(
                select(func.count()).where(LogRecord.ts_ms >= since, LogRecord.levelno >= 40)
            ).scalar_one()
            warnings = session.execute(
                select(func.count()).where(LogRecord.ts_ms >= since, LogRecord.levelno == 30)
            ).scalar_one()
            return total, enabled, open_positions, state.status if state else "stopped", errors, warnings

        total, enabled, open_positions, engine, errors, warnings = await services.db.run(read)
        size = await _in_thread(services.db.size_bytes)
        status = services.secrets.status()
        return Overview(
            database=services.db.display_url,
            database_kind=services.db.dialect,
            database_revision=services.revision,
            database_size_bytes=size,
            database_healthy=services.writer.stats.healthy,
            writer_pending=services.writer.pending,
            connections_total=total,
            connections_enabled=enabled,
            open_positions=open_positions,
            engine_status=engine,
            errors_24h=errors,
            warnings_24h=warnings,
            secrets_backend=services.secrets.backend_name(),
            secrets_usable=status.usable,
        )

    async def connections(self) -> list[ConnectionRow]:
        def read(session: Session) -> list[ConnectionRow]:
            rows = session.execute(select(Connection).order_by(Connection.name)).scalars()
            return [
                ConnectionRow(
                    r.id, r.name, r.exchange, r.kind, r.is_enabled, r.is_active, r.is_live_trade,
                    r.last_test_ok, r.last_test_message,
                )
                for r in rows
            ]

        return await self.services.db.run(read)

    async def recent_logs(self, limit: int = 200, min_level: int = 0) -> list[LogRow]:
        def read(session: Session) -> list[LogRow]:
            rows = session.execute(
                select(LogRecord)
                .where(LogRecord.levelno >= min_level)
                .order_by(LogRecord.id.desc())
                .limit(limit)
            ).scalars()
            return [
                LogRow(r.id, r.ts_ms, r.level, r.category, r.connection_id, r.message, r.exc_text) for r in rows
            ]

        return await self.services.db.run(read)

    def system_load(self) -> SystemLoad:
        """CPU and memory of this process and of the machine (psutil; the first CPU reading is 0 by design)."""
        import psutil

        if self._process is None:
            self._process = psutil.Process(os.getpid())
            self._process.cpu_percent(None)
            psutil.cpu_percent(None)
        memory = psutil.virtual_memory()
        return SystemLoad(
            app_cpu_pct=float(self._process.cpu_percent(None)),
            app_memory_mb=self._process.memory_info().rss / (1024 * 1024),
            machine_cpu_pct=float(psutil.cpu_percent(None)),
            machine_memory_pct=float(memory.percent),
        )

    # --- settings -------------------------------------------------------------------------------------------------

    def settings_values(self) -> dict[str, object]:
        return self.services.settings.values()

    async def set_setting(self, key: str, value: object) -> object:
        return await _in_thread(self.services.settings.set, key, value)

    async def reset_settings(self, keys: list[str]) -> None:
        await _in_thread(self.services.settings.reset, keys)

    # --- settings tab ---

    async def settings_apply(self, values: dict[str, object]) -> tuple[dict[str, object], int]:
        """Validate and store ``values`` in one transaction (all or nothing; SettingsValidationErrors when any is
        invalid). When the position length was lowered, every configuration set is then trimmed to it (the UI
        confirmed that first). Returns the normalised values and the number of results trimmed."""
        services = self.services

        def work() -> tuple[dict[str, object], int]:
            store = services.settings
            old_length = int(store.get("system.position_length"))
            normalised = store.set_many(values)
            return normalised, self._trim_if_lowered(old_length)

        result: tuple[dict[str, object], int] = await _in_thread(work)
        return result

    def _trim_if_lowered(self, old_length: int) -> int:
        from cts_desktop.storage.results import HistoryLimits, trim_all_sets

        store = self.services.settings
        length = int(store.get("system.position_length"))
        if length >= old_length:
            return 0
        limits = HistoryLimits(length, int(store.get("system.position_threshold_pct")))
        with self.services.db.session() as session:
            trimmed = trim_all_sets(session, limits)
        _log("cts.system.settings").info(
            "position length lowered from %d to %d: %d stored results trimmed", old_length, length, trimmed
        )
        return trimmed

    async def settings_trim_preview(self, length: int) -> int:
        """How many stored results a position length of ``length`` would remove."""
        from cts_desktop.storage.results import results_over_length

        return await self.services.db.run(lambda session: results_over_length(session, length))

    def settings_export_text(self) -> str:
        return self.services.settings.export_json()

    async def settings_export(self, path: str) -> None:
        text = self.services.settings.export_json()
        await _in_thread(_write_text, path, text)

    def settings_import_preview(self, text: str) -> dict[str, object]:
        """The values an import would apply, validated as a whole (SettingsImportError when it would be refused),
        without writing anything — so the UI can ask for the confirmations the changes need first."""
        import json

        from cts_desktop.domain import settings as schema
        from cts_desktop.storage.settings_store import EXPORT_FORMAT, SettingsImportError

        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsImportError(f"not a JSON document: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
            raise SettingsImportError("not a CTS Desktop settings export (missing format marker)")
        values = document.get("settings")
        if not isinstance(values, dict):
            raise SettingsImportError("the export has no 'settings' object")
        unknown = sorted(set(values) - set(schema.SETTINGS_BY_KEY))
        if unknown:
            raise SettingsImportError("unknown settings: " + ", ".join(unknown))
        try:
            return schema.validate_many(values, base=self.services.settings.values())
        except schema.SettingsValidationErrors as errors:
            raise SettingsImportError(
                "the import was refused, nothing was changed:\n" + "\n".join(str(e) for e in errors.errors)
            ) from None

    async def settings_import(self, text: str) -> tuple[int, int]:
        """Import an export document (validated as a whole first); returns (settings changed, results trimmed)."""
        services = self.services

        def work() -> tuple[int, int]:
            old_length = int(services.settings.get("system.position_length"))
            changes = services.settings.import_json(text)
            return len(changes), self._trim_if_lowered(old_length)

        result: tuple[int, int] = await _in_thread(work)
        return result

    def database_in_use(self) -> tuple[str, str, str | None]:
        """(dialect, password-free URL) of the database this process uses, and the saved choice for the next
        start (None = the embedded SQLite file)."""
        from cts_desktop.services import database_choice

        return self.services.db.dialect, self.services.db.display_url, database_choice(self.services.paths, None)

    def default_sqlite_path(self) -> str:
        return str(self.services.paths.sqlite_file)

    def _database_target(self, url: str, password: str | None) -> tuple[str, str | None]:
        """The password-free URL and the password to use: typed, part of the URL, or the one in the keyring."""
        from cts_desktop.storage.db import normalise_url
        from cts_desktop.storage.secrets import SecretRef

        parsed = normalise_url(url)
        if parsed.get_backend_name() == "sqlite":
            return parsed.render_as_string(hide_password=False), None
        password = password or (str(parsed.password) if parsed.password else None)
        bare = parsed.set(password=None).render_as_string(hide_password=False)
        if not password:
            password = self.services.secrets.get(SecretRef.database(bare))
        return bare, password

    async def database_test(self, url: str, password: str | None = None) -> tuple[bool, str]:
        """Connect and run ``SELECT 1`` off the GUI thread; (passed, plain message)."""
        from cts_desktop.storage.db import Database

        def work() -> tuple[bool, str]:
            try:
                bare, secret = self._database_target(url, password)
                database = Database(bare, password=secret)
            except Exception as exc:
                return False, _plain_error(exc)
            try:
                latency = database.ping()
                return True, f"Connected to {database.display_url}: SELECT 1 took {latency:.1f} ms."
            except Exception as exc:
                return False, _plain_error(exc)
            finally:
                database.dispose()

        result: tuple[bool, str] = await _in_thread(work)
        return result

    async def database_migrate(self, url: str, password: str | None = None) -> tuple[bool, str]:
        """Create or upgrade the schema of the chosen database (Alembic) off the GUI thread."""
        from cts_desktop.storage.db import Database

        def work() -> tuple[bool, str]:
            try:
                bare, secret = self._database_target(url, password)
                database = Database(bare, password=secret)
            except Exception as exc:
                return False, _plain_error(exc)
            try:
                revision = database.migrate()
                return True, f"{database.display_url} is at schema revision {revision}."
            except Exception as exc:
                return False, _plain_error(exc)
            finally:
                database.dispose()

        result: tuple[bool, str] = await _in_thread(work)
        return result

    async def database_save(self, url: str | None, password: str | None = None) -> str:
        """Remember the database for the next start: None = the embedded SQLite file, an ``sqlite://`` URL, or a
        PostgreSQL URL whose password goes to the keyring (never to a file). Also stored as the
        ``system.database_url`` setting (password-free). Takes effect after a restart."""
        from cts_desktop.services import save_database_choice
        from cts_desktop.storage.secrets import SecretRef

        services = self.services

        def work() -> str:
            if url is None or not url.strip():
                save_database_choice(services.paths, None)
                services.settings.set("system.database_url", "")
                return "The embedded SQLite database will be used after a restart."
            bare, secret = self._database_target(url.strip(), password)
            if not bare.startswith("sqlite") and secret:
                services.secrets.set(SecretRef.database(bare), secret)
            save_database_choice(services.paths, bare)
            services.settings.set("system.database_url", bare)
            from cts_desktop.storage.db import public_url

            return f"Saved: {public_url(bare)} will be used after a restart (data is not copied)."

        result: str = await _in_thread(work)
        return result

    # --- monitoring tab ---

    async def monitoring_overview(self) -> Any:
        """Log statistics, hourly error rate, top errors and criticals of the last hour (stats.MonitoringOverview)."""
        from cts_desktop.monitoring.stats import monitoring_overview

        now = int(time.time() * 1000)
        return await self.services.db.run(lambda session: monitoring_overview(session, now))

    async def activity_timeline(self, limit: int = 200) -> list[Any]:
        from cts_desktop.monitoring.stats import timeline

        return await self.services.db.run(lambda session: timeline(session, limit))

    async def log_page(self, flt: Any, after: tuple[int, int] | None = None, limit: int = 200) -> list[Any]:
        """A page of the log viewer (stats.LogFilter → list of stats.LogEntry), newest first, keyset-paged."""
        from cts_desktop.monitoring.stats import log_page

        return await self.services.db.run(lambda session: log_page(session, flt, after, limit))

    async def log_count(self, flt: Any) -> int:
        from cts_desktop.monitoring.stats import count_logs

        return await self.services.db.run(lambda session: count_logs(session, flt))

    async def log_connections(self) -> list[str]:
        from cts_desktop.monitoring.stats import log_connections

        return await self.services.db.run(log_connections)

    async def export_logs(self, flt: Any, path: str, fmt: str) -> int:
        """Write the records matching ``flt`` to ``path`` as ``csv`` or ``json``; returns the number written."""
        from cts_desktop.monitoring.stats import iter_logs, write_csv, write_json

        if fmt not in ("csv", "json"):
            raise ValueError(f"unknown export format {fmt!r}: use csv or json")

        def work(session: Session) -> int:
            with open(path, "w", encoding="utf-8", newline="") as out:
                entries = iter_logs(session, flt)
                return write_csv(entries, out) if fmt == "csv" else write_json(entries, out, flt)

        return await self.services.db.run(work)

    async def health(self) -> list[Any]:
        """Health rows (monitoring.health.ServiceHealth): database, writer, process and machine load, engines,
        their loops and the enabled connections."""
        from cts_desktop.monitoring import health

        services = self.services
        if getattr(self, "_load_sampler", None) is None:
            self._load_sampler = health.LoadSampler()
        sampler = self._load_sampler

        def work() -> list[Any]:
            rows = [health.database_health(services.db), health.writer_health(services.writer)]
            rows += sampler.sample()
            with services.db.session() as session:
                rows += health.engine_health(session, health.now_utc())
            return rows

        result: list[Any] = await _in_thread(work)
        return result

    async def restart_history(self, limit: int = 100) -> list[Any]:
        from cts_desktop.monitoring.health import restart_history

        return await self.services.db.run(lambda session: restart_history(session, limit))

    async def alerts(self, include_acknowledged: bool = False) -> list[Any]:
        """Evaluate the alert rules (new alerts are stored), then list the alerts (monitoring.alerts.AlertRow)."""
        from datetime import UTC, datetime

        from cts_desktop.monitoring import alerts

        services = self.services
        thresholds = alerts.AlertThresholds.from_settings(services.settings.values())
        size = await _in_thread(services.db.size_bytes)
        stats = services.writer.stats

        def work(session: Session) -> list[Any]:
            now = datetime.now(UTC)
            candidates = alerts.evaluate(
                session, now, thresholds, database_bytes=size, writer_healthy=stats.healthy,
                writer_error=stats.last_error,
            )
            for row in alerts.raise_alerts(session, candidates, now):
                _log("cts.system.alerts").warning("alert (%s): %s", row.severity, row.message)
            return alerts.list_alerts(session, include_acknowledged)

        return await services.db.run(work)

    async def acknowledge_alerts(self, ids: list[int]) -> int:
        from datetime import UTC, datetime

        from cts_desktop.monitoring.alerts import acknowledge

        return await self.services.db.run(lambda session: acknowledge(session, ids, datetime.now(UTC)))


    # --- dashboard ---
    # Engine commands, connection switches and the read models of the Dashboard tab, the chart and the tray.
    # The trading services are built on first use (their imports run in a worker thread), DB reads run in the
    # database's worker, and the engine's own status snapshot is read on the loop (it is cheap and in memory).

    async def dashboard_trading(self) -> Any:
        """The trading services (``services.trading``), importing ccxt/numba/aiohttp off the GUI thread first."""
        if not self.services.trading_loaded:
            import asyncio
            import importlib

            await asyncio.to_thread(importlib.import_module, "cts_desktop.trading")
        return self.services.trading

    def engine_status(self) -> Any:
        """The coordinator's EngineStatus, or None while the trading services are not built (engine stopped)."""
        return self.services.trading.coordinator.status() if self.services.trading_loaded else None

    async def engine_command(self, command: str, close_positions: bool = False) -> Any:
        """start | pause | resume | stop | restart | emergency (emergency closes positions only when asked)."""
        coordinator = (await self.dashboard_trading()).coordinator
        if command == "start":
            return await coordinator.start()
        if command == "pause":
            return coordinator.pause()
        if command == "resume":
            return coordinator.resume()
        if command == "stop":
            return await coordinator.stop()
        if command == "restart":
            return await coordinator.restart()
        if command == "emergency":
            return await coordinator.emergency_stop(close_positions=close_positions)
        raise ValueError(f"unknown engine command {command!r}")

    async def dashboard_metrics(self) -> Any:
        from datetime import UTC, datetime

        from cts_desktop.ui.models import dashboard_data as dd

        services = self.services
        truth = await services.db.run(lambda session: dd.read_db_truth(session, datetime.now(UTC)))
        connections = await self.connections()
        status = self.engine_status()
        engines = status.engines if status is not None else ()
        balance, source = dd.engine_balance(status, truth)
        load = self.system_load()
        size = await _in_thread(services.db.size_bytes)
        active = sum(1 for e in engines if e.connection.value == "connected"
                     and e.state.value in ("running", "paused"))
        return dd.DashboardMetrics(
            connections_total=len(connections), connections_enabled=sum(1 for c in connections if c.enabled),
            connections_active=active, live_positions=truth.positions.live, paper_positions=truth.positions.paper,
            pseudo_positions=sum(e.pseudo_open for e in engines), daily_pnl=truth.daily_pnl,
            daily_closed=truth.daily_closed, balance_usdt=balance, balance_source=source,
            sets_by_status=truth.sets_by_status, indications_by_type=truth.indications_by_type,
            app_cpu_pct=load.app_cpu_pct, app_memory_mb=load.app_memory_mb, machine_cpu_pct=load.machine_cpu_pct,
            machine_memory_pct=load.machine_memory_pct, database_bytes=size, database_kind=services.db.dialect,
        )

    async def dashboard_connections(self) -> list[Any]:
        """The connections with their engine status (None when no engine runs for them) and open positions."""
        from cts_desktop.ui.models import dashboard_data as dd

        if self.services.trading_loaded:
            configs = await _in_thread(self.services.trading.connections.list)
        else:  # not built yet (engine never started): read the rows without loading the trading stack
            from cts_desktop.storage.connections_store import SqlConnectionStore

            configs = await _in_thread(SqlConnectionStore(self.services.db).list)
        counts = await self.services.db.run(dd.open_by_connection)
        engines = {e.connection_id: e for e in (self.engine_status() or _NoStatus).engines}
        return [dd.connection_card(c, engines.get(c.id), counts.get(c.id, 0)) for c in configs]

    async def connection_set_enabled(self, connection_id: str, enabled: bool) -> None:
        """Enable (needs a passed connection test; the offline Replay connection moves no money and needs none)
        or disable a connection; a running coordinator starts or stops its engine accordingly."""
        from dataclasses import replace

        trading = await self.dashboard_trading()
        service = trading.connections
        config = await _in_thread(service.get, connection_id)
        if enabled and config.is_replay:
            await _in_thread(service.update, replace(config, is_enabled=True))
        else:
            await _in_thread(service.set_enabled, connection_id, enabled)
        coordinator = trading.coordinator
        if not enabled:
            await coordinator.stop_connection(connection_id)
        elif coordinator.state.value in ("running", "paused") and config.is_active:
            await coordinator.start_connection(connection_id)
        _log("cts.ui.dashboard").info("connection %s %s", config.name, "enabled" if enabled else "disabled",
                                      extra={"connection_id": connection_id})

    async def connection_set_live_trade(self, connection_id: str, on: bool, typed_name: str = "") -> None:
        """Switch live trading. Switching it on needs the connection's name typed exactly (DOMAIN Part 1 §12);
        a running engine is restarted so it trades on the exchange (or on paper again)."""
        from dataclasses import replace

        from cts_desktop.exchanges.connections import ConnectionRuleError

        trading = await self.dashboard_trading()
        service = trading.connections
        config = await _in_thread(service.get, connection_id)
        if on and typed_name.strip() != config.name:
            raise ConnectionRuleError(f"Live trading stays off: type the connection name {config.name!r} exactly "
                                      "to confirm.")
        await _in_thread(service.update, replace(config, is_live_trade=on))
        _log("cts.ui.dashboard").warning("live trading %s for %s", "ON" if on else "off", config.name,
                                         extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if connection_id in coordinator.engines:
            await coordinator.restart_connection(connection_id)

    async def connection_set_volume_factor(self, connection_id: str, factor: float) -> float:
        """The connection's live volume factor, 0.1–10 in steps of 0.1 (DOMAIN Part 2 §9.7)."""
        from dataclasses import replace

        from cts_desktop.exchanges.connections import ConnectionRuleError

        value = round(float(factor), 1)
        if not 0.1 <= value <= 10.0:
            raise ConnectionRuleError("The volume factor must be between 0.1 and 10.")
        service = (await self.dashboard_trading()).connections
        config = await _in_thread(service.get, connection_id)
        await _in_thread(service.update, replace(config, settings=replace(config.settings, live_volume_factor=value)))
        return value

    async def connection_log(self, connection_id: str, limit: int = 50) -> list[LogRow]:
        def read(session: Session) -> list[LogRow]:
            rows = session.execute(select(LogRecord).where(LogRecord.connection_id == connection_id)
                                   .order_by(LogRecord.id.desc()).limit(limit)).scalars()
            return [LogRow(r.id, r.ts_ms, r.level, r.category, r.connection_id, r.message, r.exc_text) for r in rows]

        return await self.services.db.run(read)

    async def dashboard_positions(self, limit: int = 500) -> list[Any]:
        from cts_desktop.ui.models import dashboard_data as dd

        return await self.services.db.run(lambda session: dd.open_positions(session, limit))

    async def dashboard_orders(self, limit: int = 500) -> list[Any]:
        from cts_desktop.ui.models import dashboard_data as dd

        return await self.services.db.run(lambda session: dd.recent_orders(session, limit))

    async def dashboard_fills(self, limit: int = 500) -> list[Any]:
        from cts_desktop.ui.models import dashboard_data as dd

        return await self.services.db.run(lambda session: dd.recent_fills(session, limit))

    async def open_position_count(self) -> int:
        from cts_desktop.ui.models import dashboard_data as dd

        return await self.services.db.run(
            lambda session: session.execute(select(func.count()).where(
                RealPosition.status.in_(dd.OPEN_STATUSES))).scalar_one())

    def main_symbols(self) -> list[str]:
        """The main symbols of the settings as unified perpetual symbols (``BTC`` → ``BTC/USDT:USDT``)."""
        values = self.services.settings.values()
        quote = str(values.get("overall.quote_asset", "USDT"))
        bases = values.get("overall.main_symbols") or ()
        assert isinstance(bases, tuple | list)
        return [b if "/" in str(b) else f"{b}/{quote}:{quote}" for b in bases]

    async def dashboard_ticker(self) -> list[Any]:
        """Last price and 24 h change of the main symbols from the first running engine's exchange (no engine:
        no prices — nothing is invented)."""
        from cts_desktop.ui.models.dashboard_data import TickerRow

        symbols = self.main_symbols()
        engine = self._first_engine()
        if engine is None or engine.catalog is None:
            return [TickerRow(s, None, None) for s in symbols]
        known = [s for s in symbols if s in engine.catalog.markets]
        tickers = await engine.adapter.tickers(known) if known else {}
        return [TickerRow(s, tickers[s].last if s in tickers else None,
                          tickers[s].change_pct_24h if s in tickers else None) for s in symbols]

    def _first_engine(self) -> Any:
        if not self.services.trading_loaded:
            return None
        engines = self.services.trading.coordinator.engines
        running = [e for e in engines.values() if e.state.value in ("running", "paused")]
        return running[0] if running else None

    def chart_sources(self) -> list[tuple[str, str, str]]:
        """(connection id, connection name, symbol) of every symbol a running engine trades."""
        if not self.services.trading_loaded:
            return []
        return [(e.config.id, e.config.name, s) for e in self.services.trading.coordinator.engines.values()
                for s in e.symbols]

    async def chart_candles(self, connection_id: str, symbol: str, timeframe: str = "1m", bars: int = 10_000,
                            until_ms: int | None = None) -> Any:
        """The newest ``bars`` bars of ``timeframe`` built from the stored 1-minute candles."""
        from cts_desktop.storage.models import Candle
        from cts_desktop.ui.models import dashboard_data as dd

        step = dd.TIMEFRAME_MS[timeframe]
        minutes = min(bars * step // 60_000, 500_000)

        def read(session: Session) -> Any:  # resampled in the worker too: up to 500,000 rows
            query = select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume).where(
                Candle.connection_id == connection_id, Candle.symbol == symbol, Candle.timeframe == "1m")
            if until_ms is not None:
                query = query.where(Candle.ts < until_ms)
            rows = session.execute(query.order_by(Candle.ts.desc()).limit(minutes)).all()
            return dd.resample([tuple(r) for r in reversed(rows)], symbol, timeframe)

        return await self.services.db.run(read)

    async def chart_overlay(self, connection_id: str, symbol: str, since_ms: int) -> Any:
        """Entry/exit markers of Real positions (DB) and pseudo positions (the engine's set book), and the TP/SL
        levels of open Real positions."""
        from datetime import UTC, datetime

        from cts_desktop.ui.models import dashboard_data as dd

        since = datetime.fromtimestamp(since_ms / 1000, UTC)
        rows = await self.services.db.run(lambda s: dd.positions_for_chart(s, connection_id, symbol, since))
        overlay = dd.real_overlay(rows)
        engine = self.services.trading.coordinator.engines.get(connection_id) if self.services.trading_loaded \
            else None
        pipeline = engine.pipelines.get(symbol) if engine is not None else None
        if pipeline is not None:  # a read-only scan of up to millions of ring entries: off the GUI thread
            overlay.markers.extend(await _in_thread(dd.pseudo_markers, pipeline.book, since_ms))
        return overlay


    # --- strategies ---

    @property
    def strategies(self) -> Any:
        """The Strategies service (backtest.service.StrategiesService): history download, backtest and
        auto-optimal runs (worker thread, progress, cancel), stored runs, presets and their assignment."""
        service = getattr(self, "_strategies", None)
        if service is None:
            from cts_desktop.backtest.service import StrategiesService

            service = self._strategies = StrategiesService(self.services)
        return service

    async def strategy_runs(self) -> list[Any]:
        """Stored backtest and auto-optimal runs, newest first (backtest.store.BacktestRow)."""
        return list(await self.strategies.runs())

    async def preset_types(self) -> list[Any]:
        """Preset types (the five predefined ones are created on first call)."""
        return list(await self.strategies.preset_types())

    async def assign_preset(self, connection_id: str, preset_type_id: int | None) -> None:
        """Assign a preset type to a connection (None removes it); the Preset engine trades its sets."""
        await self.strategies.assign(connection_id, preset_type_id)


    # --- connections tab ---
    # List, add (predefined Bybit X03 / BingX X01, any ccxt exchange with swap markets, the offline Replay), edit
    # every option, keys straight to the keyring (only a masked form comes back), the connection test in a worker
    # thread with a live trace, active and delete. Enable and live trade are the dashboard's connection_set_enabled
    # and connection_set_live_trade. Read models: ui/connection_data.py (plain Python, no Qt).

    async def connection_exchanges(self) -> list[Any]:
        """Every ccxt exchange with swap markets (connection_data.ExchangeChoice), computed once in a thread."""
        from cts_desktop.ui.connection_data import swap_exchanges

        return list(await _in_thread(swap_exchanges))

    async def connections_list(self) -> list[Any]:
        """The connections (connection_data.ConnectionItem) with keys present, engine state and live positions."""
        from cts_desktop.ui.connection_data import ConnectionItem

        services = self.services
        if services.trading_loaded:
            configs = await _in_thread(services.trading.connections.list)
        else:  # not built yet: read the rows without loading the trading stack
            from cts_desktop.storage.connections_store import SqlConnectionStore

            configs = await _in_thread(SqlConnectionStore(services.db).list)
        live = await services.db.run(lambda session: self._connection_live_positions(session))
        keys = await _in_thread(self._connection_keys_present, [c.id for c in configs])
        engines = {e.connection_id: e for e in (self.engine_status() or _NoStatus).engines}
        return [
            ConnectionItem(c, keys.get(c.id, False), engines[c.id].state.value if c.id in engines else None,
                           engines[c.id].connection.value if c.id in engines else None, live.get(c.id, 0))
            for c in configs
        ]

    async def connection_detail(self, connection_id: str) -> Any:
        """What the editor shows (connection_data.ConnectionDetail): never a secret, only a masked key."""
        from sqlalchemy import select as sql_select

        from cts_desktop.exchanges.connections import ConnectionRuleError
        from cts_desktop.storage.connections_store import SqlConnectionStore
        from cts_desktop.storage.secrets import SecretRef, SecretStoreError, masked
        from cts_desktop.ui.connection_data import ConnectionDetail, exchange_choice

        secrets = self.services.secrets
        # read without building the trading stack (the window shows the tab before the engine is needed)
        store = self.services.trading.store if self.services.trading_loaded else SqlConnectionStore(self.services.db)

        def work() -> Any:
            config = store.get(connection_id)
            if config is None:
                raise ConnectionRuleError(f"No connection with id {connection_id}.")
            with self.services.db.session() as session:
                api_type = session.execute(sql_select(Connection.api_type).where(
                    Connection.id == connection_id)).scalar_one_or_none() or "perpetual_futures"
                live = self._connection_live_positions(session).get(connection_id, 0)
            key, has_secret, has_password, problem = None, False, False, None
            try:
                key = secrets.get(SecretRef.connection(connection_id, "api_key"))
                has_secret = bool(secrets.get(SecretRef.connection(connection_id, "secret")))
                has_password = bool(secrets.get(SecretRef.connection(connection_id, "password")))
            except SecretStoreError as error:
                problem = str(error)
            return ConnectionDetail(config, api_type, masked(key) if key else None, has_secret, has_password,
                                    exchange_choice(config.exchange_id), live, problem)

        return await _in_thread(work)

    async def connection_add(self, kind: str, exchange_id: str = "", name: str = "") -> Any:
        """Add a connection: ``predefined`` (the Bybit X03 / BingX X01 template; the existing one when it is
        there), ``generic`` (any ccxt exchange with swap markets whose keys the app can keep) or ``replay`` (the
        offline simulator connection). New exchange connections are disabled until keys are entered and tested."""
        import uuid

        from cts_desktop.exchanges.connections import PREDEFINED, ConnectionConfig, ConnectionRuleError
        from cts_desktop.ui import connection_data as cd

        trading = await self.dashboard_trading()
        service = trading.connections

        def work() -> Any:
            configs = service.list()
            taken = {c.name for c in configs}
            if kind == "replay":
                return trading.replay.ensure_connection(trading.store)
            if kind == "predefined":
                template = dict((e, n) for n, e in PREDEFINED).get(exchange_id)
                if template is None:
                    raise ConnectionRuleError(f"There is no predefined connection for {exchange_id!r}.")
                existing = next((c for c in configs if c.is_predefined and not c.is_replay
                                 and c.exchange_id == exchange_id), None)
                if existing is not None:
                    return existing
                config = ConnectionConfig(id=uuid.uuid4().hex[:21], name=cd.unique_name(template, taken),
                                          exchange_id=exchange_id, is_predefined=True)
                service.store.save(config)
            elif kind == "generic":
                choice = cd.exchange_choice(exchange_id)
                if choice is None:
                    raise ConnectionRuleError(f"{exchange_id!r} is not a ccxt exchange with swap markets.")
                if not choice.supported:
                    raise ConnectionRuleError(f"{choice.name} {choice.unsupported_reason}.")
                config = service.create(name.strip() or cd.unique_name(choice.name, taken), exchange_id,
                                        check_exchange=False)
            else:
                raise ValueError(f"unknown connection kind {kind!r}")
            self._connection_set_api_type(config.id, cd.DEFAULT_API_TYPE.get(exchange_id, "perpetual_futures"))
            return config

        config = await _in_thread(work)
        _log("cts.ui.connections").info("connection %s (%s) added", config.name, config.exchange_id,
                                        extra={"connection_id": config.id})
        return config

    async def connection_save(self, connection_id: str, edit: Any) -> Any:
        """Store the editor's fields (connection_data.ConnectionEdit), validated first (ConnectionRuleError with
        every problem). Switching testnet on or off points the keys at another venue: the connection is disabled
        until a new test passes. A running engine of the connection restarts to apply the change."""
        from dataclasses import replace

        from cts_desktop.exchanges.connections import ConnectionRuleError
        from cts_desktop.ui.connection_data import validate_edit

        problems = validate_edit(edit)
        if problems:
            raise ConnectionRuleError("\n".join(problems))
        trading = await self.dashboard_trading()
        service = trading.connections
        name = edit.name.strip()

        def work() -> Any:
            config = service.get(connection_id)
            if any(c.name == name and c.id != connection_id for c in service.list()):
                raise ConnectionRuleError(f"A connection named {name!r} already exists.")
            if config.is_replay and edit.is_testnet:
                raise ConnectionRuleError("The offline Replay connection has no testnet.")
            updated = replace(config, name=name, is_testnet=edit.is_testnet, margin_mode=edit.margin_mode,
                              position_mode=edit.position_mode, settings=edit.settings)
            if edit.is_testnet != config.is_testnet:
                updated = replace(updated, is_enabled=False, is_live_trade=False, is_preset_trade=False,
                                  last_test=None)
            service.update(updated)
            self._connection_set_api_type(connection_id, edit.api_type)
            return updated, replace(updated, name=config.name) != config

        config, trading_changed = await _in_thread(work)
        _log("cts.ui.connections").info("connection %s saved", config.name, extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if connection_id in coordinator.engines and trading_changed:  # a new name alone needs no restart
            if config.is_enabled and config.is_active:
                await coordinator.restart_connection(connection_id)
            else:
                await coordinator.stop_connection(connection_id)
        return config

    async def connection_set_keys(self, connection_id: str, api_key: str, secret: str, password: str = "") -> None:
        """Store the keys in the keyring (never in the DB); the connection is disabled until a new test passes.
        A passphrase is required where the exchange needs one (ccxt requiredCredentials)."""
        from cts_desktop.exchanges.connections import ConnectionRuleError
        from cts_desktop.ui.connection_data import exchange_choice

        api_key, secret, password = api_key.strip(), secret.strip(), password.strip()
        if not api_key or not secret:
            raise ConnectionRuleError("Enter both the API key and the API secret.")
        trading = await self.dashboard_trading()
        service = trading.connections
        config = await _in_thread(service.get, connection_id)
        if config.is_replay:
            raise ConnectionRuleError("The Replay connection's keys are generated for the built-in simulator.")
        choice = await _in_thread(exchange_choice, config.exchange_id)
        if choice is not None and choice.needs_passphrase and not password:
            raise ConnectionRuleError(f"{choice.name} API keys come with a passphrase: enter it too.")
        await _in_thread(service.set_credentials, connection_id, api_key, secret, password or None)
        self._connection_key_cache()[connection_id] = True
        if connection_id in trading.coordinator.engines:
            await trading.coordinator.stop_connection(connection_id)
        _log("cts.ui.connections").info("new API keys stored in the keyring for %s; test the connection to enable "
                                        "it", config.name, extra={"connection_id": connection_id})

    async def connection_test(self, connection_id: str, on_line: Any = None, api_url: str | None = None) -> Any:
        """Run the connection test in a worker thread (its own event loop, so parsing markets never stalls the
        window); ``on_line(text)`` receives the live trace on this loop. A pass enables the connection, a failure
        disables it (the service's rule) and a running coordinator starts or stops its engine to match.
        ``api_url`` points the adapter elsewhere (tests: a running simulator); the Replay connection uses the
        built-in simulator. Returns the ConnectionTestResult."""
        import asyncio

        from cts_desktop.ui.connection_trace import TracingConnectionService

        trading = await self.dashboard_trading()
        config = await _in_thread(trading.connections.get, connection_id)
        if config.is_replay and api_url is None:
            api_url = trading.external_replay or await trading.replay.start()
        loop = asyncio.get_running_loop()

        def emit(text: str) -> None:
            if on_line is not None and not loop.is_closed():
                loop.call_soon_threadsafe(on_line, text)

        service = TracingConnectionService(trading.connections, emit)
        result = await asyncio.to_thread(lambda: asyncio.run(service.test(connection_id, api_url=api_url)))
        _log("cts.ui.connections").log(20 if result.passed else 30, "connection test of %s %s: %s", config.name,
                                       "passed" if result.passed else "failed", result.message,
                                       extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if not result.passed and connection_id in coordinator.engines:
            await coordinator.stop_connection(connection_id)
        elif result.passed and config.is_active and coordinator.state.value in ("running", "paused"):
            await coordinator.start_connection(connection_id)
        return result

    async def connection_set_active(self, connection_id: str, active: bool) -> None:
        """Active connections get an engine while the coordinator runs (and a card on the dashboard)."""
        from dataclasses import replace

        trading = await self.dashboard_trading()
        service = trading.connections
        config = await _in_thread(service.get, connection_id)
        await _in_thread(service.update, replace(config, is_active=active))
        coordinator = trading.coordinator
        if not active:
            await coordinator.stop_connection(connection_id)
        elif config.is_enabled and coordinator.state.value in ("running", "paused"):
            await coordinator.start_connection(connection_id)
        _log("cts.ui.connections").info("connection %s %s", config.name, "active" if active else "inactive",
                                        extra={"connection_id": connection_id})

    async def connection_live_positions(self, connection_id: str) -> int:
        """Open live (non-paper) positions of the connection: opening, open or closing."""
        counts = await self.services.db.run(lambda session: self._connection_live_positions(session))
        return int(counts.get(connection_id, 0))

    async def connection_delete(self, connection_id: str) -> None:
        """Delete a connection, its keys and its stored history; refused while it has open live positions (they
        would be left on the exchange without the app watching them) and for the built-in Replay connection."""
        from cts_desktop.exchanges.connections import ConnectionRuleError

        trading = await self.dashboard_trading()
        service = trading.connections
        config = await _in_thread(service.get, connection_id)
        if config.is_replay:
            raise ConnectionRuleError("The offline Replay connection is built in: switch it off instead.")

        async def refuse_if_live() -> None:
            live = await self.connection_live_positions(connection_id)
            if live:
                raise ConnectionRuleError(
                    f"{config.name} has {live} open live position{'s' if live != 1 else ''} on the exchange. "
                    "Close them first: deleting now would leave them unwatched.")

        await refuse_if_live()
        coordinator = trading.coordinator
        running = connection_id in coordinator.engines
        if running:
            await coordinator.stop_connection(connection_id)
        try:
            await refuse_if_live()  # the engine may have opened one between the check and its stop
        except ConnectionRuleError:
            if running:
                await coordinator.start_connection(connection_id)
            raise
        await _in_thread(service.delete, connection_id)
        self._connection_key_cache().pop(connection_id, None)
        _log("cts.ui.connections").warning("connection %s deleted", config.name)

    # helpers of the connections tab

    def _connection_key_cache(self) -> dict[str, bool]:
        cache: dict[str, bool] | None = getattr(self, "_connection_keys", None)
        if cache is None:
            cache = {}
            self._connection_keys: dict[str, bool] = cache
        return cache

    def _connection_keys_present(self, ids: list[str]) -> dict[str, bool]:
        """Whether key and secret are stored, asked of the keyring once per connection (then cached)."""
        from cts_desktop.storage.secrets import SecretRef, SecretStoreError

        cache = self._connection_key_cache()
        secrets = self.services.secrets
        for cid in ids:
            if cid in cache:
                continue
            try:
                cache[cid] = bool(secrets.get(SecretRef.connection(cid, "api_key"))) and bool(
                    secrets.get(SecretRef.connection(cid, "secret")))
            except SecretStoreError:
                return {**cache, **{i: cache.get(i, False) for i in ids}}
        return dict(cache)

    @staticmethod
    def _connection_live_positions(session: Session) -> dict[str, int]:
        rows = session.execute(
            select(RealPosition.connection_id, func.count())
            .where(RealPosition.paper.is_(False), RealPosition.status.in_(("opening", "open", "closing")))
            .group_by(RealPosition.connection_id)).all()
        return {str(cid): int(n) for cid, n in rows}

    def _connection_set_api_type(self, connection_id: str, api_type: str) -> None:
        """The account/API type lives in the row's ``api_type`` column (ConnectionConfig does not carry it)."""
        with self.services.db.session() as session:
            row = session.get(Connection, connection_id)
            if row is not None:
                row.api_type = api_type


class _NoStatus:
    engines: tuple[Any, ...] = ()


async def _in_thread(fn: Any, *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(fn, *args)


def _write_text(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.write(text)


def _plain_error(exc: BaseException) -> str:
    """A one-line message for the user; database errors are already plain and password-free."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _log(name: str) -> Any:
    import logging

    return logging.getLogger(name)
