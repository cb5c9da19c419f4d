"""Auto-optimal (DOMAIN Part 2 §5.6): a grid over indication parameters × TP × SL × trailing (× Block × DCA when a
set enables them) per symbol, the validity rules of the configuration set and a deterministic ranking.

Every grid cell is simulated by the shared sweep kernel (one exit simulator for backtest, auto-optimal and the
live book). A cell is **valid** when gross PF ≥ ``pf_min``, trades per 48 h ≥ ``trades_per_48h_min``, the
longest drawdown time ≤ ``drawdown_time_max_h``, gross PF of the last 25 or of the last 50 > 0 (Part 2 §5.3)
and, for the legacy presets, avg_pf ≥ ``min_avg_pf``. **Ranking**: valid first, then gross PF of the last
``eval_count_1`` (25) descending, of the last ``eval_count_2`` (50) descending, trades per 48 h descending,
drawdown time ascending, then the grid position (so equal figures keep a fixed order; figures are compared
rounded to 9 decimals, so float noise never reorders ties).

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
from cts_desktop.domain.adjust import MAX_DCA_STEPS, NO_ADJUST, Adjust
from cts_desktop.domain.bars import Bars
from cts_desktop.domain.exits import ExitConfig, ExitParams
from cts_desktop.domain.matrix import ExitMatrix
from cts_desktop.domain.sweep import PreparedBars, next_signal_index

RANK_DECIMALS = 9
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
    adjust: Adjust = NO_ADJUST

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


# columns of the result table (one row per evaluated cell)
_FLOAT_COLS = ("net_pct", "gross_pf", "pf_a", "pf_b", "avg_pf", "per_48h", "drawdown_time_h", "max_drawdown_pct",
               "avg_duration_min")
_INT_COLS = ("trades", "wins", "job", "variant", "config", "adjust", "valid")


@dataclass(slots=True)
class OptimalResult:
    """Every evaluated cell as columns (arrays), so a grid of millions ranks in numpy; :class:`OptimalRow`
    objects are built only for the rows asked for."""

    f: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    i: dict[str, npt.NDArray[np.int64]] = field(default_factory=dict)
    jobs: list[_Job] = field(default_factory=list)
    evaluated: int = 0
    grid_size: int = 0
    seconds: float = 0.0

    @property
    def size(self) -> int:
        return int(self.i["trades"].shape[0]) if self.i else 0

    @property
    def valid_count(self) -> int:
        return int(self.i["valid"].sum()) if self.i else 0

    def order(self) -> npt.NDArray[np.int64]:
        """Row numbers in rank order (see the module docstring)."""
        if not self.size:
            return np.zeros(0, dtype=np.int64)

        # figures equal to 9 decimals are ties (float noise must not reorder them): the grid position decides
        def desc(name: str) -> npt.NDArray[np.float64]:
            x = np.nan_to_num(self.f[name], nan=-np.inf, posinf=1e12)
            return np.asarray(-np.round(x, RANK_DECIMALS), dtype=np.float64)

        dd = np.round(np.nan_to_num(self.f["drawdown_time_h"], nan=np.inf), RANK_DECIMALS)
        keys = (np.arange(self.size), dd, desc("per_48h"), desc("pf_b"), desc("pf_a"), 1 - self.i["valid"])
        return np.lexsort(keys).astype(np.int64)

    def row(self, n: int, order: int | None = None) -> OptimalRow:
        job = self.jobs[int(self.i["job"][n])]
        v, k, a = int(self.i["variant"][n]), int(self.i["config"][n]), int(self.i["adjust"][n])
        fv = {name: float(self.f[name][n]) for name in _FLOAT_COLS}
        trades, wins = int(self.i["trades"][n]), int(self.i["wins"][n])
        params, direction = job.keys[v]
        d = job.definition
        reason = _reasons(d, trades, fv)
        return OptimalRow(
            symbol=job.symbol, set_index=job.set_index, set_name=d.name, indication=d.indication, params=params,
            direction=direction, exit=job.matrix.config(k), trades=trades, wins=wins, per_24h=fv["per_48h"] / 2.0,
            valid=bool(self.i["valid"][n]), reason=reason or "valid", order=n if order is None else order,
            adjust=job.adjust[a], **fv,
        )

    @property
    def rows(self) -> list[OptimalRow]:
        """All rows in grid order (small grids and tests; use :meth:`ranked` with a limit for large ones)."""
        return [self.row(n) for n in range(self.size)]

    def ranked(self, limit: int | None = None) -> list[OptimalRow]:
        idx = self.order()
        if limit is not None:
            idx = idx[:limit]
        return [self.row(int(n)) for n in idx]

    def valid(self, limit: int | None = None) -> list[OptimalRow]:
        idx = self.order()
        idx = idx[self.i["valid"][idx] == 1] if self.size else idx
        return [self.row(int(n)) for n in (idx if limit is None else idx[:limit])]


def _reasons(d: ConfigurationSetDef, trades: int, f: dict[str, float]) -> str:
    if not trades:
        return "no trades"
    out = []
    if not f["gross_pf"] >= d.pf_min:
        out.append(f"gross PF {f['gross_pf']:.2f} < {d.pf_min:g}")
    if not f["per_48h"] >= d.trades_per_48h_min:
        out.append(f"{f['per_48h']:.1f} trades/48 h < {d.trades_per_48h_min:g}")
    if f["drawdown_time_h"] > d.drawdown_time_max_h:
        out.append(f"drawdown time {f['drawdown_time_h']:.1f} h > {d.drawdown_time_max_h:g} h")
    if not (f["pf_a"] > 0 or f["pf_b"] > 0):
        out.append("PF of the last positions is 0")
    if d.min_avg_pf is not None and not f["avg_pf"] >= d.min_avg_pf:
        out.append(f"avg PF {f['avg_pf']:.2f} < {d.min_avg_pf:g}")
    return "; ".join(out)


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
    adjust: list[Adjust]
    tasks: npt.NDArray[np.int64]

    def adjust_arrays(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The kernel's per-variant adjustment rows (see :mod:`cts_desktop.backtest.kernels`)."""
        n = len(self.adjust)
        adj = np.zeros((n, kn.N_ADJ))
        dist = np.zeros((n, MAX_DCA_STEPS))
        size = np.zeros((n, MAX_DCA_STEPS))
        for a, variant in enumerate(self.adjust):
            b, d = variant.block, variant.dca
            if b is not None:
                adj[a, [kn.A_BLOCK, kn.A_RATIO, kn.A_WAIT, kn.A_AUTO, kn.A_DISABLE, kn.A_ENABLE, kn.A_WINDOW]] = (
                    b.size, b.ratio, b.neutral_wait, float(b.auto_disable), b.disable_win_rate, b.enable_win_rate,
                    b.window)
            if d is not None:
                adj[a, kn.A_DCA] = d.max_steps
                dist[a], size[a] = d.arrays()
        return adj, dist, size


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
        adjust = definition.adjust_variants()
        n_tasks = sig.shape[0] * len(matrix) * len(adjust)
        want = per_set[index]
        if 0 < want < n_tasks:
            tasks = np.sort(rng.choice(n_tasks, size=want, replace=False)).astype(np.int64)
        else:
            tasks = np.arange(n_tasks, dtype=np.int64)
        jobs.append(_Job(symbol, index, definition, prep, span_h, np.ascontiguousarray(sig), dirs, keys, matrix,
                         adjust, tasks))
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
    result = OptimalResult(grid_size=grid_size(request) * len(candles), jobs=jobs)
    parts = []
    for number, job in enumerate(jobs):
        parts.append(_run_job(request, job, number, cancel, tracker))
        result.evaluated += int(job.tasks.shape[0])
    if parts:
        result.f = {name: np.concatenate([p[0][name] for p in parts]) for name in _FLOAT_COLS}
        result.i = {name: np.concatenate([p[1][name] for p in parts]) for name in _INT_COLS}
    tracker.advance(0, "done", force=True)
    result.seconds = time.perf_counter() - started
    return result


def _run_job(request: OptimalRequest, job: _Job, number: int, cancel: CancelToken, tracker: Tracker
             ) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, npt.NDArray[np.int64]]]:
    n_var = job.sig.shape[0]
    if n_var == 0:
        empty_f = {name: np.zeros(0) for name in _FLOAT_COLS}
        return empty_f, {name: np.zeros(0, dtype=np.int64) for name in _INT_COLS}
    p = job.prep
    side = np.array([0 if d > 0 else 1 for d in job.dirs.tolist()], dtype=np.int64)
    nxt = np.stack([next_signal_index(row) for row in job.sig])
    cap = job.sig.sum(axis=1).astype(np.int64) + 1
    parts: list[tuple[dict[str, npt.NDArray[np.float64]], dict[str, npt.NDArray[np.int64]]]] = []
    d = job.definition
    m = job.matrix
    adj, dca_dist, dca_size = job.adjust_arrays()
    pos = 0
    size = 64
    while pos < job.tasks.shape[0]:
        cancel.check()
        chunk = job.tasks[pos:pos + size]
        out_f = np.full((chunk.shape[0], kn.N_GF), np.nan)
        out_i = np.zeros((chunk.shape[0], kn.N_GI), dtype=np.int64)
        t0 = time.perf_counter()
        kn.grid_kernel(
            p.o, p.h, p.low, p.c, p.t, p.bmin, p.bmax, p.bmin2, p.bmax2, p.block, p.big, side, job.sig, nxt, cap,
            m.tp, m.sl, m.trail_start, m.trail_stop, request.params.pc, request.params.fee,
            request.params.timeout_s, request.max_open, d.eval_count_1, d.eval_count_2, adj, dca_dist, dca_size,
            chunk, out_f, out_i,
        )
        took = time.perf_counter() - t0
        parts.append(_columns(request, job, number, chunk, out_f, out_i))
        pos += chunk.shape[0]
        tracker.advance(int(chunk.shape[0]), f"{job.symbol} · {d.name}")
        # aim each slice at SLICE_TARGET_S (bounded growth: the first call may include compilation)
        rate = chunk.shape[0] / max(took, 1e-4)
        size = int(min(max(16, rate * SLICE_TARGET_S), size * 4))
    if not parts:
        return _columns(request, job, number, job.tasks[:0], np.zeros((0, kn.N_GF)),
                        np.zeros((0, kn.N_GI), dtype=np.int64))
    return ({name: np.concatenate([p[0][name] for p in parts]) for name in _FLOAT_COLS},
            {name: np.concatenate([p[1][name] for p in parts]) for name in _INT_COLS})


def _columns(
    request: OptimalRequest, job: _Job, number: int, tasks: npt.NDArray[np.int64], f: npt.NDArray[np.float64],
    i: npt.NDArray[np.int64],
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, npt.NDArray[np.int64]]]:
    """A slice of the job's cells as columns, with the validity rules applied vectorised."""
    d = job.definition
    n_var = job.sig.shape[0]
    n_cfg = len(job.matrix)
    v = tasks % n_var
    k = (tasks // n_var) % n_cfg
    a = tasks // (n_var * n_cfg)
    trades = i[:, kn.G_TRADES]
    gwin, gloss = f[:, kn.G_GWIN], f[:, kn.G_GLOSS]
    with np.errstate(invalid="ignore", divide="ignore"):
        gross_pf = np.where(gloss > 0, gwin / np.where(gloss > 0, gloss, 1.0), np.where(gwin > 0, np.inf, np.nan))
        per_48h = trades * 48.0 / job.span_h if job.span_h > 0 else np.full(trades.shape, np.nan)
        avg_pf = np.where(trades > 0, f[:, kn.G_NET] / np.maximum(trades, 1) / request.params.pc, np.nan)
    dd_h = f[:, kn.G_DD_S] / 3600.0
    pf_a, pf_b = f[:, kn.G_PF_A], f[:, kn.G_PF_B]
    valid = (trades > 0) & (gross_pf >= d.pf_min) & (per_48h >= d.trades_per_48h_min) & (
        dd_h <= d.drawdown_time_max_h) & ((pf_a > 0) | (pf_b > 0))
    if d.min_avg_pf is not None:
        valid &= avg_pf >= d.min_avg_pf
    cols_f = {
        "net_pct": 100.0 * f[:, kn.G_NET], "gross_pf": gross_pf, "pf_a": pf_a, "pf_b": pf_b, "avg_pf": avg_pf,
        "per_48h": np.asarray(per_48h, dtype=np.float64), "drawdown_time_h": dd_h,
        "max_drawdown_pct": 100.0 * f[:, kn.G_MAXDD], "avg_duration_min": f[:, kn.G_AVG_DUR_S] / 60.0,
    }
    cols_i = {"trades": trades.astype(np.int64), "wins": i[:, kn.G_WINS].astype(np.int64),
              "job": np.full(trades.shape, number, dtype=np.int64), "variant": v.astype(np.int64),
              "config": k.astype(np.int64), "adjust": a.astype(np.int64), "valid": valid.astype(np.int64)}
    return cols_f, cols_i
