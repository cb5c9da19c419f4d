"""The Strategies screen: history download, backtest and auto-optimal runs off the event loop and the GUI thread,
their storage, presets and their assignment to connections. No Qt here.

CPU work runs in a worker thread (``asyncio.to_thread``); the compiled kernels release the GIL and use both
cores through numba's threads. Progress callbacks are called from that worker thread: the UI keeps only the
newest :class:`~cts_desktop.backtest.jobs.ProgressInfo` and reads it from a timer on its own thread.

The names the Strategies tab works with (requests, rows, reports, cancel tokens) are re-exported here, so the tab
imports only this part.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from cts_desktop.application.common import TradingAccess
from cts_desktop.application.overview import ConnectionRow, connection_rows
from cts_desktop.backtest import store
from cts_desktop.backtest.history import HistoryReport, download_history, load_bars, timeframe_ms
from cts_desktop.backtest.jobs import Cancelled, CancelToken, ProgressFn, ProgressInfo
from cts_desktop.backtest.optimal import OptimalRequest, OptimalResult, OptimalRow, run_optimal
from cts_desktop.backtest.presets import (
    ConfigurationSetDef,
    adjust_params_from,
    exit_params_from,
    fixed_set_problem,
    for_preset_mode,
)
from cts_desktop.backtest.runner import BacktestReport, FixedSet, Trade, run_backtest
from cts_desktop.backtest.signals import COMMON, INDICATIONS, MAIN, ParamSpec
from cts_desktop.backtest.store import BacktestRow, PresetSetRow, PresetTypeRow, StoredRun, read_run, row_json
from cts_desktop.domain.adjust import BlockParams, DcaParams
from cts_desktop.domain.bars import Bars
from cts_desktop.domain.exits import ExitParams
from cts_desktop.storage.candles import missing_ranges
from cts_desktop.storage.db import Database
from cts_desktop.storage.settings_store import SettingsStore

__all__ = [
    "COMMON", "INDICATIONS", "MAIN", "BacktestReport", "BacktestRow", "CancelToken", "Cancelled", "CandleRequest",
    "ConfigurationSetDef", "FixedSet", "OptimalRequest", "OptimalRow", "ParamSpec", "ProgressInfo", "StoredRun",
    "StrategiesPart", "Trade",
]

log = logging.getLogger("cts.backtest")
STORED_OPTIMAL_ROWS = 500
SHOWN_OPTIMAL_ROWS = 5000  # the results table shows the best rows; the run ranks all of them


@dataclass(frozen=True, slots=True)
class CandleRequest:
    connection_id: str
    symbols: tuple[str, ...]
    timeframe: str
    since_ms: int
    until_ms: int


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


class StrategiesPart:
    def __init__(self, db: Database, settings: SettingsStore, trading: TradingAccess) -> None:
        self.db = db
        self.settings = settings
        self.trading = trading

    def exit_params(self) -> ExitParams:
        return exit_params_from(self.settings.values())

    def adjust_params(self) -> tuple[BlockParams, DcaParams]:
        """Block and DCA parameters from Settings › Strategy (the form's defaults)."""
        return adjust_params_from(self.settings.values())

    async def connections(self) -> list[ConnectionRow]:
        """The connections to download history from and to apply a preset to."""
        return await self.db.run(connection_rows)

    # --- history ------------------------------------------------------------------------------------------------

    async def download(self, req: CandleRequest, cancel: CancelToken | None = None,
                       on_progress: ProgressFn | None = None) -> list[HistoryReport]:
        trading = await self.trading.get()
        config = trading.connections.get(req.connection_id)
        adapter = await trading.adapter_for(config)
        reports = []
        try:
            for symbol in req.symbols:
                report = await download_history(self.db, adapter, req.connection_id, symbol, req.timeframe,
                                                req.since_ms, req.until_ms, cancel, on_progress)
                if report.gaps:
                    log.warning("history %s %s: the exchange has no candles for %s", symbol, req.timeframe,
                                report.gap_text())
                reports.append(report)
        finally:  # a fresh adapter every time, the Replay one too: left open, its aiohttp session leaked
            await adapter.close()
        return reports

    async def candles(self, req: CandleRequest) -> tuple[dict[str, Bars], list[str]]:
        """Cached candles per symbol and a plain description of what is missing (empty = complete)."""
        step = timeframe_ms(req.timeframe)
        out: dict[str, Bars] = {}
        problems: list[str] = []
        for symbol in req.symbols:
            bars = await load_bars(self.db, req.connection_id, symbol, req.timeframe, req.since_ms, req.until_ms)
            gaps = await self.db.run(functools.partial(
                missing_ranges, connection_id=req.connection_id, symbol=symbol, timeframe=req.timeframe,
                since_ms=req.since_ms, until_ms=req.until_ms, step_ms=step))
            if len(bars) == 0:
                problems.append(f"{symbol}: no cached candles — download the history first")
                continue
            if gaps:
                problems.append(f"{symbol}: {len(gaps)} gap(s), first {_stamp(gaps[0].start_ms)} → "
                                f"{_stamp(gaps[0].end_ms)}")
            out[symbol] = bars
        return out, problems

    # --- runs ---------------------------------------------------------------------------------------------------

    async def backtest(self, name: str, sets: list[FixedSet], candles: dict[str, Bars], params: ExitParams,
                       max_open: int = 1, cancel: CancelToken | None = None, on_progress: ProgressFn | None = None,
                       extra: dict[str, Any] | None = None) -> tuple[int, BacktestReport]:
        report = await asyncio.to_thread(run_backtest, sets, candles, params, max_open, cancel, on_progress)
        doc = {"symbols": list(candles), "sets": [s.to_json() for s in sets], "pc": params.pc, "fee": params.fee,
               "timeout_s": params.timeout_s, "max_open": max_open, **(extra or {})}
        run_id = await self.db.run(lambda s: store.save_backtest(s, name, "backtest", doc, report.to_json(),
                                                                 report.equity))
        log.info("backtest %s: %d sets, %d trades in %.2f s", name, len(sets), len(report.trades), report.seconds)
        return run_id, report

    async def optimal(self, name: str, request: OptimalRequest, candles: dict[str, Bars],
                      cancel: CancelToken | None = None, on_progress: ProgressFn | None = None,
                      extra: dict[str, Any] | None = None, show: int = SHOWN_OPTIMAL_ROWS,
                      ) -> tuple[int, OptimalResult, list[OptimalRow]]:
        """Run the grid, rank it and store the run; returns (run id, the full result, the best ``show`` rows).
        Everything CPU-bound — the grid, the ranking, building rows — happens in the worker thread."""

        def work() -> tuple[OptimalResult, list[OptimalRow]]:
            result = run_optimal(request, candles, cancel, on_progress)
            return result, result.ranked(limit=max(show, STORED_OPTIMAL_ROWS))

        result, ranked = await asyncio.to_thread(work)
        doc = {"symbols": list(candles), "sets": [d.to_json() for d in request.sets], "seed": request.seed,
               "max_configs": request.max_configs, "pc": request.params.pc, "fee": request.params.fee,
               "timeout_s": request.params.timeout_s, "max_open": request.max_open, **(extra or {})}
        top = [row_json(r) for r in ranked[:STORED_OPTIMAL_ROWS]]
        summary = {"evaluated": result.evaluated, "valid": result.valid_count, "seconds": result.seconds,
                   "best": top[0] if top else None}
        run_id = await self.db.run(lambda s: store.save_backtest(
            s, name, "optimal", doc, {"summary": summary, "rows": top}, []))
        log.info("auto-optimal %s: %d cells, %d valid in %.2f s", name, result.evaluated, result.valid_count,
                 result.seconds)
        return run_id, result, ranked[:show]

    async def runs(self) -> list[BacktestRow]:
        """Stored backtest and auto-optimal runs, newest first."""
        return await self.db.run(store.list_backtests)

    async def run(self, run_id: int) -> StoredRun | None:
        return await self.db.run(lambda s: read_run(s, run_id))

    # --- presets ------------------------------------------------------------------------------------------------

    async def preset_types(self) -> list[PresetTypeRow]:
        """Preset types (the five predefined ones are created on first call)."""

        def work(session: Session) -> list[PresetTypeRow]:
            store.seed_predefined(session)
            return store.list_preset_types(session)

        return await self.db.run(work)

    async def preset_sets(self, preset_type_id: int) -> list[PresetSetRow]:
        return await self.db.run(lambda s: store.preset_sets(s, preset_type_id))

    async def preset_run_sets(self, preset_type_id: int) -> tuple[list[FixedSet], list[ConfigurationSetDef],
                                                                  list[str]]:
        """What "Backtest preset" runs — what the Preset engine would trade: the active fixed sets, the active sets
        with ranges as their preset-mode grids (the type's toggles, the settings' Block/DCA/trailing), and notes
        on fixed sets the Preset engine would skip with the current settings."""
        values = self.settings.values()
        types = {t.id: t for t in await self.preset_types()}
        settings = types[preset_type_id].settings if preset_type_id in types else {}
        rows = [r for r in await self.preset_sets(preset_type_id) if r.active]
        fixed = [r.fixed for r in rows if r.fixed is not None]
        grids = [for_preset_mode(r.definition, settings, values) for r in rows if r.fixed is None]
        notes = []
        for r in rows:
            if r.fixed is not None:
                problem = fixed_set_problem(r.fixed.adjust.block is not None, r.fixed.adjust.dca is not None, values)
                if problem:
                    notes.append(f"{r.name}: the Preset engine skips it — {problem}")
        return fixed, grids, notes

    async def save_preset(self, name: str, rows: list[OptimalRow], definitions: list[ConfigurationSetDef]) -> int:
        type_id = await self.db.run(lambda s: store.save_optimal_sets(s, name, rows, definitions))
        log.info("saved %d auto-optimal result(s) as preset %s", len(rows), name)
        return type_id

    async def assign(self, connection_id: str, preset_type_id: int | None) -> None:
        """Assign a preset type to a connection (None removes it); the Preset engine trades its sets."""
        await self.db.run(lambda s: store.assign_preset(s, connection_id, preset_type_id))
        log.info("preset type %s assigned to connection %s", preset_type_id, connection_id,
                 extra={"connection_id": connection_id})

    async def assigned(self, connection_id: str) -> int | None:
        return await self.db.run(lambda s: store.connection_preset(s, connection_id))
