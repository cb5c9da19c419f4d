"""The Preset engine's trading core, without I/O (DOMAIN Part 1 §8; Part 2 §5.3–5.5): candles built from the price
stream, every (set, symbol)'s pseudo positions on the one exit rule with Block/DCA, the preset type's limits, the
set evaluator's gross-PF test, and the coordination of sets with ranges by auto-optimal. The engine loop that feeds
it and talks to the database and the order manager is :mod:`cts_desktop.engine.preset_engine`.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from cts_desktop.backtest.runner import FixedSet
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.adjust import AdjustedBook
from cts_desktop.domain.bars import LONG, Bars
from cts_desktop.domain.exits import ExitParams
from cts_desktop.engine.order_types import EntrySignal

if TYPE_CHECKING:
    from cts_desktop.backtest.optimal import OptimalResult
    from cts_desktop.backtest.presets import ConfigurationSetDef

log = logging.getLogger("cts.engine.preset")

HISTORY_BARS = 600  # candles kept per symbol: enough for every indicator's warm-up at the default periods
MAX_CANDIDATES = 25  # live candidates per set with ranges and symbol (the best valid coordination results)


@dataclass(frozen=True, slots=True)
class LiveSet:
    """One traded configuration of the assigned preset type, with its rules and backtest verdict. ``symbol`` None:
    every symbol of the engine (fixed sets); else only that one (a coordination candidate)."""

    set_id: int
    fixed: FixedSet
    pf_min: float
    eval_count: int
    backtest_ok: bool
    symbol: str | None = None
    rank: int = 0

    @property
    def key(self) -> tuple[int, FixedSet]:
        return self.set_id, self.fixed

    def applies(self, symbol: str) -> bool:
        return self.symbol is None or self.symbol == symbol


@dataclass(frozen=True, slots=True)
class PresetLimits:
    """Position limits and timeouts of a preset type (Part 2 §5.1)."""

    per_indication: int = 10
    per_direction: int = 5
    per_range: int = 3
    indication_timeout_s: float = 60.0
    cooldown_s: float = 300.0

    @classmethod
    def from_type(cls, settings: dict[str, Any]) -> PresetLimits:
        d = cls()
        return cls(int(settings.get("max_positions_per_indication", d.per_indication)),
                   int(settings.get("max_positions_per_direction", d.per_direction)),
                   int(settings.get("max_positions_per_range", d.per_range)),
                   float(settings.get("timeout_per_indication_s", d.indication_timeout_s)),
                   float(settings.get("timeout_after_position_s", d.cooldown_s)))


@dataclass
class _Candles:
    """OHLC candles of one symbol, newest last; the open candle is kept apart until its period ends."""

    seconds: float
    time: list[float] = field(default_factory=list)
    o: list[float] = field(default_factory=list)
    h: list[float] = field(default_factory=list)
    lo: list[float] = field(default_factory=list)
    c: list[float] = field(default_factory=list)
    current: list[float] | None = None  # [start, o, h, l, c]

    def push(self, t: float, price: float) -> bool:
        """Add a price; True when it closed the previous candle."""
        start = math.floor(t / self.seconds) * self.seconds
        cur = self.current
        if cur is None:
            self.current = [start, price, price, price, price]
            return False
        if start > cur[0]:
            self._close(cur)
            self.current = [start, price, price, price, price]
            return True
        cur[2] = max(cur[2], price)
        cur[3] = min(cur[3], price)
        cur[4] = price
        return False

    def _close(self, cur: list[float]) -> None:
        for arr, v in zip((self.time, self.o, self.h, self.lo, self.c), cur, strict=True):
            arr.append(v)
        if len(self.time) > HISTORY_BARS:
            for arr in (self.time, self.o, self.h, self.lo, self.c):
                del arr[: len(arr) - HISTORY_BARS]

    def warm(self, bars: Bars) -> None:
        """Seed from finer candles (e.g. the cached 1-minute history), aggregated to this candle size."""
        if len(bars) == 0:
            return
        for i in range(len(bars)):
            t = float(bars.time[i])
            start = math.floor(t / self.seconds) * self.seconds
            cur = self.current
            if cur is None or start > cur[0]:
                if cur is not None:
                    self._close(cur)
                self.current = [start, float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                                float(bars.close[i])]
            else:
                cur[2] = max(cur[2], float(bars.high[i]))
                cur[3] = min(cur[3], float(bars.low[i]))
                cur[4] = float(bars.close[i])

    def bars(self) -> Bars:
        return Bars(*(np.asarray(a, dtype=np.float64) for a in (self.time, self.o, self.h, self.lo, self.c)))


def gross_pf_tail(results: np.ndarray, n: int) -> float:
    """Σ wins ÷ |Σ losses| of the newest ``n`` results (inf without losses)."""
    r = results[-n:]
    loss = float(-r[r <= 0].sum())
    win = float(r[r > 0].sum())
    return math.inf if loss == 0 else win / loss


class PresetRunner:
    """The synchronous core (no I/O): candles, signals, pseudo books, limits, the set evaluator and live entry
    decisions."""

    def __init__(self, sets: list[LiveSet], params: ExitParams, candle_s: float,
                 limits: PresetLimits | None = None, history: int = 250) -> None:
        self.params = params
        self.candle_s = candle_s
        self.limits = limits or PresetLimits()
        self.history = history
        self.sets: list[LiveSet] = []
        self.candles: dict[str, _Candles] = {}
        self.books: dict[tuple[str, tuple[int, FixedSet]], AdjustedBook] = {}
        self.disabled: dict[tuple[int, FixedSet], str] = {}
        self.last_fire: dict[tuple[str, str, tuple[float, ...], int], float] = {}
        self.evaluations = 0  # candle closes at which the sets were evaluated
        self.fired = 0  # (set, symbol) pairs whose indication fired
        self.opened = 0
        self.skipped_limit = 0
        self.skipped_timeout = 0
        self.signals_sent = 0
        self.coordination: dict[str, Any] | None = None  # the last coordination: when, how long, what came out
        self.set_sets(sets)

    def set_sets(self, sets: list[LiveSet]) -> None:
        """Replace the traded sets (a new coordination); books of dropped sets keep moving until their open
        positions close, but open nothing new."""
        self.sets = sorted(sets, key=lambda s: s.rank)
        fixed = {s.key for s in self.sets if s.symbol is None}
        self.disabled = {k: v for k, v in self.disabled.items() if k in fixed}  # candidates get a new chance

    def book(self, symbol: str, s: LiveSet) -> AdjustedBook:
        key = (symbol, s.key)
        book = self.books.get(key)
        if book is None:
            f = s.fixed
            book = AdjustedBook(f.direction, f.exit, self.params, f.adjust, max_open=self.limits.per_range,
                                cooldown_s=self.limits.cooldown_s, history=self.history)
            self.books[key] = book
        return book

    def warm(self, symbol: str, bars: Bars) -> None:
        self.candles.setdefault(symbol, _Candles(self.candle_s)).warm(bars)

    def live_ok(self, symbol: str, s: LiveSet) -> bool:
        """The backtest passed, and the live pseudo results keep gross PF ≥ pf_min once there are enough."""
        if not s.backtest_ok or s.key in self.disabled:
            return False
        book = self.books.get((symbol, s.key))
        if book is None or len(book.closed) < s.eval_count:
            return True
        return gross_pf_tail(book.results(), s.eval_count) >= s.pf_min

    def open_counts(self, symbol: str) -> tuple[Counter[str], Counter[tuple[str, int]]]:
        """Open pseudo positions of ``symbol`` per indication type and per (indication type, direction)."""
        per_kind: Counter[str] = Counter()
        per_side: Counter[tuple[str, int]] = Counter()
        for (sym, (_sid, f)), book in self.books.items():
            if sym == symbol and book.n_open:
                per_kind[f.indication] += book.n_open
                per_side[(f.indication, f.direction)] += book.n_open
        return per_kind, per_side

    def on_price(self, symbol: str, t: float, price: float, entries_allowed: bool = True) -> list[EntrySignal]:
        """Move the pseudo books; on a candle close evaluate every set. Returns the live entry signals."""
        for (sym, _k), book in self.books.items():
            if sym == symbol and book.n_open:
                book.update_price(t, price)
        candles = self.candles.setdefault(symbol, _Candles(self.candle_s))
        if not candles.push(t, price) or not entries_allowed or len(candles.time) < 3:
            return []
        return self._evaluate(symbol, t, price, candles.bars())

    def _evaluate(self, symbol: str, t: float, price: float, bars: Bars) -> list[EntrySignal]:
        self.evaluations += 1
        lim = self.limits
        signals: dict[tuple[str, tuple[float, ...]], tuple[bool, bool]] = {}
        fires: set[tuple[str, tuple[float, ...], int]] = set()
        per_kind, per_side = self.open_counts(symbol)
        out: list[EntrySignal] = []
        for s in self.sets:
            f = s.fixed
            if not s.applies(symbol) or s.key in self.disabled:
                continue
            sig_key = (f.indication, f.params)
            if sig_key not in signals:
                long_, short = entries(f.indication, f.params, bars, self.params.pc)
                signals[sig_key] = (bool(long_[-1]), bool(short[-1]))
            if not signals[sig_key][0 if f.direction == LONG else 1]:
                continue
            self.fired += 1
            fire = (f.indication, f.params, f.direction)
            last = self.last_fire.get((symbol, *fire))
            if last is not None and t - last < lim.indication_timeout_s:
                self.skipped_timeout += 1
                continue
            fires.add(fire)
            if per_kind[f.indication] >= lim.per_indication or per_side[(f.indication, f.direction)] >= \
                    lim.per_direction:
                self.skipped_limit += 1
                continue
            book = self.book(symbol, s)
            factor = book.block_factor
            if not book.on_signal(t, price):
                continue
            self.opened += 1
            per_kind[f.indication] += 1
            per_side[(f.indication, f.direction)] += 1
            if not f.exit.trailing and f.adjust.dca is None and self.live_ok(symbol, s):
                tp = f.exit.tp * self.params.pc
                block = f" ×{factor:g}" if f.adjust.block is not None else ""
                out.append(EntrySignal(
                    symbol=symbol, direction="long" if f.direction == LONG else "short", price=price,
                    stop_loss_frac=f.exit.sl * tp, take_profit_frac=tp, set_id=None,
                    label=f"preset set {s.set_id}: {f.label}{block}", preset=True,
                ))
        for fire in fires:
            self.last_fire[(symbol, *fire)] = t
        self.signals_sent += len(out)
        return out

    def evaluate_sets(self) -> list[tuple[LiveSet, str]]:
        """The set evaluator: every set (per symbol) with at least ``eval_count`` results whose gross PF over
        them is below ``pf_min`` is disabled. Returns the newly disabled sets with their reason."""
        out = []
        for s in self.sets:
            if s.key in self.disabled:
                continue
            for (sym, key), book in self.books.items():
                if key != s.key or len(book.closed) < s.eval_count:
                    continue
                pf = gross_pf_tail(book.results(), s.eval_count)
                if pf < s.pf_min:
                    reason = (f"gross PF {pf:.2f} of the last {s.eval_count} pseudo results on {sym} is below "
                              f"{s.pf_min:g}")
                    self.disabled[s.key] = reason
                    out.append((s, reason))
                    break
        return out

    def open_pseudo(self) -> int:
        return sum(b.n_open for b in self.books.values())

    def closed_pseudo(self) -> int:
        return sum(b.total_closed for b in self.books.values())

    def status(self) -> dict[str, Any]:
        return {"sets": len(self.sets), "candidates": sum(1 for s in self.sets if s.symbol is not None),
                "disabled": len(self.disabled), "open": self.open_pseudo(), "closed": self.closed_pseudo(),
                "evaluations": self.evaluations, "fired": self.fired, "opened": self.opened,
                "skipped_limit": self.skipped_limit, "skipped_timeout": self.skipped_timeout,
                "signals": self.signals_sent, "coordination": self.coordination}


# --- coordination of sets with ranges (§5.3) ------------------------------------------------------------------


def choose_candidates(result: OptimalResult, set_ids: list[int], limit: int = MAX_CANDIDATES
                      ) -> dict[tuple[int, str], list[LiveSet]]:
    """The best ``limit`` valid results per (set, symbol) of a coordination run, in rank order, as live sets
    (``set_ids[i]`` is the stored id of the request's set ``i``)."""
    out: dict[tuple[int, str], list[LiveSet]] = {}
    definitions = {j.set_index: j.definition for j in result.jobs}
    rank = 0
    for row in result.valid():
        key = (set_ids[row.set_index], row.symbol)
        chosen = out.setdefault(key, [])
        if len(chosen) >= limit:
            continue
        d = definitions[row.set_index]
        fixed = FixedSet(row.indication, row.params, row.direction, row.exit, row.adjust)
        chosen.append(LiveSet(key[0], fixed, d.pf_min, d.eval_count_1, True, row.symbol, rank))
        rank += 1
    return out


def coordinate(definitions: list[ConfigurationSetDef], candles: dict[str, Bars], params: ExitParams,
               max_open: int, cancel: Any = None) -> OptimalResult:
    """Run the grids of the sets with ranges over the candles (CPU-bound: call it from a worker thread)."""
    from cts_desktop.backtest.optimal import OptimalRequest, run_optimal

    return run_optimal(OptimalRequest(tuple(definitions), params, max_open=max_open), candles, cancel)
