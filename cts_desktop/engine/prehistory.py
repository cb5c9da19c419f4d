"""The history warm-up of a starting engine: the candles of the last *prehistoric days* per symbol (cached in the DB,
only the missing range fetched) replayed through each symbol pipeline so its sets start with statistics.

The replays run in worker processes (:mod:`cts_desktop.engine.warmup`); without one, in a thread of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine import heap, warmup
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.persistence import EngineStore
from cts_desktop.engine.pipeline import PipelineUpdate, SymbolPipeline
from cts_desktop.events.trading import Progress
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.storage.candles import load_candles, missing_ranges, store_candles

log = logging.getLogger("cts.engine")

PREHISTORY_TIMEFRAME = "1m"
PREHISTORY_STEP_MS = 60_000
LOADS_AHEAD = 3  # symbols whose candles load at once: the exchange's answers overlap, the workers never wait


class WarmupHost(Protocol):
    """What the warm-up needs of the engine it loads (``ConnectionEngine`` is one)."""

    config: ConnectionConfig
    adapter: ExchangeAdapter
    deps: EngineDeps
    store: EngineStore
    symbols: list[str]
    pipelines: dict[str, SymbolPipeline]
    start_snapshots: dict[str, bytes]  # stored book snapshots to restore (taken by the warm-up)
    stop_requested: bool

    @property
    def values(self) -> dict[str, object]: ...

    def set_progress(self, fraction: float, text: str) -> None: ...

    def loaded(self) -> None: ...

    def collect(self, symbol: str, update: PipelineUpdate) -> None: ...


@dataclass(slots=True)
class _WarmupTask:
    """One symbol's history replay while the engine starts: in a worker process (``job``) or, without one, in a
    thread when its turn comes."""

    index: int
    symbol: str
    pipeline: SymbolPipeline
    candles: list[warmup.Candle]
    snapshot: bytes | None
    job: warmup.WarmupJob | None = None


@dataclass(slots=True)
class _EarlyLoads:
    """Candle loads started before the warm-up (:meth:`Prehistory.load_early`)."""

    since: int
    until: int
    symbols: list[str]
    loads: dict[int, asyncio.Task[list[warmup.Candle]]]


class Prehistory:
    """Loads and replays one engine's prehistory (the engine's state — pipelines, progress, what to persist — is
    updated as if the replay had run in it)."""

    def __init__(self, engine: WarmupHost) -> None:
        self.engine = engine
        self._writes = asyncio.Lock()  # the candle loads running at once store one after the other
        self._early: _EarlyLoads | None = None  # the first loads, started while the engine reconciles

    def window(self) -> tuple[int, int]:
        """[since, until) of the prehistory: the last *prehistoric days* up to the current minute."""
        days = cfg.integer(self.engine.values, "overall.prehistoric_days")
        until = (int(time.time() * 1000) // PREHISTORY_STEP_MS) * PREHISTORY_STEP_MS
        return until - days * 86_400_000, until

    def load_early(self) -> None:
        """Start the candle loads of the first :data:`LOADS_AHEAD` symbols now — the engine calls it once the symbols
        are chosen, so the exchange's answers arrive while orders and positions reconcile; :meth:`load` takes them
        over (for the same symbols), :meth:`drop_early` cancels them (a start that failed or stopped)."""
        self.drop_early()
        since, until = self.window()
        symbols = list(self.engine.symbols)
        loads = {i: asyncio.create_task(self.candles(symbol, since, until))
                 for i, symbol in enumerate(symbols[:LOADS_AHEAD])}
        self._early = _EarlyLoads(since, until, symbols, loads)

    def drop_early(self) -> None:
        """Cancel the early loads not taken over (none: nothing to do)."""
        early, self._early = self._early, None
        if early is not None:
            for load in early.loads.values():
                load.cancel()

    async def load(self) -> None:
        """Candles of the last *prehistoric days* (cached in the DB, only the missing range fetched), replayed
        through each pipeline so the sets start with statistics.

        The replays run in worker processes (:mod:`cts_desktop.engine.warmup`): while symbol *n* replays, the
        candles of the next :data:`LOADS_AHEAD` symbols load (their requests overlap; what they store in the DB is
        written one symbol after the other). Outcomes are applied in symbol order (pipeline, rows and results to
        persist), each followed by its progress event. When no worker process can run a replay, it runs in a thread
        of this process instead (logged), as do all later ones."""
        e = self.engine
        early = self._early
        if early is not None and early.symbols == list(e.symbols):
            self._early = None
            await self.replay(early.since, early.until, early.loads)
        else:
            self.drop_early()  # the symbols changed meanwhile (or none were loaded early)
            await self.replay(*self.window())
        await asyncio.to_thread(heap.give_back)  # what unpickling the workers' books left in the heap
        e.set_progress(1.0, "history loaded")

    async def replay(self, since: int, until: int,
                     loads: dict[int, asyncio.Task[list[warmup.Candle]]] | None = None) -> None:
        """Every symbol's candles of [since, until) replayed through its pipeline (see :meth:`load`); ``loads``:
        candle loads already running, by symbol index."""
        e = self.engine
        total = len(e.symbols)
        snapshots, e.start_snapshots = e.start_snapshots, {}
        pool: warmup.WarmupPool | None = warmup.shared_pool()
        spec = e.deps.db.spec()
        store = warmup.WarmupStore(spec, e.config.id, e.store.limits()) if spec is not None else None
        pending: deque[_WarmupTask] = deque()
        done = 0

        def progress(index: int, symbol: str) -> None:
            e.set_progress(0.3 + 0.7 * done / max(total, 1), f"history {symbol} ({index}/{total})")

        async def finish(task: _WarmupTask) -> None:
            nonlocal pool, done
            progress(task.index, task.symbol)
            outcome: warmup.WarmupOutcome | None = None
            if task.job is not None:
                try:
                    outcome = await task.job.result()
                except Exception as error:  # any failure of the worker path: replay here instead
                    log.warning("history warm-up of %s in a worker process failed (%s: %s): replaying it in a "
                                "thread", task.symbol, type(error).__name__, error,
                                extra={"connection_id": e.config.id})
                    pool = None
            if outcome is not None and not outcome.completed:
                if e.stop_requested:
                    raise asyncio.CancelledError
                outcome = None  # stopped from elsewhere (pool shut down): the pipeline here is untouched
            if outcome is not None:
                self._apply(task.symbol, task.pipeline, outcome)
            else:
                await asyncio.to_thread(self._replay_here, task.symbol, task.candles, task.snapshot)
            if e.stop_requested:
                raise asyncio.CancelledError
            done += 1
            e.deps.bus.publish(Progress(key=e.config.id, what=f"history {task.symbol}", done=task.index,
                                           total=total))

        symbols = list(e.symbols)
        loads = dict(loads or {})
        try:
            for index, symbol in enumerate(symbols, 1):
                progress(index, symbol)
                for ahead in range(index - 1, min(total, index - 1 + LOADS_AHEAD)):
                    if ahead not in loads:
                        loads[ahead] = asyncio.create_task(self.candles(symbols[ahead], since, until))
                candles = await loads.pop(index - 1)
                pipeline = e.pipelines[symbol]
                task = _WarmupTask(index, symbol, pipeline, candles, snapshots.get(symbol))
                if pool is not None:
                    try:
                        task.job = pool.submit(pipeline, candles, task.snapshot,
                                               bool(e.values["system.persist_pseudo_results"]), store)
                    except warmup.PoolUnavailable as error:
                        log.warning("no worker process for the history warm-up (%s): replaying in a thread",
                                    error, extra={"connection_id": e.config.id})
                        pool = None
                pending.append(task)
                while pending and (pending[0].job is None or pending[0].job.done()):
                    await finish(pending[0])  # in order; a thread replay (no job) runs here
                    pending.popleft()
            while pending:
                await finish(pending[0])
                pending.popleft()
        finally:
            for load in loads.values():
                load.cancel()
            if loads:
                await asyncio.gather(*loads.values(), return_exceptions=True)
            await self._stop_jobs(pending)

    async def catch_up(self, since: int, until: int) -> None:
        """After a gap (the computer slept): the exchange's candles of [since, until) replayed through every
        pipeline as at the start, so the series hold what the market did, not a bridge to the next price. The
        engine's prices must be held meanwhile (``ConnectionEngine.prices_held``)."""
        e = self.engine
        await self.replay(since, until)
        e.loaded()

    async def candles(self, symbol: str, since: int, until: int) -> list[warmup.Candle]:
        e = self.engine
        db, cid, frame = e.deps.db, e.config.id, PREHISTORY_TIMEFRAME
        started = time.perf_counter()
        gaps = await db.run(lambda s: missing_ranges(s, cid, symbol, frame, since, until, PREHISTORY_STEP_MS))
        fetched = 0
        for gap in gaps:
            rows = await e.adapter.ohlcv(symbol, frame, since=gap.start_ms, until=gap.end_ms)
            fetched += len(rows)
            async with self._writes:
                await db.run(functools.partial(store_candles, connection_id=cid, symbol=symbol, timeframe=frame,
                                               rows=rows))
        candles = await db.run(lambda s: load_candles(s, cid, symbol, frame, since, until))
        log.debug("candles of %s: %d (%d fetched) in %.1f s", symbol, len(candles), fetched,
                  time.perf_counter() - started, extra={"connection_id": cid})
        return candles

    async def _stop_jobs(self, pending: deque[_WarmupTask]) -> None:
        """Jobs not applied (stop, failure): their workers return within a few candles; wait for that briefly so
        a stopped engine leaves no replay running."""
        jobs = [task.job for task in pending if task.job is not None and not task.job.done()]
        for job in jobs:
            job.stop()
        running = [asyncio.wrap_future(job.future) for job in jobs if not job.future.done()]
        if running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait(running, timeout=2.0)

    def _apply(self, symbol: str, sent: SymbolPipeline, outcome: warmup.WarmupOutcome) -> None:
        """A worker's outcome, as if the replay had run here: its pipeline replaces the one sent (unless the
        pipelines were rebuilt meanwhile), its rows and results join the ones to persist (``_collect``)."""
        e = self.engine
        installed = e.pipelines.get(symbol) is sent
        if installed:
            e.pipelines[symbol] = outcome.pipeline
        if outcome.stored_ids is not None:  # the worker stored the sets: only their ids are new here
            if installed:
                e.store.learn_ids(symbol, outcome.pipeline.book, outcome.rows, outcome.stored_ids)
        else:
            if outcome.store_error:
                log.warning("the warm-up worker could not store the sets of %s (%s): storing them from here",
                            symbol, outcome.store_error, extra={"connection_id": e.config.id})
            e.store.touch(symbol, outcome.rows.tolist())
        e.store.add_results(symbol, outcome.closed_results())
        log.debug("history of %s replayed in a worker: %.1f s CPU, %.1f s wall", symbol, outcome.cpu_s,
                  outcome.wall_s, extra={"connection_id": e.config.id})

    def _replay_here(self, symbol: str, candles: list[warmup.Candle], snapshot: bytes | None = None) -> None:
        """The in-process replay (a thread): the stored snapshot (if any and fitting) becomes the book, then each
        candle goes through the pipeline as four ticks; stops early when the engine is asked to stop."""
        e = self.engine
        pipeline = e.pipelines[symbol]
        warmup.prepare(pipeline, snapshot)
        warmup.replay(pipeline, candles, lambda update: e.collect(symbol, update), lambda: e.stop_requested,
                      bool(e.values["system.persist_pseudo_results"]))
