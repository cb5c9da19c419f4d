"""The Strategies service behind the facade: history, backtest and auto-optimal runs off the event loop and the
GUI thread, their storage, and presets. No Qt here.

CPU work runs in a worker thread (``asyncio.to_thread``); the compiled kernels release the GIL and use both
cores through numba's threads. Progress callbacks are called from that worker thread: the UI keeps only the
newest :class:`~cts_desktop.backtest.jobs.ProgressInfo` and reads it from a timer on its own thread.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cts_desktop.backtest import store
from cts_desktop.backtest.history import HistoryReport, download_history, load_bars, timeframe_ms
from cts_desktop.backtest.jobs import CancelToken, ProgressFn
from cts_desktop.backtest.optimal import OptimalRequest, OptimalResult, OptimalRow, run_optimal
from cts_desktop.backtest.presets import (
    ConfigurationSetDef,
    adjust_params_from,
    fixed_set_problem,
    for_preset_mode,
)
from cts_desktop.backtest.runner import (
    BacktestReport,
    FixedSet,
    Trade,
    adjust_from_json,
    adjust_to_json,
    run_backtest,
)
from cts_desktop.domain.adjust import BlockParams, DcaParams
from cts_desktop.domain.bars import Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams
from cts_desktop.storage.candles import missing_ranges

if TYPE_CHECKING:
    from cts_desktop.services import Services

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


def exit_params_from(values: dict[str, object]) -> ExitParams:
    """pc, taker fee and the Preset position timeout from the settings."""
    pc = float(values["overall.position_cost"]) / 100.0  # type: ignore[arg-type]
    fee = float(values["overall.default_taker_fee"]) / 100.0  # type: ignore[arg-type]
    timeout_h = float(values["strategy.preset_position_timeout_hours"])  # type: ignore[arg-type]
    return ExitParams(pc=pc, fee=fee, timeout_s=timeout_h * 3600.0)


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


class StrategiesService:
    def __init__(self, services: Services) -> None:
        self.services = services

    @property
    def db(self) -> Any:
        return self.services.db

    def exit_params(self) -> ExitParams:
        return exit_params_from(self.services.settings.values())

    def adjust_params(self) -> tuple[BlockParams, DcaParams]:
        """Block and DCA parameters from Settings › Strategy (the form's defaults)."""
        return adjust_params_from(self.services.settings.values())

    # --- history ------------------------------------------------------------------------------------------------

    async def download(self, req: CandleRequest, cancel: CancelToken | None = None,
                       on_progress: ProgressFn | None = None) -> list[HistoryReport]:
        trading = self.services.trading
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
        finally:
            if not config.is_replay:
                await adapter.close()
        return reports

    async def candles(self, req: CandleRequest) -> tuple[dict[str, Bars], list[str]]:
        """Cached candles per symbol and a plain description of what is missing (empty = complete)."""
        step = timeframe_ms(req.timeframe)
        out: dict[str, Bars] = {}
        problems: list[str] = []
        for symbol in req.symbols:
            bars = await load_bars(self.db, req.connection_id, symbol, req.timeframe, req.since_ms, req.until_ms)
            gaps = await self.db.run(lambda s, sym=symbol: missing_ranges(
                s, req.connection_id, sym, req.timeframe, req.since_ms, req.until_ms, step))
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

    async def runs(self) -> list[store.BacktestRow]:
        rows: list[store.BacktestRow] = await self.db.run(store.list_backtests)
        return rows

    async def run(self, run_id: int) -> StoredRun | None:
        stored: StoredRun | None = await self.db.run(lambda s: _read_run(s, run_id))
        return stored

    # --- presets ------------------------------------------------------------------------------------------------

    async def preset_types(self) -> list[store.PresetTypeRow]:
        def work(session: Any) -> list[store.PresetTypeRow]:
            store.seed_predefined(session)
            return store.list_preset_types(session)

        rows: list[store.PresetTypeRow] = await self.db.run(work)
        return rows

    async def preset_sets(self, preset_type_id: int) -> list[store.PresetSetRow]:
        rows: list[store.PresetSetRow] = await self.db.run(lambda s: store.preset_sets(s, preset_type_id))
        return rows

    async def preset_run_sets(self, preset_type_id: int) -> tuple[list[FixedSet], list[ConfigurationSetDef],
                                                                  list[str]]:
        """What "Backtest preset" runs — what the Preset engine would trade: the active fixed sets, the active sets
        with ranges as their preset-mode grids (the type's toggles, the settings' Block/DCA/trailing), and notes
        on fixed sets the Preset engine would skip with the current settings."""
        values = self.services.settings.values()
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
        type_id: int = await self.db.run(lambda s: store.save_optimal_sets(s, name, rows, definitions))
        log.info("saved %d auto-optimal result(s) as preset %s", len(rows), name)
        return type_id

    async def assign(self, connection_id: str, preset_type_id: int | None) -> None:
        await self.db.run(lambda s: store.assign_preset(s, connection_id, preset_type_id))
        log.info("preset type %s assigned to connection %s", preset_type_id, connection_id,
                 extra={"connection_id": connection_id})

    async def assigned(self, connection_id: str) -> int | None:
        value: int | None = await self.db.run(lambda s: store.connection_preset(s, connection_id))
        return value


def _enc(x: float) -> float | str | None:
    """JSON for a figure: inf is kept as the text "inf" (a PF without losses), NaN becomes null."""
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def _dec(x: Any) -> float:
    if x is None:
        return math.nan
    return float(x)


_ROW_FIGURES = ("net_pct", "gross_pf", "pf_a", "pf_b", "avg_pf", "per_48h", "drawdown_time_h", "max_drawdown_pct",
                "avg_duration_min")


def row_json(r: OptimalRow) -> dict[str, Any]:
    return {"symbol": r.symbol, "set_index": r.set_index, "set": r.set_name, "indication": r.indication,
            "params": list(r.params), "direction": r.direction, "tp": r.exit.tp, "sl": r.exit.sl,
            "trail_start": r.exit.trail_start, "trail_stop": r.exit.trail_stop, "trades": r.trades, "wins": r.wins,
            "win_rate_pct": _enc(r.win_rate_pct), "valid": r.valid, "reason": r.reason, "order": r.order,
            **adjust_to_json(r.adjust), **{name: _enc(getattr(r, name)) for name in _ROW_FIGURES}}


def row_from_json(d: dict[str, Any]) -> OptimalRow:
    """An auto-optimal row as stored by :meth:`StrategiesService.optimal`."""
    figures = {name: _dec(d.get(name)) for name in _ROW_FIGURES}
    return OptimalRow(
        symbol=str(d["symbol"]), set_index=int(d.get("set_index", 0)), set_name=str(d.get("set", "")),
        indication=str(d["indication"]), params=tuple(float(x) for x in d["params"]), direction=int(d["direction"]),
        exit=ExitConfig(float(d["tp"]), float(d["sl"]), float(d["trail_start"]), float(d["trail_stop"])),
        trades=int(d["trades"]), wins=int(d.get("wins", 0)), per_24h=figures["per_48h"] / 2.0,
        valid=bool(d["valid"]), reason=str(d.get("reason", "")), order=int(d.get("order", 0)),
        adjust=adjust_from_json(d), **figures,
    )


@dataclass(slots=True)
class StoredRun:
    """A stored run read back: auto-optimal rows, or a backtest's summary, equity and trades."""

    id: int
    kind: str
    name: str
    params: dict[str, Any]
    summary: dict[str, Any]
    rows: list[OptimalRow]
    definitions: list[ConfigurationSetDef]
    equity: list[tuple[float, float]]
    trades: list[Trade]


def _read_run(session: Any, run_id: int) -> StoredRun | None:
    row = store.get_backtest(session, run_id)
    if row is None:
        return None
    params = dict(row.params or {})
    metrics = dict(row.metrics or {})
    kind = str(params.get("kind", "backtest"))
    rows = [row_from_json(d) for d in metrics.get("rows", [])] if kind == "optimal" else []
    definitions = [ConfigurationSetDef.from_json(d) for d in params.get("sets", [])] if kind == "optimal" else []
    trades = [Trade.from_row(t) for t in metrics.get("trades", [])]
    equity = [(float(a), float(b)) for a, b in (row.equity or [])]
    return StoredRun(int(row.id), kind, row.name, params, dict(metrics.get("summary") or {}), rows, definitions,
                     equity, trades)
