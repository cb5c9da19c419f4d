"""Auto-optimal (DOMAIN Part 2 §5.6): a grid over indication parameters × TP × SL × trailing per symbol, the
validity rules of the configuration set and a deterministic ranking.

Every grid cell is simulated by the shared sweep kernel (one exit simulator for backtest, auto-optimal and the
live book). A cell is **valid** when gross PF ≥ ``pf_min``, trades per 48 h ≥ ``trades_per_48h_min``, the
longest drawdown time ≤ ``drawdown_time_max_h``, gross PF of the last 25 or of the last 50 > 0 (Part 2 §5.3)
and, for the legacy presets, avg_pf ≥ ``min_avg_pf``. **Ranking**: valid first, then gross PF of the last
``eval_count_1`` (25) descending, of the last ``eval_count_2`` (50) descending, trades per 48 h descending,
drawdown time ascending, then the grid position (so equal figures keep a fixed order).

A grid larger than ``max_configs`` is sampled without replacement with ``numpy.random.default_rng(seed)`` —
the same seed gives the same cells and hence the same ranking.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cts_desktop.backtest import kernels as kn
from cts_desktop.backtest.jobs import CancelToken, ProgressFn, Tracker
from cts_desktop.backtest.presets import ConfigurationSetDef
from cts_desktop.backtest.signals import entry_matrix
from cts_desktop.domain.bars import Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams
from cts_desktop.domain.matrix import ExitMatrix
from cts_desktop.domain.sweep import PreparedBars, next_signal_index

SLICE_TARGET_S = 0.15  # a slice of tasks takes about this long, so cancel is noticed well within a second


@dataclass(frozen=True, slots=True)
class OptimalRequest:
    sets: tuple[ConfigurationSetDef, ...]
    params: ExitParams
    max_open: int = 1
    max_configs: int = 0  # 0 = the whole grid; else a seeded sample of this many cells per symbol
    seed: int = 0


@dataclass(frozen=True, slots=True)
class OptimalRow:
    symbol: str
    set_index: int
    set_name: str
    indication: str
    params: tuple[float, ...]
    direction: int
    exit: ExitConfig
    trades: int
    wins: int
    net_pct: float
    gross_pf: float
    pf_a: float  # gross PF of the last eval_count_1
    pf_b: float  # gross PF of the last eval_count_2
    avg_pf: float
    per_48h: float
    per_24h: float
    drawdown_time_h: float
    max_drawdown_pct: float
    avg_duration_min: float
    valid: bool
    reason: str
    order: int  # grid position (tie-break)

    @property
    def win_rate_pct(self) -> float:
        return 100.0 * self.wins / self.trades if self.trades else math.nan

    def rank_key(self) -> tuple[float, ...]:
        return (0.0 if self.valid else 1.0, -_finite(self.pf_a), -_finite(self.pf_b), -_finite(self.per_48h),
                _finite(self.drawdown_time_h, math.inf), float(self.order))


def _finite(value: float, nan_as: float = -math.inf) -> float:
    if math.isnan(value):
        return nan_as
    return 1e12 if value == math.inf else value


@dataclass(slots=True)
class OptimalResult:
    rows: list[OptimalRow] = field(default_factory=list)
    evaluated: int = 0
    grid_size: int = 0
    seconds: float = 0.0

    def ranked(self) -> list[OptimalRow]:
        return sorted(self.rows, key=OptimalRow.rank_key)

    def valid(self) -> list[OptimalRow]:
        return [r for r in self.ranked() if r.valid]


@dataclass(frozen=True, slots=True)
class _Job:
    symbol: str
    set_index: int
    definition: ConfigurationSetDef
    prep: PreparedBars
    span_h: float
    sig: npt.NDArray[np.bool_]
    dirs: npt.NDArray[np.int64]
    keys: list[tuple[tuple[float, ...], int]]
    matrix: ExitMatrix
    tasks: npt.NDArray[np.int64]


def grid_size(request: OptimalRequest) -> int:
    return sum(d.size() for d in request.sets)


def _plan(request: OptimalRequest, symbol: str, bars: Bars, prep: PreparedBars, cancel: CancelToken) -> list[_Job]:
    jobs = []
    span_h = (float(bars.time[-1] - bars.time[0]) + _bar_seconds(bars)) / 3600.0 if len(bars) else 0.0
    per_set = _sample_sizes(request)
    rng = np.random.default_rng(request.seed)
    for index, definition in enumerate(request.sets):
        grid = definition.param_grid()
        sig, dirs, keys = entry_matrix(definition.indication, grid, bars, request.params.pc, definition.directions,
                                       cancel.check)
        matrix = definition.matrix()
        n_tasks = sig.shape[0] * len(matrix)
        want = per_set[index]
        if 0 < want < n_tasks:
            tasks = np.sort(rng.choice(n_tasks, size=want, replace=False)).astype(np.int64)
        else:
            tasks = np.arange(n_tasks, dtype=np.int64)
        jobs.append(_Job(symbol, index, definition, prep, span_h, np.ascontiguousarray(sig), dirs, keys, matrix,
                         tasks))
    return jobs


def _sample_sizes(request: OptimalRequest) -> list[int]:
    """Cells per set when the grid is capped: proportional to each set's size (0 = no cap)."""
    sizes = [d.size() for d in request.sets]
    total = sum(sizes)
    if request.max_configs <= 0 or total <= request.max_configs:
        return [0] * len(sizes)
    return [max(1, s * request.max_configs // total) for s in sizes]


def _bar_seconds(bars: Bars) -> float:
    return float(np.median(np.diff(bars.time))) if len(bars) > 1 else 0.0


def run_optimal(
    request: OptimalRequest,
    candles: dict[str, Bars],
    cancel: CancelToken | None = None,
    on_progress: ProgressFn | None = None,
) -> OptimalResult:
    """Evaluate the grid for every symbol; raises :class:`~cts_desktop.backtest.jobs.Cancelled` on cancel."""
    started = time.perf_counter()
    cancel = cancel or CancelToken()
    jobs: list[_Job] = []
    for symbol, bars in candles.items():
        cancel.check()
        if len(bars) < 2:
            continue
        jobs += _plan(request, symbol, bars, PreparedBars.build(bars), cancel)
    total = sum(int(j.tasks.shape[0]) for j in jobs)
    tracker = Tracker(total, on_progress, "auto-optimal")
    result = OptimalResult(grid_size=grid_size(request) * len(candles))
    order = 0
    for job in jobs:
        rows = _run_job(request, job, cancel, tracker)
        for row in rows:
            result.rows.append(_with_order(row, order))
            order += 1
        result.evaluated += int(job.tasks.shape[0])
    tracker.advance(0, "done", force=True)
    result.seconds = time.perf_counter() - started
    return result


def _with_order(row: OptimalRow, order: int) -> OptimalRow:
    from dataclasses import replace

    return replace(row, order=order)


def _run_job(request: OptimalRequest, job: _Job, cancel: CancelToken, tracker: Tracker) -> list[OptimalRow]:
    n_var, n_cfg = job.sig.shape[0], len(job.matrix)
    if n_var == 0:
        return []
    p = job.prep
    side = np.array([0 if d > 0 else 1 for d in job.dirs.tolist()], dtype=np.int64)
    nxt = np.stack([next_signal_index(row) for row in job.sig])
    cap = job.sig.sum(axis=1).astype(np.int64) + 1
    out_f = np.full((n_var, n_cfg, kn.N_GF), np.nan)
    out_i = np.zeros((n_var, n_cfg, kn.N_GI), dtype=np.int64)
    d = job.definition
    m = job.matrix
    pos = 0
    size = 64
    while pos < job.tasks.shape[0]:
        cancel.check()
        chunk = job.tasks[pos:pos + size]
        t0 = time.perf_counter()
        kn.grid_kernel(
            p.o, p.h, p.low, p.c, p.t, p.bmin, p.bmax, p.bmin2, p.bmax2, p.block, p.big, side, job.sig, nxt, cap,
            m.tp, m.sl, m.trail_start, m.trail_stop, request.params.pc, request.params.fee,
            request.params.timeout_s, request.max_open, d.eval_count_1, d.eval_count_2, chunk, out_f, out_i,
        )
        took = time.perf_counter() - t0
        pos += chunk.shape[0]
        tracker.advance(int(chunk.shape[0]), f"{job.symbol} · {d.name}")
        # aim each slice at SLICE_TARGET_S (bounded growth: the first call may include compilation)
        rate = chunk.shape[0] / max(took, 1e-4)
        size = int(min(max(16, rate * SLICE_TARGET_S), size * 4))
    return _rows(request, job, out_f, out_i)


def _rows(
    request: OptimalRequest, job: _Job, out_f: npt.NDArray[np.float64], out_i: npt.NDArray[np.int64]
) -> list[OptimalRow]:
    d = job.definition
    n_var = job.sig.shape[0]
    pc = request.params.pc
    rows = []
    for task in job.tasks.tolist():
        v, k = task % n_var, task // n_var
        f, i = out_f[v, k], out_i[v, k]
        trades, wins = int(i[kn.G_TRADES]), int(i[kn.G_WINS])
        gwin, gloss = float(f[kn.G_GWIN]), float(f[kn.G_GLOSS])
        gross_pf = gwin / gloss if gloss > 0 else (math.inf if gwin > 0 else math.nan)
        per_48h = trades * 48.0 / job.span_h if job.span_h > 0 else math.nan
        dd_h = float(f[kn.G_DD_S]) / 3600.0
        avg_pf = float(f[kn.G_NET]) / trades / pc if trades else math.nan
        pf_a, pf_b = float(f[kn.G_PF_A]), float(f[kn.G_PF_B])
        reasons = []
        if not trades:
            reasons.append("no trades")
        else:
            if not gross_pf >= d.pf_min:
                reasons.append(f"gross PF {gross_pf:.2f} < {d.pf_min:g}")
            if not per_48h >= d.trades_per_48h_min:
                reasons.append(f"{per_48h:.1f} trades/48 h < {d.trades_per_48h_min:g}")
            if dd_h > d.drawdown_time_max_h:
                reasons.append(f"drawdown time {dd_h:.1f} h > {d.drawdown_time_max_h:g} h")
            if not (pf_a > 0 or pf_b > 0):
                reasons.append("PF of the last positions is 0")
            if d.min_avg_pf is not None and not avg_pf >= d.min_avg_pf:
                reasons.append(f"avg PF {avg_pf:.2f} < {d.min_avg_pf:g}")
        params, direction = job.keys[v]
        rows.append(OptimalRow(
            symbol=job.symbol, set_index=job.set_index, set_name=d.name, indication=d.indication, params=params,
            direction=direction, exit=job.matrix.config(k), trades=trades, wins=wins,
            net_pct=100.0 * float(f[kn.G_NET]), gross_pf=gross_pf, pf_a=pf_a, pf_b=pf_b, avg_pf=avg_pf,
            per_48h=per_48h, per_24h=per_48h / 2.0, drawdown_time_h=dd_h,
            max_drawdown_pct=100.0 * float(f[kn.G_MAXDD]), avg_duration_min=float(f[kn.G_AVG_DUR_S]) / 60.0,
            valid=not reasons, reason="; ".join(reasons) or "valid", order=0,
        ))
    return rows
