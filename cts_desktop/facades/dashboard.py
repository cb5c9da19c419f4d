"""Dashboard tab, chart and tray: engine commands, metric cards, connection cards, tables, ticker and chart data.

The trading services are built on first use (their imports run in a worker thread), DB reads run in the
database's worker, and the engine's own status snapshot is read on the loop (it is cheap and in memory).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.facades.base import NoStatus, in_thread
from cts_desktop.facades.overview import LogRow, OverviewFacade
from cts_desktop.storage.models import LogRecord, RealPosition


class DashboardFacade(OverviewFacade):
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
        size = await in_thread(services.db.size_bytes)
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
            configs = await in_thread(self.services.trading.connections.list)
        else:  # not built yet (engine never started): read the rows without loading the trading stack
            from cts_desktop.storage.connections_store import SqlConnectionStore

            configs = await in_thread(SqlConnectionStore(self.services.db).list)
        counts = await self.services.db.run(dd.open_by_connection)
        engines = {e.connection_id: e for e in (self.engine_status() or NoStatus).engines}
        return [dd.connection_card(c, engines.get(c.id), counts.get(c.id, 0)) for c in configs]

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
            overlay.markers.extend(await in_thread(dd.pseudo_markers, pipeline.book, since_ms))
        return overlay
