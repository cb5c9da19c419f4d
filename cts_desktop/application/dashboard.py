"""The Dashboard screen (and the chart): engine commands, metric cards, connection cards with their switches,
the tables, the ticker and chart data. Read models: ``dashboard_data.py`` (re-exported here for the tab).

The trading services are built on first use (their imports run in a worker thread), DB reads run in the
database's worker, and the engine's own status snapshot is read on the loop (it is cheap and in memory).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.application import dashboard_data as dd
from cts_desktop.application.common import TradingAccess, in_thread
from cts_desktop.application.connection_switches import ConnectionSwitches
from cts_desktop.application.dashboard_data import (
    TIMEFRAME_MS,
    CandleSeries,
    ChartOverlay,
    ConnectionCard,
    DashboardMetrics,
    FillRow,
    Marker,
    OrderRow,
    PositionRow,
    TickerRow,
)
from cts_desktop.application.overview import LogRow, Overview, OverviewPart, connection_rows, log_rows
from cts_desktop.events.status import EngineStatus
from cts_desktop.monitoring.health import LoadSampler, SystemLoad, shared_sampler
from cts_desktop.services import Services
from cts_desktop.storage.models import Candle

if TYPE_CHECKING:
    from cts_desktop.engine.connection_engine import ConnectionEngine

__all__ = [
    "TIMEFRAME_MS", "CandleSeries", "ChartOverlay", "ConnectionCard", "DashboardMetrics", "DashboardPart",
    "FillRow", "LogRow", "Marker", "OrderRow", "PositionRow", "TickerRow",
]

ENGINE_COMMANDS = ("start", "pause", "resume", "stop", "restart", "emergency")


class DashboardPart:
    def __init__(self, services: Services, trading: TradingAccess, switches: ConnectionSwitches,
                 overview: OverviewPart) -> None:
        self.services = services
        self.trading = trading
        self.switches = switches
        self._overview = overview
        self._load: LoadSampler | None = None

    async def overview(self) -> Overview:
        """The app overview (errors of the last day, database and keyring health) for the cards and banner."""
        return await self._overview.overview()

    # --- engine -------------------------------------------------------------------------------------------------

    async def engine_command(self, command: str, close_positions: bool = False) -> EngineStatus:
        """start | pause | resume | stop | restart | emergency (emergency closes positions only when asked)."""
        if command not in ENGINE_COMMANDS:
            raise ValueError(f"unknown engine command {command!r}")
        coordinator = (await self.trading.get()).coordinator
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
        return await coordinator.emergency_stop(close_positions=close_positions)

    def engine_status(self) -> EngineStatus | None:
        """The running coordinator's status; None while the engine was never started in this process."""
        return self.trading.status()

    # --- cards --------------------------------------------------------------------------------------------------

    def system_load(self) -> SystemLoad:
        """CPU and memory of this process and of the machine (the first CPU reading is 0 by design)."""
        if self._load is None:
            self._load = shared_sampler()
        return self._load.read()

    async def metrics(self) -> DashboardMetrics:
        services = self.services
        truth = await services.db.run(lambda session: dd.read_db_truth(session, datetime.now(UTC)))
        connections = await services.db.run(connection_rows)
        status = self.trading.status()
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
            daily_closed=truth.daily_closed, daily_by_kind=truth.daily_by_kind, balance_usdt=balance,
            balance_source=source,
            sets_by_status=truth.sets_by_status, indications_by_type=truth.indications_by_type,
            app_cpu_pct=load.app_cpu_pct, app_memory_mb=load.app_memory_mb, machine_cpu_pct=load.machine_cpu_pct,
            machine_memory_pct=load.machine_memory_pct, database_bytes=size, database_kind=services.db.dialect,
        )

    async def connection_cards(self) -> list[ConnectionCard]:
        """The connections with their engine status (None when no engine runs for them) and open positions."""
        configs = await self.trading.connection_configs()
        counts = await self.services.db.run(dd.open_by_connection)
        engines = self.trading.engine_statuses()
        return [dd.connection_card(c, engines.get(c.id), counts.get(c.id, 0)) for c in configs]

    async def connection_log(self, connection_id: str, limit: int = 50) -> list[LogRow]:
        return await self.services.db.run(lambda session: log_rows(session, limit, connection_id=connection_id))

    # --- tables -------------------------------------------------------------------------------------------------

    async def positions(self, limit: int = 500) -> list[PositionRow]:
        return await self.services.db.run(lambda session: dd.open_positions(session, limit))

    async def orders(self, limit: int = 500) -> list[OrderRow]:
        return await self.services.db.run(lambda session: dd.recent_orders(session, limit))

    async def fills(self, limit: int = 500) -> list[FillRow]:
        return await self.services.db.run(lambda session: dd.recent_fills(session, limit))

    # --- ticker and chart ---------------------------------------------------------------------------------------

    def main_symbols(self) -> list[str]:
        """The main symbols of the settings as unified perpetual symbols (``BTC`` → ``BTC/USDT:USDT``)."""
        values = self.services.settings.values()
        quote = str(values.get("overall.quote_asset", "USDT"))
        bases = values.get("overall.main_symbols") or ()
        assert isinstance(bases, tuple | list)
        return [b if "/" in str(b) else f"{b}/{quote}:{quote}" for b in bases]

    async def ticker(self) -> list[TickerRow]:
        """Last price and 24 h change of the main symbols from the first running engine's exchange (no engine:
        no prices — nothing is invented)."""
        symbols = self.main_symbols()
        engine = self._first_engine()
        if engine is None or engine.catalog is None:
            return [TickerRow(s, None, None) for s in symbols]
        known = [s for s in symbols if s in engine.catalog.markets]
        tickers = await engine.adapter.tickers(known) if known else {}
        return [TickerRow(s, tickers[s].last if s in tickers else None,
                          tickers[s].change_pct_24h if s in tickers else None) for s in symbols]

    def _first_engine(self) -> ConnectionEngine | None:
        running = [e for e in self.trading.engines().values() if e.state.value in ("running", "paused")]
        return running[0] if running else None

    def chart_sources(self) -> list[tuple[str, str, str]]:
        """(connection id, connection name, symbol) of every symbol a running engine trades."""
        return [(e.config.id, e.config.name, s) for e in self.trading.engines().values() for s in e.symbols]

    async def chart_candles(self, connection_id: str, symbol: str, timeframe: str = "1m", bars: int = 10_000,
                            until_ms: int | None = None) -> CandleSeries:
        """The newest ``bars`` bars of ``timeframe`` built from the stored 1-minute candles."""
        step = dd.TIMEFRAME_MS[timeframe]
        minutes = min(bars * step // 60_000, 500_000)

        def read(session: Session) -> CandleSeries:  # resampled in the worker too: up to 500,000 rows
            query = select(Candle.ts, Candle.open, Candle.high, Candle.low, Candle.close, Candle.volume).where(
                Candle.connection_id == connection_id, Candle.symbol == symbol, Candle.timeframe == "1m")
            if until_ms is not None:
                query = query.where(Candle.ts < until_ms)
            rows = session.execute(query.order_by(Candle.ts.desc()).limit(minutes)).all()
            candles = [(int(r[0]), float(r[1]), float(r[2]), float(r[3]), float(r[4]), float(r[5]))
                       for r in reversed(rows)]
            return dd.resample(candles, symbol, timeframe)

        return await self.services.db.run(read)

    async def chart_overlay(self, connection_id: str, symbol: str, since_ms: int) -> ChartOverlay:
        """Entry/exit markers of Real positions (DB) and pseudo positions (the engine's set book), and the TP/SL
        levels of open Real positions."""
        since = datetime.fromtimestamp(since_ms / 1000, UTC)
        rows = await self.services.db.run(lambda s: dd.positions_for_chart(s, connection_id, symbol, since))
        overlay = dd.real_overlay(rows)
        engine = self.trading.engines().get(connection_id)
        pipeline = engine.pipelines.get(symbol) if engine is not None else None
        if pipeline is not None:  # a read-only scan of up to millions of ring entries: off the GUI thread
            overlay.markers.extend(await in_thread(dd.pseudo_markers, pipeline.book, since_ms))
        return overlay
