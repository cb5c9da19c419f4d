"""Auto-optimal benchmark: 20,000 configurations over 30 days of real 5 m candles, ours and vectorbt in one run.

Run from the repository root:  /work/venv/bin/python bench/optimal.py [--repeat 3] [--no-vectorbt] [--no-adjust]

Data: the last 30 days (8,640 bars) of ../shared/data/candles/bybit_BTCUSDT-PERP_5m.csv (real Bybit BTCUSDT perp).
Grid: RSI period 8…17 × oversold {25, 30} × overbought {70, 75} (40 parameter tuples) × long/short (80 signal
variants) × TP 2, 4 … 20 (10) × SL 0.2 … 2.6 step 0.1 (25) = **20,000 configurations**, no trailing (so vectorbt
can express every one exactly with percentage stops), pc 0.1 %, fee 0.055 %, one position per configuration.

Ours (``cts_desktop.backtest.optimal.run_optimal``): signals, the compiled grid (both cores), validity rules and
the full ranking — median of ``--repeat`` runs after a warm-up (numba compile or cache load, reported). Peak RSS
is read before vectorbt starts.

vectorbt (1.2, ``Portfolio.from_signals`` with open/high/low, ``sl_stop``/``tp_stop``, ``fees``, long-only or
short-only — the W1 settings): the same entries and stops; from its trade records we compute the same figures
(trades, Σ returns, gross PF of the last 25/50, trades per 48 h, drawdown time) and the same ranking. The run
reports whether trade counts, summed returns and the top of the ranking are identical.

Measured 2026-11-25 on this 2-core machine while shared (load average 3–4), ``bench/optimal.py``:
ours 0.65–0.98 s wall per run (median of 3; 0.34–0.36 s CPU of all threads, i.e. ~0.2–0.35 s on an idle
machine), warm-up 1.4–2.0 s, peak RSS 179 MB; vectorbt 37.6–42.1 s for the same 20,000 configurations (warm-up
7–15 s not timed), process peak 1.26–1.39 GB; 43–56× faster; trade counts identical for all 20,000, largest
|Δ Σ returns| 1.4e-14, PF25/PF50/drawdown-time figures equal to ≤ 7e-14 (2.3e-10 s), top-100 ranking identical.

Block and DCA (``--no-adjust`` skips them): the same grid with every cell adjusted (Block 2 × 2 and the default
DCA of 4 add-ons, "only" switches: 20,000 adjusted configurations) and with both axes on (plain, Block, DCA, both:
80,000 configurations) — median time, and 20 sampled adjusted cells re-checked against the backtest runner (trade
count and net result). vectorbt has no DCA with levels re-anchored to the average entry, so there is no
comparison run for these.
Measured 2026-11-26 (load average 4.5–5 from other jobs), ``bench/optimal.py --no-vectorbt``: plain 20,000 in
0.39 s (0.37 s CPU); Block+DCA on every cell, 20,000 configurations: 1.56 s median (warm-up 1.5 s), 20 sampled
cells equal to the backtest runner; all four variants, 80,000 configurations: 4.34 s median, peak RSS 231 MB.
Block alone costs ~1.2× the plain grid (the plain walk, factors from the trade records); DCA ~4× (an add-on level
0.5 % away stops most block skips while a position is open).
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import time
from pathlib import Path

import numba
import numpy as np
import platformdirs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(platformdirs.user_cache_dir("cts-desktop")) / "numba"))

from dataclasses import replace  # noqa: E402

from cts_desktop.backtest.optimal import OptimalRequest, OptimalResult, run_optimal  # noqa: E402
from cts_desktop.backtest.presets import ConfigurationSetDef  # noqa: E402
from cts_desktop.backtest.runner import FixedSet, run_backtest  # noqa: E402
from cts_desktop.backtest.signals import entry_matrix  # noqa: E402
from cts_desktop.domain.bars import LONG, Bars  # noqa: E402
from cts_desktop.domain.exits import ExitParams  # noqa: E402

CANDLES = ROOT.parent / "shared" / "data" / "candles" / "bybit_BTCUSDT-PERP_5m.csv"
BARS_30D = 30 * 288
PARAMS = ExitParams(pc=0.001, fee=0.00055)
GRID = ConfigurationSetDef(
    name="rsi", indication="rsi",
    param_values=(tuple(float(p) for p in range(8, 18)), (25.0, 30.0), (70.0, 75.0)),
    tp_values=tuple(float(t) for t in range(2, 21, 2)),
    sl_values=tuple(round(0.2 + 0.1 * i, 1) for i in range(25)),
    trades_per_48h_min=1.0, pf_min=1.0, drawdown_time_max_h=240.0,
)
TOP = 100


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def load() -> Bars:
    raw = np.loadtxt(CANDLES, delimiter=",", skiprows=1)[-BARS_30D:]
    return Bars.from_columns(raw[:, 0], raw[:, 1], raw[:, 2], raw[:, 3], raw[:, 4])


def ours(bars: Bars, grid: ConfigurationSetDef = GRID) -> OptimalResult:
    return run_optimal(OptimalRequest((grid,), PARAMS), {"BTCUSDT": bars})


def adjusted(bars: Bars, repeat: int) -> None:
    """Block and DCA: 20,000 adjusted cells, then the 80,000-cell grid with both axes; sampled cells re-checked."""
    only = replace(GRID, block=True, block_only=True, dca=True, dca_only=True)
    both = replace(GRID, block=True, dca=True)
    for name, grid in (("Block+DCA on every cell", only), ("plain/Block/DCA/both axes", both)):
        t0 = time.perf_counter()
        ours(bars, grid)
        warm = time.perf_counter() - t0
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = ours(bars, grid)
            times.append(time.perf_counter() - t0)
        assert res.evaluated == grid.size()
        rng = np.random.default_rng(7)
        checked = 0
        for n in rng.choice(res.size, 20, replace=False).tolist():
            row = res.row(int(n))
            rep = run_backtest([FixedSet(row.indication, row.params, row.direction, row.exit, row.adjust)],
                               {"BTCUSDT": bars}, PARAMS)
            assert rep.metrics is not None and rep.metrics.trades == row.trades
            assert abs(rep.metrics.net_pct - row.net_pct) < 1e-9
            checked += 1
        print(f"{name}: {res.evaluated:,} configurations; warm-up {warm:.2f} s; median of {repeat} runs "
              f"{np.median(times):.3f} s (min {min(times):.3f}); peak RSS {peak_rss_mb():.0f} MB; valid "
              f"{res.valid_count:,}; trades {int(res.i['trades'].sum()):,}; {checked} sampled cells equal the "
              f"backtest runner")


def tail_pf(r: np.ndarray, n: int) -> float:
    t = r[-n:]
    if t.size == 0:
        return math.nan
    win, loss = t[t > 0].sum(), -t[t <= 0].sum()
    return (math.inf if win > 0 else math.nan) if loss == 0 else win / loss


def dd_seconds(r: np.ndarray, exit_t: np.ndarray) -> float:
    curve, peak, start, longest = 0.0, 0.0, -1.0, 0.0
    last_peak_t = exit_t[0] if r.size else 0.0
    for x, t in zip(r.tolist(), exit_t.tolist(), strict=True):
        curve += x
        if curve < peak:
            if start < 0:
                start = last_peak_t
        else:
            if start >= 0:
                longest = max(longest, t - start)
                start = -1.0
            peak, last_peak_t = curve, t
    if start >= 0 and r.size:
        longest = max(longest, float(exit_t[-1]) - start)
    return longest


def run_vectorbt(bars: Bars) -> dict[str, np.ndarray]:
    """Figures per (variant, configuration) in our grid order, from vectorbt's trade records."""
    import vectorbt as vbt

    matrix = GRID.matrix()
    sig, dirs, _keys = entry_matrix("rsi", GRID.param_grid(), bars, PARAMS.pc, GRID.directions)
    n_var, n_cfg = sig.shape[0], len(matrix)
    sl_frac = matrix.sl * matrix.tp * PARAMS.pc
    tp_frac = matrix.tp * PARAMS.pc
    out = {name: np.zeros((n_var, n_cfg)) for name in ("trades", "net", "gwin", "gloss", "pf_a", "pf_b", "dd_s")}
    ohlc = {"open": bars.open[:, None], "high": bars.high[:, None], "low": bars.low[:, None]}
    for v in range(n_var):
        ent = np.repeat(sig[v][:, None], n_cfg, axis=1)
        pf = vbt.Portfolio.from_signals(
            bars.close[:, None], ent, np.zeros_like(ent), sl_stop=sl_frac[None, :], tp_stop=tp_frac[None, :],
            fees=PARAMS.fee, direction="longonly" if dirs[v] == LONG else "shortonly", **ohlc,
        )
        rec = pf.trades.closed.values
        col, exit_idx, ret = rec["col"], rec["exit_idx"], pf.trades.closed.returns.values
        order = np.lexsort((exit_idx, col))
        col, exit_idx, ret = col[order], exit_idx[order], ret[order]
        bounds = np.searchsorted(col, np.arange(n_cfg + 1))
        for k in range(n_cfg):
            r = ret[bounds[k]:bounds[k + 1]]
            t = bars.time[exit_idx[bounds[k]:bounds[k + 1]]]
            out["trades"][v, k] = r.size
            out["net"][v, k] = r.sum()
            out["gwin"][v, k] = r[r > 0].sum()
            out["gloss"][v, k] = -r[r <= 0].sum()
            out["pf_a"][v, k] = tail_pf(r, GRID.eval_count_1)
            out["pf_b"][v, k] = tail_pf(r, GRID.eval_count_2)
            out["dd_s"][v, k] = dd_seconds(r, t)
    return out


def vbt_ranking(fig: dict[str, np.ndarray], span_h: float) -> np.ndarray:
    """The ranking of cts_desktop.backtest.optimal applied to vectorbt's figures; indices in our task order
    (task = config × variants + variant)."""
    n_var = fig["trades"].shape[0]
    flat = {k: v.T.ravel() for k, v in fig.items()}  # config-major, variant-minor = our task order
    trades = flat["trades"]
    with np.errstate(invalid="ignore", divide="ignore"):
        gross = np.where(flat["gloss"] > 0, flat["gwin"] / flat["gloss"], np.where(flat["gwin"] > 0, np.inf, np.nan))
    per48 = trades * 48.0 / span_h
    dd_h = flat["dd_s"] / 3600.0
    valid = (trades > 0) & (gross >= GRID.pf_min) & (per48 >= GRID.trades_per_48h_min) & (
        dd_h <= GRID.drawdown_time_max_h) & ((flat["pf_a"] > 0) | (flat["pf_b"] > 0))

    def desc(x: np.ndarray) -> np.ndarray:  # rounded as run_optimal ranks (RANK_DECIMALS)
        return -np.round(np.nan_to_num(x, nan=-np.inf, posinf=1e12), 9)

    keys = (np.arange(trades.size), np.round(np.nan_to_num(dd_h, nan=np.inf), 9), desc(per48), desc(flat["pf_b"]),
            desc(flat["pf_a"]), 1 - valid.astype(np.int64))
    assert n_var > 0
    return np.lexsort(keys)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-vectorbt", action="store_true")
    ap.add_argument("--no-adjust", action="store_true")
    args = ap.parse_args()
    bars = load()
    n = len(bars)
    t0 = time.perf_counter()
    ours(bars)
    warm = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(args.repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        res = ours(bars)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    rss = peak_rss_mb()
    assert res.evaluated == 20_000
    order = res.order()
    print(f"bars {n:,} (30 days of 5 m, {bars.time[0]:.0f} → {bars.time[-1]:.0f}); configurations {res.evaluated:,}; "
          f"numba threads {numba.get_num_threads()}; load average {os.getloadavg()[0]:.2f}")
    print(f"ours: warm-up (compile or cache load) {warm:.2f} s; median of {args.repeat} runs {np.median(times):.3f} s "
          f"(min {min(times):.3f}); CPU time all threads {np.median(cpu):.3f} s; peak RSS {rss:.0f} MB; "
          f"valid {res.valid_count:,}; trades {int(res.i['trades'].sum()):,}")
    best = res.row(int(order[0]))
    print(f"ours best: {best.indication}{best.params} {'long' if best.direction > 0 else 'short'} TP {best.exit.tp:g} "
          f"SL {best.exit.sl:g}: trades {best.trades}, net {best.net_pct:.3f} %, PF25 {best.pf_a:.2f}, "
          f"PF50 {best.pf_b:.2f}, per 48 h {best.per_48h:.2f}, DD time {best.drawdown_time_h:.1f} h")
    if not args.no_adjust:
        adjusted(bars, args.repeat)
    if args.no_vectorbt:
        return
    small = Bars(*(getattr(bars, f)[:2000] for f in ("time", "open", "high", "low", "close")))
    t0 = time.perf_counter()
    try:
        import vectorbt as vbt
    except ImportError:
        print("vectorbt is not installed (pip install -e .[bench]); no comparison run")
        return

    _ = vbt.Portfolio.from_signals(small.close[:, None], np.ones((2000, 1), bool), np.zeros((2000, 1), bool),
                               sl_stop=0.01, tp_stop=0.01, fees=PARAMS.fee, open=small.open[:, None],
                               high=small.high[:, None], low=small.low[:, None]).trades.closed.returns
    vwarm = time.perf_counter() - t0
    t0 = time.perf_counter()
    fig = run_vectorbt(bars)
    vtime = time.perf_counter() - t0
    vrss = peak_rss_mb()
    span_h = (float(bars.time[-1] - bars.time[0]) + 300.0) / 3600.0
    vorder = vbt_ranking(fig, span_h)
    n_var = res.jobs[0].sig.shape[0]
    our_trades = np.zeros((n_var, len(res.jobs[0].matrix)))
    our_net = np.zeros_like(our_trades)
    our_trades[res.i["variant"], res.i["config"]] = res.i["trades"]
    our_net[res.i["variant"], res.i["config"]] = res.f["net_pct"] / 100.0
    same_counts = bool(np.array_equal(our_trades, fig["trades"]))
    diff = float(np.max(np.abs(our_net - fig["net"])))
    our_tasks = res.i["config"] * n_var + res.i["variant"]
    same_top = bool(np.array_equal(our_tasks[order[:TOP]], vorder[:TOP]))
    figs = {}
    for name, col in (("pf_a", "pf_a"), ("pf_b", "pf_b"), ("dd_s", "drawdown_time_h")):
        ours_grid = np.full(our_trades.shape, np.nan)
        ours_grid[res.i["variant"], res.i["config"]] = res.f[col] * (3600.0 if name == "dd_s" else 1.0)
        both = np.isfinite(ours_grid) & np.isfinite(fig[name])
        same_nan = bool(np.array_equal(np.isfinite(ours_grid), np.isfinite(fig[name])))
        figs[name] = (float(np.max(np.abs(ours_grid[both] - fig[name][both]), initial=0.0)), same_nan)
    print(f"vectorbt: warm-up {vwarm:.1f} s (not timed); run {vtime:.1f} s; process peak RSS {vrss:.0f} MB "
          f"(includes ours {rss:.0f} MB)")
    print(f"speed ratio (vectorbt ÷ ours, same 20,000 configurations): {vtime / float(np.median(times)):.0f}×")
    print(f"trade counts identical for all 20,000: {same_counts}; largest |Δ Σ returns| {diff:.1e}; "
          f"top {TOP} of the ranking identical: {same_top}")
    print("ranking figures, largest |Δ| (and same finite/non-finite cells): " + ", ".join(
        f"{k} {d:.1e} ({same})" for k, (d, same) in figs.items()))


if __name__ == "__main__":
    main()
