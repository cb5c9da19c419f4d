"""Compiled grid evaluation for auto-optimal: every (signal variant, exit configuration, adjustment) through the
shared sweep kernel (:func:`cts_desktop.domain.sweep.run_config`, which moves positions with the one exit
simulator) — or, for a cell with Block or DCA, through :func:`cts_desktop.domain.adjust.run_adjusted` (the same
walk and exit rule with add-on entries) and :func:`~cts_desktop.domain.adjust.block_factors` — with the trade list
kept per task so the ranking figures that need the *order* of trades — gross PF of the last 25 / 50, time in
drawdown — come out of the same pass.

A run is split into slices of the flat task range so the caller can report progress and stop between slices
(cancel within a fraction of a second); each slice runs on all numba threads and releases the GIL.
"""

from __future__ import annotations

import numba
import numpy as np
import numpy.typing as npt

from cts_desktop.domain.adjust import block_factors, run_adjusted, weighted_stats
from cts_desktop.domain.bars import FloatArray
from cts_desktop.domain.jit import kernel
from cts_desktop.domain.sweep import run_config

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# float outputs per task
G_NET, G_GWIN, G_GLOSS, G_MAXDD, G_DD_S, G_PF_A, G_PF_B, G_AVG_DUR_S = range(8)
N_GF = 8
# int outputs per task
G_TRADES, G_WINS, G_OPEN = range(3)
N_GI = 3


@kernel()
def tail_gross_pf(result: FloatArray, m: int, window: int) -> float:
    """Σ wins ÷ |Σ losses| over the newest ``window`` of the first ``m`` results (inf without losses and with
    wins, NaN without trades)."""
    lo = max(0, m - window)
    gw = 0.0
    gl = 0.0
    for i in range(lo, m):
        r = result[i]
        if r > 0.0:
            gw += r
        else:
            gl -= r
    if m == lo:
        return np.nan
    if gl == 0.0:
        return np.inf if gw > 0.0 else np.nan
    return gw / gl


@kernel()
def drawdown_seconds(result: FloatArray, exit_t: FloatArray, m: int) -> float:
    """Longest time the cumulative result stayed below an earlier peak (peak starts at 0), in seconds; an open
    drawdown at the end counts until the last close."""
    curve = 0.0
    peak = 0.0
    start = -1.0
    longest = 0.0
    last_peak_t = exit_t[0] if m > 0 else 0.0
    for i in range(m):
        curve += result[i]
        if curve < peak:
            if start < 0.0:
                start = last_peak_t
        else:
            if start >= 0.0:
                longest = max(longest, exit_t[i] - start)
                start = -1.0
            peak = curve
            last_peak_t = exit_t[i]
    if start >= 0.0 and m > 0:
        longest = max(longest, exit_t[m - 1] - start)
    return longest


# adjustment columns (one row per adjustment variant of the job; 0 = off)
A_BLOCK, A_RATIO, A_WAIT, A_AUTO, A_DISABLE, A_ENABLE, A_WINDOW, A_DCA = range(8)
N_ADJ = 8


@kernel(parallel=True)
def grid_kernel(
    o: FloatArray, h: FloatArray, low: FloatArray, c: FloatArray, t: FloatArray,
    bmin: FloatArray, bmax: FloatArray, bmin2: FloatArray, bmax2: FloatArray, block: int, big: int,
    side: IntArray, sig: BoolArray, nxt: IntArray, cap: IntArray,
    tp: FloatArray, sl: FloatArray, ts: FloatArray, tst: FloatArray, pc: float, fee: float, timeout: float,
    max_open: int, window_a: int, window_b: int, adj: FloatArray, dca_dist: FloatArray, dca_size: FloatArray,
    tasks: IntArray, out_f: FloatArray, out_i: IntArray,
) -> None:
    """The given flat task numbers (task = (adjustment × configs + config) × variants + variant); the figures of
    ``tasks[i]`` go to ``out_f[i]`` / ``out_i[i]`` (outputs as long as the slice, so memory does not grow with
    the grid). ``adj`` has one row per adjustment variant (columns ``A_*``), ``dca_dist``/``dca_size`` its DCA
    steps."""
    n_var = sig.shape[0]
    n_cfg = tp.shape[0]
    for i in numba.prange(tasks.shape[0]):
        task = tasks[i]
        v = task % n_var
        k = (task // n_var) % n_cfg
        a = task // (n_var * n_cfg)
        s = side[v]
        m_cap = cap[v]
        rec_entry = np.empty(m_cap, dtype=np.int64)
        rec_exit = np.empty(m_cap, dtype=np.int64)
        rec_price = np.empty(m_cap, dtype=np.float64)
        rec_reason = np.empty(m_cap, dtype=np.int64)
        rec_result = np.empty(m_cap, dtype=np.float64)
        blk = int(adj[a, A_BLOCK])
        steps = int(adj[a, A_DCA])
        if steps == 0 and (blk == 0 or max_open == 1):
            # no DCA: the plain walk. With Block and one position at a time the position still open at the end is
            # the last entry, so it cannot change the factor of a closed one: the factors come from the records.
            trades, total, wins, gwin, gloss, maxdd, n_open = run_config(
                o[s], h[s], low[s], c[s], t, bmin[s], bmax[s], bmin2[s], bmax2[s], block, big, sig[v], nxt[v],
                tp[k], sl[k], ts[k], tst[k], pc, fee, timeout, max_open,
                rec_entry, rec_exit, rec_price, rec_reason, rec_result,
            )
            if blk > 0:
                factor, _adjusted = block_factors(
                    rec_entry, rec_exit, rec_result, trades, 0, blk, adj[a, A_RATIO], int(adj[a, A_WAIT]),
                    adj[a, A_AUTO] != 0.0, adj[a, A_DISABLE], adj[a, A_ENABLE], int(adj[a, A_WINDOW]),
                )
                total, wins, gwin, gloss, maxdd = weighted_stats(rec_result, factor, trades)
        else:
            rec_w = np.empty(m_cap, dtype=np.float64)
            rec_avg = np.empty(m_cap, dtype=np.float64)
            trades, n_open = run_adjusted(
                o[s], h[s], low[s], c[s], t, bmin[s], bmax[s], bmin2[s], bmax2[s], block, big, sig[v], nxt[v],
                tp[k], sl[k], ts[k], tst[k], pc, fee, timeout, max_open, dca_dist[a], dca_size[a], steps,
                rec_entry, rec_exit, rec_price, rec_reason, rec_result, rec_w, rec_avg,
            )
            if blk > 0:
                factor, _adjusted = block_factors(
                    rec_entry, rec_exit, rec_result, trades, n_open, blk, adj[a, A_RATIO], int(adj[a, A_WAIT]),
                    adj[a, A_AUTO] != 0.0, adj[a, A_DISABLE], adj[a, A_ENABLE], int(adj[a, A_WINDOW]),
                )
            else:
                factor = np.ones(trades, dtype=np.float64)
            total, wins, gwin, gloss, maxdd = weighted_stats(rec_result, factor, trades)
        exit_t = np.empty(trades, dtype=np.float64)
        dur = 0.0
        for j in range(trades):
            exit_t[j] = t[rec_exit[j]]
            dur += t[rec_exit[j]] - t[rec_entry[j]]
        out_i[i, G_TRADES] = trades
        out_i[i, G_WINS] = wins
        out_i[i, G_OPEN] = n_open
        out_f[i, G_NET] = total
        out_f[i, G_GWIN] = gwin
        out_f[i, G_GLOSS] = gloss
        out_f[i, G_MAXDD] = maxdd
        out_f[i, G_DD_S] = drawdown_seconds(rec_result, exit_t, trades)
        out_f[i, G_PF_A] = tail_gross_pf(rec_result, trades, window_a)
        out_f[i, G_PF_B] = tail_gross_pf(rec_result, trades, window_b)
        out_f[i, G_AVG_DUR_S] = dur / trades if trades > 0 else np.nan
