"""The Sets screen: every configuration set of the running engines, read from their books in memory (never a SQL
query per refresh) — status, layer (Base → Main → Real), one window's figures, why a set is paused or failed — the
Base → Main → Real funnel, and one set's pseudo results for its chart.

The books belong to the engines' event loop; a refresh reads them in a worker thread (read-only numpy views, as
the Dashboard's pseudo markers do), so the GUI thread never waits for thousands of rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

from cts_desktop.application.common import TradingAccess, in_thread
from cts_desktop.domain.book import SetBook, SetStatus
from cts_desktop.domain.book_layout import S_LAST_EXIT
from cts_desktop.domain.book_stats import FIGURE_NAMES, gate_figures, stored_figures
from cts_desktop.domain.gates import GateThresholds

if TYPE_CHECKING:
    from cts_desktop.engine.connection_engine import ConnectionEngine
    from cts_desktop.engine.pipeline import SymbolPipeline

WINDOWS = (10, 20, 30, 50)
LAYERS = ("base", "main", "real")


class SetRow(NamedTuple):
    """One set as the Sets tab shows it (a named tuple: tens of thousands are built per refresh)."""

    key: str  # connection id | symbol | book row
    connection_id: str
    symbol: str
    row: int
    indication: str  # "direction(3,)"
    direction: str
    tp: float
    sl: float
    trailing: str  # "0.6/0.2" or ""
    status: str  # evaluating | active | paused | failed
    layer: str  # base | main | real
    trades: int  # results ever closed
    open_now: int
    avg_pf: float
    gross_pf: float
    win_rate: float  # 0..1
    max_drawdown: float  # fraction of notional
    time_in_drawdown_s: float
    window_trades: int
    last_close_s: float | None
    why: str  # why paused or failed ("" otherwise)
    status_since_s: float | None  # when the set took its status (None: in it since the book started)

    @property
    def id(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Funnel:
    """Sets per layer (every set is Base; Main ⊂ Base; Real ⊂ Main) and per status."""

    base: int
    main: int
    real: int
    by_status: dict[str, int]


@dataclass(frozen=True, slots=True)
class SetHistory:
    """A set's stored pseudo results, oldest first: close time (epoch s) and result in position-cost units."""

    key: str
    close_s: npt.NDArray[np.float64]
    result_pc: npt.NDArray[np.float64]

    @property
    def cumulative(self) -> npt.NDArray[np.float64]:
        return np.cumsum(self.result_pc)


def _pct(value: float) -> str:
    return f"{value * 100:.0f} %"


def status_reasons(book: SetBook, th: GateThresholds, rows: npt.NDArray[np.int64]) -> list[str]:
    """Why each set of ``rows`` is paused or failed, by the rule of :mod:`cts_desktop.domain.gates` it missed."""
    out = [""] * rows.size
    status = book.status[rows]
    bad = np.flatnonzero((status == SetStatus.PAUSED) | (status == SetStatus.FAILED))
    if bad.size == 0:
        return out
    picked = rows[bad]
    wr_all, wl_all, _ = gate_figures(book, min(th.phase2_count, book.params.capacity), picked)
    wr_prod, _, dd_prod = gate_figures(book, th.production_window, picked)
    failed = int(SetStatus.FAILED)
    for i, st, wa, wl, wp, dd in zip(bad.tolist(), status[bad].tolist(), wr_all.tolist(), wl_all.tolist(),
                                     wr_prod.tolist(), dd_prod.tolist(), strict=True):
        if st == failed:
            out[i] = f"phase 1: win rate {_pct(wa)} < {_pct(th.phase1_min_win_rate)}"
            continue
        misses = []  # a paused set resumes by the production rules: what it misses of them now
        if dd > th.pause_above_drawdown:
            misses.append(f"drawdown {_pct(dd)} > {_pct(th.pause_above_drawdown)}")
        if not wp >= th.resume_win_rate:
            misses.append(f"win rate {_pct(wp)} < {_pct(th.resume_win_rate)} to resume")
        if not misses:  # paused at phase 2 and not closed since
            if not wa >= th.phase2_min_win_rate:
                misses.append(f"phase 2: win rate {_pct(wa)} < {_pct(th.phase2_min_win_rate)}")
            if not wl >= th.phase2_min_win_loss:
                misses.append(f"phase 2: win/loss {wl:.2f} < {th.phase2_min_win_loss:.2f}")
        out[i] = ", ".join(misses) or "resumes at its next close"
    return out


def _variant_texts(pipeline: SymbolPipeline) -> dict[int, tuple[str, str]]:
    return {v: (f"{kind}({','.join(f'{p:g}' for p in params)})", "long" if direction > 0 else "short")
            for (kind, params, direction), v in list(pipeline.book.variants.items())}  # one atomic copy


def pipeline_rows(connection_id: str, pipeline: SymbolPipeline, window: int) -> list[SetRow]:
    """Every set of one symbol's book with the figures of its newest ``window`` results."""
    book = pipeline.book
    n = len(book)
    if n == 0:
        return []
    rows = np.arange(n, dtype=np.int64)
    layers = pipeline.layer_of(rows)
    figures = stored_figures(book, rows, (window,))  # one compiled pass: FIGURE_NAMES of the window, per set
    fig = {name: figures[:, k].tolist() for k, name in enumerate(FIGURE_NAMES)}
    # every column cut to the n rows read first: the engine's loop may add a variant meanwhile
    in_window = np.minimum(book.count[:n], window).tolist()
    reasons = status_reasons(book, pipeline.thresholds, rows)
    variants = _variant_texts(pipeline)
    m = book.matrix
    exits = [(tp, sl, f"{ts:g}/{tt:g}" if tt > 0 else "") for tp, sl, ts, tt in
             zip(m.tp.tolist(), m.sl.tolist(), m.trail_start.tolist(), m.trail_stop.tolist(), strict=True)]
    names = [s.name.lower() for s in SetStatus]
    n_cfg, connection, symbol = book.n_cfg, connection_id, pipeline.symbol
    last_exit = book.set_f[:n, S_LAST_EXIT].tolist()
    recorded = pipeline.status_since  # read, never grown here: the engine's loop owns it
    since = recorded[:n].tolist() + [math.nan] * (n - min(n, recorded.size))
    columns = zip(book.status[:n].tolist(), layers, book.total[:n].tolist(), book.open_count()[:n].tolist(),
                  fig["avg_pf"], fig["gross_pf"], fig["win_rate"], fig["max_drawdown"], fig["time_in_drawdown_s"],
                  in_window, last_exit, reasons, since, strict=True)
    out = []
    for s, (status, layer, total, open_now, avg_pf, gross_pf, win_rate, dd, tdd, n_window, last, why, at) in \
            enumerate(columns):
        v, c = divmod(s, n_cfg)
        indication, direction = variants.get(v, ("?", "?"))
        tp, sl, trail = exits[c]
        out.append(SetRow(f"{connection}|{symbol}|{s}", connection, symbol, s, indication, direction, tp, sl, trail,
                          names[status], layer, total, open_now, avg_pf, gross_pf, win_rate, dd, tdd, n_window,
                          last if math.isfinite(last) else None, why, at if math.isfinite(at) else None))
    return out


def funnel(rows: Iterable[SetRow]) -> Funnel:
    layers = dict.fromkeys(LAYERS, 0)
    statuses = {s.name.lower(): 0 for s in SetStatus}
    total = 0
    for row in rows:
        total += 1
        layers[row.layer] += 1
        statuses[row.status] += 1
    return Funnel(base=total, main=layers["main"] + layers["real"], real=layers["real"], by_status=statuses)


@dataclass(frozen=True, slots=True)
class SetsFilter:
    connection_id: str = ""
    symbol: str = ""
    status: str = ""  # "" = any
    layer: str = ""
    text: str = ""  # in the indication or the reason

    def keeps(self, row: SetRow) -> bool:
        return ((not self.connection_id or row.connection_id == self.connection_id)
                and (not self.symbol or row.symbol == self.symbol)
                and (not self.status or row.status == self.status)
                and (not self.layer or row.layer == self.layer)
                and (not self.text or self.text.lower() in f"{row.indication} {row.why}".lower()))


class SetsPart:
    def __init__(self, trading: TradingAccess) -> None:
        self.trading = trading

    def _engines(self) -> dict[str, ConnectionEngine]:
        return self.trading.engines()

    def sources(self) -> list[tuple[str, str]]:
        """(connection id, symbol) of every book a running engine holds."""
        return [(cid, symbol) for cid, engine in self._engines().items() for symbol in engine.pipelines]

    async def rows(self, flt: SetsFilter | None = None, window: int = 20) -> list[SetRow]:
        """Every set of the running engines (filtered), read from their books in a worker thread."""
        pipelines = [(cid, p) for cid, engine in self._engines().items() for p in list(engine.pipelines.values())]
        keep = flt or SetsFilter()

        def read() -> list[SetRow]:
            out: list[SetRow] = []
            for cid, pipeline in pipelines:
                if keep.connection_id and cid != keep.connection_id:
                    continue
                if keep.symbol and pipeline.symbol != keep.symbol:
                    continue
                out.extend(r for r in pipeline_rows(cid, pipeline, window) if keep.keeps(r))
            return out

        return await in_thread(read)

    async def history(self, key: str) -> SetHistory | None:
        """One set's stored pseudo results (None when its engine or book is gone)."""
        connection_id, symbol, row = key.split("|")
        engine = self._engines().get(connection_id)
        pipeline = engine.pipelines.get(symbol) if engine is not None else None
        if pipeline is None or int(row) >= len(pipeline.book):
            return None
        book = pipeline.book
        result, _entry, close, _uw = book.history(int(row))
        return SetHistory(key, close, result / book.params.exit.pc)
