"""The backtest runner: fixed configuration sets over candles of one or more symbols, with the §5.7 metrics per
set and for the whole selection, the equity curve and the trade list.

Positions are walked by :func:`cts_desktop.domain.sweep.sweep_trades` — the shared sweep over the one exit
simulator — so a backtest, an auto-optimal cell and the live book give the same trades on the same candles. A set
with Block or DCA (:mod:`cts_desktop.domain.adjust`) is walked by :func:`~cts_desktop.domain.adjust.adjusted_trades`
(the same exit rule with add-on entries, and the block factor per position); its trades carry their size (block
factor × quantity in first-entry units) and average entry.
Signals come from :mod:`cts_desktop.backtest.signals` (common indicators or Main indications on candles).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from cts_desktop.backtest.jobs import CancelToken, ProgressFn, Tracker
from cts_desktop.backtest.metrics import BacktestMetrics, TradeList, compute_metrics, equity_curve
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.adjust import NO_ADJUST, Adjust, BlockParams, DcaParams, adjusted_trades
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
    adjust: Adjust = NO_ADJUST

    @property
    def label(self) -> str:
        side = "long" if self.direction == LONG else "short"
        e = self.exit
        trail = f" trail {e.trail_start:g}/{e.trail_stop:g}" if e.trailing else ""
        params = ",".join(f"{p:g}" for p in self.params)
        adjust = f" {self.adjust.label}" if not self.adjust.plain else ""
        return f"{self.indication}({params}) {side} TP {e.tp:g} SL {e.sl:g}{trail}{adjust}"

    def to_json(self) -> dict[str, Any]:
        e = self.exit
        d: dict[str, Any] = {"indication": self.indication, "params": list(self.params), "direction": self.direction,
                             "tp": e.tp, "sl": e.sl, "trail_start": e.trail_start, "trail_stop": e.trail_stop}
        d.update(adjust_to_json(self.adjust))
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FixedSet:
        return cls(str(d["indication"]), tuple(float(x) for x in d["params"]), int(d["direction"]),
                   ExitConfig(float(d["tp"]), float(d["sl"]), float(d.get("trail_start", 0.0)),
                              float(d.get("trail_stop", 0.0))), adjust_from_json(d))


def adjust_to_json(adjust: Adjust) -> dict[str, Any]:
    """``block`` / ``dca`` keys (absent when off) of a stored set or result row."""
    out: dict[str, Any] = {}
    if adjust.block is not None:
        out["block"] = asdict(adjust.block)
    if adjust.dca is not None:
        out["dca"] = {"distances": list(adjust.dca.distances), "sizes": list(adjust.dca.sizes),
                      "max_steps": adjust.dca.max_steps}
    return out


def adjust_from_json(d: dict[str, Any]) -> Adjust:
    block = d.get("block")
    dca = d.get("dca")
    return Adjust(
        BlockParams(**block) if isinstance(block, dict) else None,
        DcaParams(tuple(float(x) for x in dca["distances"]), tuple(float(x) for x in dca["sizes"]),
                  int(dca["max_steps"])) if isinstance(dca, dict) else None,
    )


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
    result: float  # fraction of the first entry's notional, fees included (× size for Block/DCA)
    size: float = 1.0  # block factor × quantity in first-entry units
    avg_entry: float = float("nan")  # quantity-weighted average entry (NaN: the entry price)

    def to_row(self) -> list[Any]:
        row: list[Any] = [self.symbol, self.set_index, self.direction, self.entry_time, self.exit_time,
                          self.entry_price, self.exit_price, self.reason, self.result]
        if self.size != 1.0 or self.avg_entry == self.avg_entry:
            row += [self.size, self.avg_entry]
        return row

    @classmethod
    def from_row(cls, t: list[Any]) -> Trade:
        extra = (float(t[9]), float(t[10]) if t[10] is not None else float("nan")) if len(t) > 10 else ()
        return cls(str(t[0]), int(t[1]), int(t[2]), float(t[3]), float(t[4]), float(t[5]), float(t[6]), str(t[7]),
                   float(t[8]), *extra)


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
            "trades": [t.to_row() for t in self.trades[:MAX_STORED_TRADES]],
            "seconds": round(self.seconds, 3),
        }


TradeRow = tuple[int, int, float, int, float, float, float]


def set_trades(bars: Bars | PreparedBars, raw: Bars, fixed: FixedSet, params: ExitParams, max_open: int) -> tuple[
        list[TradeRow], int]:
    """(entry index, exit index, exit price, reason, result, size, average entry) of every closed position, and
    the positions left open. Plain sets: size 1 and average entry NaN (= the entry)."""
    long_, short = entries(fixed.indication, fixed.params, raw, params.pc)
    sig = long_ if fixed.direction == LONG else short
    if fixed.adjust.plain:
        tr = sweep_trades(bars, sig, fixed.direction, fixed.exit, params, max_open)
        nan = float("nan")
        rows = [(e, x, p, r, res, 1.0, nan) for e, x, p, r, res in zip(
            tr.entry_index.tolist(), tr.exit_index.tolist(), tr.exit_price.tolist(), tr.reason.tolist(),
            tr.result.tolist(), strict=True)]
        return rows, tr.still_open
    at = adjusted_trades(bars, sig, fixed.direction, fixed.exit, params, fixed.adjust, max_open)
    rows = list(zip(at.entry_index.tolist(), at.exit_index.tolist(), at.exit_price.tolist(), at.reason.tolist(),
                    at.result.tolist(), (at.factor * at.quantity).tolist(), at.avg_entry.tolist(), strict=True))
    return rows, at.still_open


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
            for e, x, price, reason, result, size, avg in rows:
                report.trades.append(Trade(symbol, index, fixed.direction, float(t[e]), float(t[x]),
                                           float(bars.close[e]), float(price), ExitReason(reason).name.lower(),
                                           float(result), float(size), float(avg)))
            tracker.advance(1, f"{symbol} · {fixed.label}")
    merged = TradeList.merge(parts)
    report.metrics = compute_metrics(merged, params.pc)
    report.equity = equity_curve(merged)
    report.trades.sort(key=lambda tr: (tr.exit_time, tr.symbol, tr.set_index))
    report.seconds = time.perf_counter() - started
    return report
