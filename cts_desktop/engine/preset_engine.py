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
connection engine makes at start (its task ends with the engine's other loops). What it needs of that engine is
the :class:`PresetHost` protocol: its loops (``spawn``) and its order queue (``send_signal``), nothing private.
It re-reads the assignment every :data:`RELOAD_S` seconds and starts over when the assigned type or its set links
changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from cts_desktop.backtest import store
from cts_desktop.backtest.history import download_history, resample, rows_to_bars
from cts_desktop.backtest.presets import ConfigurationSetDef, exit_params_from, fixed_set_problem, for_preset_mode
from cts_desktop.domain.bars import Bars
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.engine.preset_runner import (
    HISTORY_BARS,
    MAX_CANDIDATES,
    LiveSet,
    PresetLimits,
    PresetRunner,
    choose_candidates,
    coordinate,
)
from cts_desktop.events.trading import PriceUpdate
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.storage.candles import load_candles

log = logging.getLogger("cts.engine.preset")
IDLE_WAIT_S = 0.1  # the longest a due coordination or set evaluation waits while no price arrives
EVALUATOR_S = 3600.0  # the set evaluator's period (Part 2 §5.5)
RELOAD_S = 30.0  # how often the assignment is re-read


class PresetHost(Protocol):
    """What the Preset engine needs of the connection engine it runs in (``ConnectionEngine`` is one)."""

    config: ConnectionConfig
    adapter: ExchangeAdapter
    deps: EngineDeps
    symbols: list[str]
    paused: bool
    preset_runner: PresetRunner | None

    @property
    def values(self) -> dict[str, object]: ...

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]: ...

    def send_signal(self, symbol: str, signal: EntrySignal, set_row: int, at: float) -> None: ...


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


def attach_preset_engine(engine: PresetHost) -> None:
    """Start the Preset engine of ``engine``'s connection as one of its loops (stopped with the engine)."""
    engine.spawn(_run(engine), "preset")


class _Session:
    """One assignment's run: the runner, its coordination task and timers."""

    def __init__(self, engine: PresetHost, loaded: _Loaded) -> None:
        self.engine = engine
        self.loaded = loaded
        values = engine.values
        self.params = exit_params_from(values)
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
                rows.append(store.row_json(row))

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


async def _history(engine: PresetHost, days: int, candle_s: float) -> dict[str, Bars]:
    """The last ``days`` of 1-minute candles per symbol (the missing range fetched into the cache first),
    resampled to the Preset candle size."""
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


async def _load(engine: PresetHost) -> _Loaded:
    values = engine.values
    connection_id = engine.config.id
    loaded: _Loaded = await engine.deps.db.run(lambda s: load_preset(s, connection_id, values))
    return loaded


async def _signature(engine: PresetHost) -> Any:
    connection_id = engine.config.id
    return await engine.deps.db.run(lambda s: store.preset_signature(s, connection_id))


async def _run(engine: PresetHost) -> None:
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
                    engine.preset_runner = session.runner if session else None
            if session is not None:
                await session.tick()
            try:  # pseudo positions move with every price; without prices, due housekeeping waits at most this
                first = await asyncio.wait_for(queue.get(), timeout=IDLE_WAIT_S)
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
                        engine.send_signal(event.symbol, signal, -1, t)
    finally:
        unsubscribe()
        if session is not None:
            await session.close()


async def _start_session(engine: PresetHost) -> _Session | None:
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


async def _warm(engine: PresetHost, runner: PresetRunner) -> None:
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
    return load_candles(session, connection_id, symbol, "1m", since, until)
