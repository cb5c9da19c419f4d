"""The Preset engine of one connection (DOMAIN Part 1 §8, §10; Part 2 §5.3–5.5): the configuration sets of the
preset type assigned to the connection, traded on common indicators (and Main indications on candles) over OHLC
candles built from the price stream. It runs as one of the connection engine's loops inside the coordinator.

* **Sets.** A *fixed* set (saved from auto-optimal) is traded as it was chosen, on every symbol of the engine. A
  set *with ranges* is first **coordinated** (§5.3): its grid (:func:`~cts_desktop.backtest.presets.for_preset_mode`
  — the preset type's trailing/Block/DCA toggles and the settings) is run by auto-optimal over the last
  ``range_days`` of 1-minute history per symbol (fetched into the candle cache when missing, resampled to the
  candle size); the valid results, ranked by gross PF of the last 25 then 50, become the set's live candidates on
  that symbol (at most :data:`MAX_CANDIDATES` per set and symbol) and are stored with the set. With the type's
  "auto evaluate" on, coordination repeats every ``evaluation_interval_h``.
* **Signals.** When a candle closes every set's indication is evaluated on the candles so far with the backtest's
  signal rules (:mod:`cts_desktop.backtest.signals`); each distinct (indication, parameters) once per candle.
* **Pseudo positions.** Each (set, symbol) has an :class:`~cts_desktop.domain.adjust.AdjustedBook` — the one exit
  rule, with the set's Block and DCA — moved by every price. Limits of the preset type: open positions per set
  ("per range"), per indication type and direction ("per direction"), per indication type ("per indication");
  after an indication fires, the same (indication, parameters, direction) is ignored for "timeout per
  indication"; a set waits "timeout after position" between two entries. Sets are served in priority order
  (set priority, then coordination rank).
* **Set evaluator** (§5.5), hourly: a set whose gross PF over its last ``eval_count_1`` pseudo results is below its
  ``pf_min`` is disabled — a fixed set in the database (its link switched off, with reason and time), a
  coordination candidate until the next coordination.
* **Live entries.** A set whose backtest passed its rules and whose live gross PF over its last ``eval_count_1``
  results (once it has them) stays ≥ ``pf_min`` sends an entry signal to the connection's order manager — only
  when the connection has Preset Trade on, the Preset engine is enabled and the engine is not paused. Sets with
  trailing or DCA stay pseudo-only (the order side mirrors neither trailing exits nor add-on orders for Preset
  sets); a Block set's signal carries its factor in the label (the order side sizes base volume).

The engine subscribes to the connection's ``PriceUpdate`` events; :func:`attach_preset_engine` is the one call the
connection engine makes at start (its task ends with the engine's other loops). It re-reads the assignment every
:data:`RELOAD_S` seconds and starts over when the assigned type or its set links changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from cts_desktop.backtest.history import resample, rows_to_bars
from cts_desktop.backtest.runner import FixedSet
from cts_desktop.backtest.signals import entries
from cts_desktop.domain.adjust import AdjustedBook
from cts_desktop.domain.bars import LONG, Bars
from cts_desktop.domain.exits import ExitParams
from cts_desktop.engine.order_manager import EntrySignal
from cts_desktop.engine.trading_events import PriceUpdate

if TYPE_CHECKING:
    from cts_desktop.backtest.optimal import OptimalResult
    from cts_desktop.backtest.presets import ConfigurationSetDef
    from cts_desktop.engine.connection_engine import ConnectionEngine

log = logging.getLogger("cts.engine.preset")
HISTORY_BARS = 600  # candles kept per symbol: enough for every indicator's warm-up at the default periods
MAX_CANDIDATES = 25  # live candidates per set with ranges and symbol (the best valid coordination results)
EVALUATOR_S = 3600.0  # the set evaluator's period (Part 2 §5.5)
RELOAD_S = 30.0  # how often the assignment is re-read


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
                    label=f"preset set {s.set_id}: {f.label}{block}",
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


# --- loading from the database ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Loaded:
    type_id: int | None
    settings: dict[str, Any]
    fixed: list[LiveSet]
    ranged: list[tuple[int, int, ConfigurationSetDef]]  # (set id, priority, preset-mode definition)
    skipped: list[str]


def load_preset(session: Any, connection_id: str, values: dict[str, object]) -> _Loaded:
    """The preset type assigned to the connection (its settings), its active fixed sets as live sets and its
    active sets with ranges as preset-mode grids, by priority."""
    from cts_desktop.backtest import store
    from cts_desktop.backtest.presets import fixed_set_problem, for_preset_mode

    type_id = store.connection_preset(session, connection_id)
    if type_id is None:
        return _Loaded(None, {}, [], [], [])
    types = {t.id: t for t in store.list_preset_types(session)}
    settings = types[type_id].settings if type_id in types else {}
    fixed: list[LiveSet] = []
    ranged: list[tuple[int, int, ConfigurationSetDef]] = []
    skipped: list[str] = []
    for row in store.preset_sets(session, type_id, active_only=True):
        d = row.definition
        if row.fixed is None:
            ranged.append((row.id, row.priority, for_preset_mode(d, settings, values)))
            continue
        problem = fixed_set_problem(row.fixed.adjust.block is not None, row.fixed.adjust.dca is not None, values)
        if problem:
            skipped.append(f"{row.name}: {problem}")
            continue
        gross = row.metrics.get("gross_pf")
        ok = gross is None or float(gross) >= d.pf_min  # None: stored as "no loss"
        fixed.append(LiveSet(row.id, row.fixed, d.pf_min, d.eval_count_1, bool(ok and row.metrics),
                             rank=row.priority * 1_000_000))
    return _Loaded(type_id, settings, fixed, ranged, skipped)


Signature = tuple[int | None, tuple[tuple[int, int, bool], ...]]


def after_disabling(signature: Signature, set_ids: set[int]) -> Signature:
    """The assignment signature (:func:`cts_desktop.backtest.store.preset_signature`) once the set evaluator has
    switched off the links of ``set_ids``."""
    type_id, links = signature
    return type_id, tuple((sid, pr, act and sid not in set_ids) for sid, pr, act in links)


def attach_preset_engine(engine: ConnectionEngine) -> None:
    """Start the Preset engine of ``engine``'s connection as one of its loops (stopped with the engine)."""
    engine._spawn(_run(engine), "preset")


def _exit_params(values: dict[str, object]) -> ExitParams:
    pc = float(values["overall.position_cost"]) / 100.0  # type: ignore[arg-type]
    fee = float(values["overall.default_taker_fee"]) / 100.0  # type: ignore[arg-type]
    timeout_h = float(values["strategy.preset_position_timeout_hours"])  # type: ignore[arg-type]
    return ExitParams(pc=pc, fee=fee, timeout_s=timeout_h * 3600.0)


class _Session:
    """One assignment's run: the runner, its coordination task and timers."""

    def __init__(self, engine: ConnectionEngine, loaded: _Loaded) -> None:
        self.engine = engine
        self.loaded = loaded
        values = engine.values
        self.params = _exit_params(values)
        self.limits = PresetLimits.from_type(loaded.settings)
        self.runner = PresetRunner(
            loaded.fixed, self.params, float(values["indications.common.candle_timeframe_s"]),  # type: ignore[arg-type]
            self.limits, history=int(values["system.position_length"]),  # type: ignore[call-overload]
        )
        self.candidates: list[LiveSet] = []
        self.coordination: asyncio.Task[None] | None = None
        self.coordinated_at: float | None = None
        self.coordination_s: float | None = None
        self.next_coordination = 0.0
        self.next_evaluation = time.monotonic() + EVALUATOR_S
        self.self_disabled: set[int] = set()  # fixed sets this session switched off in the database

    def expects(self, old: Any, new: Any) -> bool:
        """True when ``new`` differs from ``old`` only by the links this session switched off itself (then the
        engine goes on instead of starting over)."""
        return old is not None and new == after_disabling(old, self.self_disabled)

    @property
    def interval_s(self) -> float | None:
        s = self.loaded.settings
        if not self.loaded.ranged or not bool(s.get("auto_evaluate", True)):
            return None
        return max(1.0, float(s.get("evaluation_interval_h", 24))) * 3600.0

    async def tick(self) -> None:
        """Start a due coordination; run a due set evaluation."""
        now = time.monotonic()
        if self.loaded.ranged and (self.coordination is None or self.coordination.done()) and \
                now >= self.next_coordination and (self.coordinated_at is None or self.interval_s is not None):
            self.coordination = asyncio.create_task(self._coordinate(), name=f"{self.engine.config.id}:coordinate")
            self.next_coordination = now + (self.interval_s or math.inf)
        if now >= self.next_evaluation:
            self.next_evaluation = now + EVALUATOR_S
            disabled = self.runner.evaluate_sets()
            if disabled:
                await self._persist_disabled(disabled)

    async def _persist_disabled(self, disabled: list[tuple[LiveSet, str]]) -> None:
        from cts_desktop.backtest import store

        type_id = self.loaded.type_id
        if type_id is None:
            return
        at = time.time()
        for s, reason in disabled:
            log.warning("preset set %s disabled: %s", s.set_id, reason,
                        extra={"connection_id": self.engine.config.id})
            if s.symbol is None:  # a fixed set: the user's preset changes, so it is stored
                self.self_disabled.add(s.set_id)
                await self.engine.deps.db.run(functools.partial(
                    store.disable_preset_set, preset_type_id=type_id, set_id=s.set_id, reason=reason, at=at))

    async def _coordinate(self) -> None:
        try:
            await self._coordinate_now()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("preset coordination failed; retried in 5 minutes",
                          extra={"connection_id": self.engine.config.id})
            self.next_coordination = time.monotonic() + 300.0

    async def _coordinate_now(self) -> None:
        from cts_desktop.backtest import store
        from cts_desktop.backtest.service import row_json

        engine = self.engine
        started = time.perf_counter()
        days = max(d.range_days for _i, _p, d in self.loaded.ranged)
        candles = await _history(engine, days, self.runner.candle_s)
        if not candles:
            log.warning("preset coordination: no history yet; retried in 5 minutes",
                        extra={"connection_id": engine.config.id})
            self.next_coordination = time.monotonic() + 300.0
            return
        definitions = [d for _i, _p, d in self.loaded.ranged]
        result = await asyncio.to_thread(coordinate, definitions, candles, self.params, self.limits.per_range)
        set_ids = [i for i, _p, _d in self.loaded.ranged]
        chosen = choose_candidates(result, set_ids)
        priority = {i: p for i, p, _d in self.loaded.ranged}
        candidates = [replace(s, rank=priority[sid] * 1_000_000 + s.rank)
                      for (sid, _sym), sets in chosen.items() for s in sets]
        self.candidates = candidates
        self.runner.set_sets(self.loaded.fixed + candidates)
        self.coordinated_at = time.time()
        self.coordination_s = time.perf_counter() - started
        at = self.coordinated_at
        counts: dict[tuple[int, str], tuple[int, int]] = {}
        if result.size:
            n_jobs = len(result.jobs)
            evaluated = np.bincount(result.i["job"], minlength=n_jobs)
            valid = np.bincount(result.i["job"], weights=result.i["valid"], minlength=n_jobs)
            for number, job in enumerate(result.jobs):
                key = (set_ids[job.set_index], job.symbol)
                ev, va = counts.get(key, (0, 0))
                counts[key] = (ev + int(evaluated[number]), va + int(valid[number]))
        rows_by_key: dict[tuple[int, str], list[dict[str, Any]]] = {}
        for row in result.valid():
            key = (set_ids[row.set_index], row.symbol)
            rows = rows_by_key.setdefault(key, [])
            if len(rows) < MAX_CANDIDATES:
                rows.append(row_json(row))

        def save(session: Any) -> None:
            for (sid, symbol), (ev, va) in counts.items():
                store.save_coordination(session, sid, symbol, rows_by_key.get((sid, symbol), []), at, ev, va)

        await engine.deps.db.run(save)
        self.runner.coordination = {"at": at, "seconds": self.coordination_s, "evaluated": result.evaluated,
                                    "valid": result.valid_count, "candidates": len(candidates),
                                    "symbols": sorted(candles)}
        log.info("preset coordination: %d cells of %d set(s) on %d symbol(s), %d valid, %d live candidate(s) in "
                 "%.1f s", result.evaluated, len(definitions), len(candles), result.valid_count, len(candidates),
                 self.coordination_s, extra={"connection_id": engine.config.id})

    async def close(self) -> None:
        if self.coordination is not None and not self.coordination.done():
            self.coordination.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.coordination


async def _history(engine: ConnectionEngine, days: int, candle_s: float) -> dict[str, Bars]:
    """The last ``days`` of 1-minute candles per symbol (the missing range fetched into the cache first),
    resampled to the Preset candle size."""
    from cts_desktop.backtest.history import download_history

    until = int(time.time() // 60) * 60_000
    since = until - days * 86_400_000
    out: dict[str, Bars] = {}
    connection_id = engine.config.id
    for symbol in engine.symbols:
        try:
            report = await download_history(engine.deps.db, engine.adapter, connection_id, symbol, "1m", since,
                                            until)
            if report.gaps:
                log.info("preset history %s: the exchange has no candles for %s", symbol, report.gap_text(),
                         extra={"connection_id": connection_id})
        except Exception as error:  # the cache is used as it is
            log.warning("preset history %s: %s", symbol, error, extra={"connection_id": connection_id})
        read = functools.partial(_load_1m, connection_id=connection_id, symbol=symbol, since=since, until=until)
        rows = await engine.deps.db.run(read)
        if rows:
            out[symbol] = resample(rows_to_bars(rows), candle_s)
    return out


async def _load(engine: ConnectionEngine) -> _Loaded:
    values = engine.values
    connection_id = engine.config.id
    loaded: _Loaded = await engine.deps.db.run(lambda s: load_preset(s, connection_id, values))
    return loaded


async def _signature(engine: ConnectionEngine) -> Any:
    from cts_desktop.backtest import store

    connection_id = engine.config.id
    return await engine.deps.db.run(lambda s: store.preset_signature(s, connection_id))


async def _run(engine: ConnectionEngine) -> None:
    connection_id = engine.config.id
    queue: asyncio.Queue[PriceUpdate] = asyncio.Queue(maxsize=100_000)

    def on_price(event: PriceUpdate) -> None:
        if not queue.full():
            queue.put_nowait(event)

    unsubscribe = engine.deps.bus.subscribe(PriceUpdate, on_price, key=connection_id)
    session: _Session | None = None
    signature: Any = None
    next_reload = 0.0
    try:
        while True:
            now = time.monotonic()
            if now >= next_reload:
                next_reload = now + RELOAD_S
                current = await _signature(engine)
                if current != signature and session is not None and session.expects(signature, current):
                    signature = current
                elif current != signature:
                    signature = current
                    if session is not None:
                        await session.close()
                    session = await _start_session(engine)
                    engine.preset_runner = session.runner if session else None  # type: ignore[attr-defined]
            if session is not None:
                await session.tick()
            interval = float(engine.values["system.preset_engine_interval_ms"]) / 1000.0  # type: ignore[arg-type]
            try:
                first = await asyncio.wait_for(queue.get(), timeout=max(interval, 0.05))
            except TimeoutError:
                continue
            batch = [first]
            while not queue.empty():
                batch.append(queue.get_nowait())
            if session is None:
                continue
            v = engine.values
            live = bool(engine.config.is_preset_trade and v["system.preset_engine_enabled"] and not engine.paused)
            for event in batch:
                t = event.ts_ms / 1000.0
                for signal in session.runner.on_price(event.symbol, t, event.price, entries_allowed=True):
                    if live:
                        engine._signals.put_nowait((event.symbol, signal, -1, t))
    finally:
        unsubscribe()
        if session is not None:
            await session.close()


async def _start_session(engine: ConnectionEngine) -> _Session | None:
    connection_id = engine.config.id
    loaded = await _load(engine)
    for problem in loaded.skipped:
        log.warning("preset set skipped: %s", problem, extra={"connection_id": connection_id})
    if loaded.type_id is None or not (loaded.fixed or loaded.ranged):
        log.info("no preset type with active configuration sets is assigned: the Preset engine stays idle",
                 extra={"connection_id": connection_id})
        return None
    session = _Session(engine, loaded)
    await _warm(engine, session.runner)
    log.info("Preset engine started: %s with %d fixed set(s) and %d set(s) with ranges",
             loaded.settings.get("name", "?"), len(loaded.fixed), len(loaded.ranged),
             extra={"connection_id": connection_id})
    return session


async def _warm(engine: ConnectionEngine, runner: PresetRunner) -> None:
    """Seed the candles from the cached 1-minute history the engine loaded at start."""
    until = int(time.time() * 1000)
    since = until - int(HISTORY_BARS * runner.candle_s * 1000)
    connection_id = engine.config.id
    for symbol in engine.symbols:
        read = functools.partial(_load_1m, connection_id=connection_id, symbol=symbol, since=since, until=until)
        rows = await engine.deps.db.run(read)
        if rows:
            runner.warm(symbol, rows_to_bars(rows))


def _load_1m(session: Any, connection_id: str, symbol: str, since: int, until: int
             ) -> list[tuple[int, float, float, float, float, float]]:
    from cts_desktop.storage.candles import load_candles

    return load_candles(session, connection_id, symbol, "1m", since, until)
