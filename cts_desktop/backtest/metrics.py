"""The backtest metrics of DOMAIN Part 2 §5.7 from a list of closed trades, and the equity curve.

Units: a trade's ``result`` is a fraction of its entry notional with both fees included (the shared exit
simulator's unit), so one unit of notional per trade. The equity curve is the cumulative sum of results in
percent of that notional; *max drawdown %* is its largest peak-to-trough fall (the running peak starts at 0),
*drawdown duration* the longest time the curve stayed below an earlier peak (from the close that set the peak to
the close that regained it, or to the end of the data). Sharpe and Sortino are per trade and not annualised
(mean ÷ σ of the results; mean ÷ downside deviation), as §5.7 defines them. Gross PF is Σ wins ÷ |Σ losses| —
the ``gross_pf`` of Part 1 §2 — reported as 999 when there is no loss (the original's convention).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
NO_LOSS_PF = 999.0


@dataclass(frozen=True, slots=True)
class TradeList:
    """Closed trades in close order: times in epoch seconds, results as fractions of entry notional."""

    entry_time: FloatArray
    exit_time: FloatArray
    result: FloatArray

    def __len__(self) -> int:
        return int(self.result.shape[0])

    @classmethod
    def merge(cls, parts: list[TradeList]) -> TradeList:
        """Trades of several sets/symbols as one book, ordered by close time (stable)."""
        if not parts:
            return cls(np.zeros(0), np.zeros(0), np.zeros(0))
        e = np.concatenate([p.entry_time for p in parts])
        x = np.concatenate([p.exit_time for p in parts])
        r = np.concatenate([p.result for p in parts])
        order = np.argsort(x, kind="stable")
        return cls(e[order], x[order], r[order])


@dataclass(frozen=True, slots=True)
class BacktestMetrics:
    trades: int
    wins: int
    losses: int
    win_rate_pct: float
    total_profit_pct: float
    total_loss_pct: float
    net_pct: float
    gross_pf: float
    avg_pf: float  # mean result in position-cost units (Part 1 §2)
    max_drawdown_pct: float
    max_drawdown_hours: float
    avg_drawdown_pct: float
    avg_win_pct: float
    avg_loss_pct: float
    largest_win_pct: float
    largest_loss_pct: float
    avg_duration_min: float
    sharpe: float
    sortino: float

    def as_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}


def drawdown_stats(exit_time: FloatArray, result: FloatArray) -> tuple[float, float, float]:
    """(max drawdown, average drawdown, longest time below a peak in seconds) of the cumulative results;
    drawdowns in the result unit, the running peak starting at 0; ``average`` is over the closes in drawdown."""
    if result.size == 0:
        return 0.0, 0.0, 0.0
    curve = np.cumsum(result)
    peak = np.maximum.accumulate(np.maximum(curve, 0.0))
    dd = peak - curve
    under = dd > 0
    avg = float(dd[under].mean()) if under.any() else 0.0
    longest = 0.0
    start: float | None = None
    for i in range(curve.size):
        if under[i]:
            if start is None:
                start = float(exit_time[i - 1]) if i > 0 else float(exit_time[i])
        elif start is not None:
            longest = max(longest, float(exit_time[i]) - start)
            start = None
    if start is not None:
        longest = max(longest, float(exit_time[-1]) - start)
    return float(dd.max()), avg, longest


def compute_metrics(trades: TradeList, pc: float) -> BacktestMetrics:
    r = trades.result
    n = int(r.size)
    win = r > 0
    wins = int(win.sum())
    gross_win = float(r[win].sum())
    gross_loss = float(-r[~win].sum())
    max_dd, avg_dd, dd_s = drawdown_stats(trades.exit_time, r)
    if n:
        std = float(r.std())
        downside = float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)))
        mean = float(r.mean())
    else:
        std = downside = mean = float("nan")
    nan = float("nan")
    return BacktestMetrics(
        trades=n,
        wins=wins,
        losses=n - wins,
        win_rate_pct=100.0 * wins / n if n else nan,
        total_profit_pct=100.0 * gross_win,
        total_loss_pct=100.0 * gross_loss,
        net_pct=100.0 * float(r.sum()),
        gross_pf=(gross_win / gross_loss if gross_loss > 0 else (NO_LOSS_PF if wins else nan)),
        avg_pf=mean / pc if n else nan,
        max_drawdown_pct=100.0 * max_dd,
        max_drawdown_hours=dd_s / 3600.0,
        avg_drawdown_pct=100.0 * avg_dd,
        avg_win_pct=100.0 * gross_win / wins if wins else nan,
        avg_loss_pct=-100.0 * gross_loss / (n - wins) if n - wins else nan,
        largest_win_pct=100.0 * float(r.max()) if wins else nan,
        largest_loss_pct=100.0 * float(r.min()) if n - wins else nan,
        avg_duration_min=float(np.mean(trades.exit_time - trades.entry_time)) / 60.0 if n else nan,
        sharpe=mean / std if n and std > 0 else nan,
        sortino=mean / downside if n and downside > 0 else nan,
    )


def equity_curve(trades: TradeList, max_points: int = 2000) -> list[tuple[float, float]]:
    """(close time s, cumulative result %) after every trade, thinned evenly to at most ``max_points``
    (the last point is always kept so the curve ends at the net result)."""
    if len(trades) == 0:
        return []
    curve = 100.0 * np.cumsum(trades.result)
    idx = np.arange(curve.size)
    if curve.size > max_points:
        idx = np.unique(np.concatenate([np.linspace(0, curve.size - 1, max_points).astype(np.int64), [curve.size - 1]]))
    return [(float(trades.exit_time[i]), round(float(curve[i]), 6)) for i in idx.tolist()]
