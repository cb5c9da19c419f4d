"""The backtest runner: fixed configuration sets over candles of one or more symbols, with the §5.7 metrics per
set and for the whole selection, the equity curve and the trade list.

Positions are walked by :func:`cts_desktop.domain.sweep.sweep_trades` — the shared sweep over the one exit
simulator — so a backtest, an auto-optimal cell and the live book give the same trades on the same candles.
Signals come from :mod:`cts_desktop.backtest.signals` (common indicators or Main indications on candles).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cts_desktop.backtest.jobs import CancelToken, ProgressFn, Tracker
from cts_desktop.backtest.metrics import BacktestMetrics, TradeList, compute_metrics, equity_curve
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.bars import LONG, Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams, ExitReason
from cts_desktop.domain.sweep import PreparedBars, sweep_trades

MAX_STORED_TRADES = 5000


@dataclass(frozen=True, slots=True)
class FixedSet:
    """One configuration set with a single parameter tuple, direction and exit configuration."""

    indication: str
    params: tuple[float, ...]
    direction: int
    exit: ExitConfig

    @property
    def label(self) -> str:
        side = "long" if self.direction == LONG else "short"
        e = self.exit
        trail = f" trail {e.trail_start:g}/{e.trail_stop:g}" if e.trailing else ""
        params = ",".join(f"{p:g}" for p in self.params)
        return f"{self.indication}({params}) {side} TP {e.tp:g} SL {e.sl:g}{trail}"

    def to_json(self) -> dict[str, Any]:
        e = self.exit
        return {"indication": self.indication, "params": list(self.params), "direction": self.direction,
                "tp": e.tp, "sl": e.sl, "trail_start": e.trail_start, "trail_stop": e.trail_stop}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FixedSet:
        return cls(str(d["indication"]), tuple(float(x) for x in d["params"]), int(d["direction"]),
                   ExitConfig(float(d["tp"]), float(d["sl"]), float(d.get("trail_start", 0.0)),
                              float(d.get("trail_stop", 0.0))))


@dataclass(frozen=True, slots=True)
class Trade:
    symbol: str
    set_index: int
    direction: int
    entry_time: float
    exit_time: float
    entry_price: float
    exit_price: float
    reason: str
    result: float  # fraction of entry notional, fees included


@dataclass(frozen=True, slots=True)
class SetReport:
    symbol: str
    set_index: int
    fixed: FixedSet
    metrics: BacktestMetrics
    still_open: int


@dataclass(slots=True)
class BacktestReport:
    sets: list[SetReport] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    metrics: BacktestMetrics | None = None
    equity: list[tuple[float, float]] = field(default_factory=list)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": None if self.metrics is None else self.metrics.as_dict(),
            "sets": [{"symbol": s.symbol, "set": s.fixed.to_json(), "label": s.fixed.label,
                      "metrics": s.metrics.as_dict(), "still_open": s.still_open} for s in self.sets],
            "trades": [[t.symbol, t.set_index, t.direction, t.entry_time, t.exit_time, t.entry_price, t.exit_price,
                        t.reason, t.result] for t in self.trades[:MAX_STORED_TRADES]],
            "seconds": round(self.seconds, 3),
        }


def set_trades(bars: Bars | PreparedBars, raw: Bars, fixed: FixedSet, params: ExitParams, max_open: int) -> tuple[
        list[tuple[int, int, float, int, float]], int]:
    """(entry index, exit index, exit price, reason, result) of every closed position, and positions left open."""
    long_, short = entries(fixed.indication, fixed.params, raw, params.pc)
    sig = long_ if fixed.direction == LONG else short
    tr = sweep_trades(bars, sig, fixed.direction, fixed.exit, params, max_open)
    rows = list(zip(tr.entry_index.tolist(), tr.exit_index.tolist(), tr.exit_price.tolist(), tr.reason.tolist(),
                    tr.result.tolist(), strict=True))
    return rows, tr.still_open


def run_backtest(
    sets: list[FixedSet],
    candles: dict[str, Bars],
    params: ExitParams,
    max_open: int = 1,
    cancel: CancelToken | None = None,
    on_progress: ProgressFn | None = None,
) -> BacktestReport:
    """Every set on every symbol; the summary treats all of them as one book (trades merged by close time)."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    report = BacktestReport()
    tracker = Tracker(len(sets) * len(candles), on_progress, "backtest")
    parts: list[TradeList] = []
    for symbol, bars in candles.items():
        prep = PreparedBars.build(bars)
        for index, fixed in enumerate(sets):
            cancel.check()
            rows, still_open = set_trades(prep, bars, fixed, params, max_open)
            t = bars.time
            tl = TradeList(np.array([t[r[0]] for r in rows]), np.array([t[r[1]] for r in rows]),
                           np.array([r[4] for r in rows]))
            order = np.argsort(tl.exit_time, kind="stable")
            tl = TradeList(tl.entry_time[order], tl.exit_time[order], tl.result[order])
            parts.append(tl)
            report.sets.append(SetReport(symbol, index, fixed, compute_metrics(tl, params.pc), still_open))
            for e, x, price, reason, result in rows:
                report.trades.append(Trade(symbol, index, fixed.direction, float(t[e]), float(t[x]),
                                           float(bars.close[e]), float(price), ExitReason(reason).name.lower(),
                                           float(result)))
            tracker.advance(1, f"{symbol} · {fixed.label}")
    merged = TradeList.merge(parts)
    report.metrics = compute_metrics(merged, params.pc)
    report.equity = equity_curve(merged)
    report.trades.sort(key=lambda tr: (tr.exit_time, tr.symbol, tr.set_index))
    report.seconds = time.perf_counter() - started
    return report
