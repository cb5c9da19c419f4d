"""Prehistory warm-up of the symbol pipelines in worker processes, so the GUI process keeps its GIL.

At start a connection engine replays each symbol's prehistoric 1-minute candles through its
:class:`~cts_desktop.engine.pipeline.SymbolPipeline` (:func:`replay_candles`: four ticks per candle). That is
seconds of pure-Python work per symbol-day; in a thread of the GUI process it would hold the GIL against the Qt
thread for minutes. Here each symbol's replay is a job of one shared :class:`WarmupPool`:

* a ``concurrent.futures.ProcessPoolExecutor`` with the **spawn** context (a process that runs Qt is never
  forked; the frozen app's entry calls ``multiprocessing.freeze_support()``), ``cores − 1`` workers (two on two
  cores, one on one: :func:`worker_count`), started ahead by the engine (:meth:`WarmupPool.prestart`: each loads
  the batch kernels while the engine reconciles) or by the first jobs, and closed after a minute without jobs;
* the job carries the pipeline as it is (pickled: the book pickles only its used rows, uncompressed — see
  ``SetBook.__getstate__``), the candles and optionally the book snapshot stored in the DB (restored in the
  worker, not in the GUI process); the worker runs the same :func:`replay_candles` the in-process path runs and
  sends back the pipeline, the set rows whose results or status changed and — when the engine persists every
  pseudo result — the closed results as one float array (:class:`WarmupOutcome`); loading that in the GUI
  process is a few copies of memory, not seconds of Python;
* with a :class:`WarmupStore` the worker also stores the changed sets itself (its own connection to the same
  database) and sends their ids back: the first store after a warm-up is hundreds of thousands of sets, which in
  the GUI process cost its loop the statistics and its writer thread a minute of GIL the Qt thread waited for;
* stop: every job owns a byte in a shared array the workers inherit; :meth:`WarmupJob.stop` sets it and the
  worker returns within ten candles (:data:`CHECK_EVERY`), its outcome marked incomplete. A worker whose app
  process died (killed) exits at once, busy or idle (it watches the parent's sentinel).

When no process can be started (or the pool breaks) :meth:`WarmupPool.submit` raises :class:`PoolUnavailable`
and the engine replays in a thread as before. ``CTS_WARMUP_WORKERS=0`` in the environment forces that path
(a number sets the worker count).
"""

from __future__ import annotations

import array
import asyncio
import ctypes
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

import numpy as np

from cts_desktop.domain.book import BookParams, SetBook
from cts_desktop.domain.book_snapshot import distinct
from cts_desktop.domain.matrix import ExitMatrix
from cts_desktop.engine import batch_warmup, heap
from cts_desktop.engine.pipeline import ClosedResult, PipelineUpdate, SymbolPipeline
from cts_desktop.storage.db import DatabaseSpec
from cts_desktop.storage.results import HistoryLimits

log = logging.getLogger("cts.engine.warmup")

Candle = tuple[int, float, float, float, float, float]
Collector = Callable[[PipelineUpdate], None]
CHECK_EVERY = 10  # candles between two looks at the stop flag (~40 ticks: well under 0.1 s)
WORKERS_ENV = "CTS_WARMUP_WORKERS"
IDLE_SHUTDOWN_S = 60.0
WARM_MINUTES = 300  # synthetic minutes a worker started ahead replays to load its kernels (_boot)
SLOTS = 4096
_RESULT_FIELDS = 6  # row, result, result_pc, entry_t, close_t, drawdown_s


def replay_candles(pipeline: SymbolPipeline, candles: Sequence[Candle], collect: Collector,
                   stopped: Callable[[], bool]) -> bool:
    """Each 1-minute candle as four ticks 15 s apart (open, the adverse extreme first by colour, close) through
    the pipeline with entries allowed; ``collect(update)`` after every tick. Returns False when
    ``stopped()`` turned true (checked every :data:`CHECK_EVERY` candles) before the end."""
    for index, (ts, o, h, low, c, _v) in enumerate(candles):
        if index % CHECK_EVERY == 0 and stopped():
            return False
        base = ts / 1000.0
        path = (o, low, h, c) if c >= o else (o, h, low, c)
        for k, price in enumerate(path):
            update = pipeline.on_price(base + k * 15.0, price, entries_allowed=True)
            collect(update)
    return True


def replay(pipeline: SymbolPipeline, candles: Sequence[Candle], collect: Collector, stopped: Callable[[], bool],
           record: bool) -> bool:
    """The prehistory replay: with the batch kernels (:mod:`cts_desktop.engine.batch_warmup`, the same state in a
    fraction of the time) where they apply and ``CTS_WARMUP_PATH`` is not ``ticks``, else :func:`replay_candles`.
    ``record``: the caller keeps every closed result (else only the rows that closed some)."""
    if batch_warmup.batch_enabled():
        done = batch_warmup.replay_batch(pipeline, candles, collect, stopped, record)
        if done is not None:
            return done
    return replay_candles(pipeline, candles, collect, stopped)


def restore_book(blob: bytes, params: BookParams, matrix: ExitMatrix) -> SetBook | None:
    """A stored book snapshot, or None when it does not fit the current settings (another exit matrix, history
    length or concurrency limit)."""
    try:
        book = SetBook.restore(blob, params)
    except ValueError:
        return None
    if len(book.matrix) != len(matrix) or not np.array_equal(book.matrix.tp, matrix.tp):
        return None
    return book


def prepare(pipeline: SymbolPipeline, snapshot: bytes | None) -> None:
    """The stored snapshot (if it fits) becomes the pipeline's book before the replay."""
    if snapshot is None:
        return
    book = restore_book(snapshot, pipeline.book.params, pipeline.book.matrix)
    if book is not None:
        pipeline.book = book


@dataclass(frozen=True, slots=True)
class WarmupStore:
    """Where a worker stores the sets its replay changed, itself: a warm-up changes hundreds of thousands of sets,
    whose statistics and SQL would otherwise cost the GUI process's loop and writer thread a minute of GIL."""

    database: DatabaseSpec
    connection_id: str
    limits: HistoryLimits


@dataclass(slots=True)
class WarmupOutcome:
    """What a worker sends back: the warmed pipeline, whether the replay ran to the end, the set rows to persist
    (every row that closed a result or changed status), their ids when the worker stored them itself (else the
    reason it could not) and, when asked, every closed result in order."""

    pipeline: SymbolPipeline
    completed: bool
    rows: np.ndarray  # int64, sorted, unique
    results: np.ndarray | None  # float64 (n, 6): row, result, result_pc, entry_t, close_t, drawdown_s
    cpu_s: float
    wall_s: float
    stored_ids: np.ndarray | None = None  # int64 per row: the worker stored the sets (WarmupStore)
    store_error: str | None = None

    def closed_results(self) -> list[ClosedResult]:
        if self.results is None:
            return []
        return [ClosedResult(int(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in self.results.tolist()]


class _Collected:
    """The worker's version of the engine's ``_collect``: the same rows and results, kept compact."""

    def __init__(self, keep_results: bool) -> None:
        self.rows: set[int] = set()
        self.keep_results = keep_results
        self.results = array.array("d")  # 6 doubles per result: compact even for millions of results

    def __call__(self, update: PipelineUpdate) -> None:
        if len(update.closed_rows):
            self.rows.update(update.closed_rows.tolist())
            if self.keep_results:
                self.results.frombytes(np.column_stack((update.closed_rows.astype(np.float64),
                                                        update.closed_values)).tobytes())
        self.rows.update(update.status_changed)


# --- worker side ------------------------------------------------------------------------------------------------

_flags: Any = None  # the shared stop flags, set by the initializer in each worker


def _init_worker(flags: Any) -> None:
    global _flags
    _flags = flags
    heap.steady_malloc()
    if hasattr(os, "nice"):
        try:  # the GUI process comes first when cores are scarce
            os.nice(5)
        except OSError:
            pass
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with_parent, args=(parent.sentinel,), name="warmup-parent-watch",
                         daemon=True).start()


def _exit_with_parent(sentinel: int) -> None:
    """A worker holds its own end of the pool's pipes, so it would wait forever for work once the app process is
    gone (killed): it leaves as soon as the parent's sentinel says so, even in the middle of a replay."""
    from multiprocessing.connection import wait

    wait([sentinel])
    os._exit(0)


def _run_job(slot: int, pipeline: SymbolPipeline, candles: Sequence[Candle], snapshot: bytes | None,
             keep_results: bool, store: WarmupStore | None = None) -> WarmupOutcome:
    wall, cpu = time.perf_counter(), time.process_time()
    flags = _flags
    if flags is None:  # called in this process (not through the pool)
        def stopped() -> bool:
            return False
    else:
        def stopped() -> bool:
            return bool(flags[slot] != 0)
    collected = _Collected(keep_results)
    completed = False
    if not stopped():
        prepare(pipeline, snapshot)
        completed = replay(pipeline, candles, collected, stopped, keep_results)
    results = np.frombuffer(collected.results, dtype=np.float64).reshape(-1, _RESULT_FIELDS) if keep_results else None
    rows = np.asarray(sorted(collected.rows), dtype=np.int64)
    outcome = WarmupOutcome(pipeline, completed, rows, results, 0.0, 0.0)
    if completed and store is not None and len(rows):
        try:
            outcome.stored_ids = _store_sets(store, pipeline, rows, stopped)
        except Exception as error:  # the GUI process stores them instead (and says why)
            outcome.store_error = f"{type(error).__name__}: {error}"
    outcome.cpu_s, outcome.wall_s = time.process_time() - cpu, time.perf_counter() - wall
    return outcome


def _store_sets(store: WarmupStore, pipeline: SymbolPipeline, rows: np.ndarray,
                stopped: Callable[[], bool]) -> np.ndarray | None:
    from cts_desktop.engine.set_writes import store_sets_now

    database = store.database.open()
    try:
        return store_sets_now(database.session, store.connection_id, pipeline, rows, store.limits, stopped)
    finally:
        database.dispose()


def _ping() -> int:
    return os.getpid()


def _boot() -> int:
    """A worker started ahead (:meth:`WarmupPool.prestart`) loads the batch kernels from numba's cache now — most
    of a second of its first job otherwise, while the engine still waits for the exchange here: a few hundred
    synthetic minutes through a pipeline at the default settings. Kernels not in the cache yet (the first start of
    an installation) are compiled here, off the GUI process, into the cache it shares."""
    from cts_desktop.domain.settings import default_values
    from cts_desktop.engine import engine_config as cfg

    values = default_values()
    pipeline = SymbolPipeline("WARM/USDT:USDT", cfg.indication_params(values), cfg.exit_matrix(values),
                              cfg.book_params(values), cfg.gate_thresholds(values),
                              int(cfg.number(values, "indications.max_variants_per_symbol")),
                              gate_params=cfg.activity_params(values))
    t0 = 1_700_000_000_000 // 60_000 * 60_000
    wave = [100.0 * (1.0 + 0.02 * np.sin(k / 15.0)) for k in range(WARM_MINUTES + 1)]
    candles = [(t0 + k * 60_000, wave[k], max(wave[k], wave[k + 1]) * 1.001, min(wave[k], wave[k + 1]) * 0.999,
                wave[k + 1], 1.0) for k in range(WARM_MINUTES)]
    replay(pipeline, candles, lambda _update: None, lambda: False, False)
    distinct(np.arange(3, dtype=np.uint32))  # the snapshots' kernel: the GUI process then loads it from the cache
    return os.getpid()


# --- GUI-process side ---------------------------------------------------------------------------------------------


class PoolUnavailable(RuntimeError):
    """No worker process could be started (or the pool broke): replay in a thread instead."""


MAX_DEFAULT_WORKERS = 8  # each worker is a Python process with numpy/numba loaded (~250 MB while it replays)


def worker_count() -> int:
    """``CTS_WARMUP_WORKERS`` if set, else the usable cores minus one for the GUI process but at least two where
    there are two cores (at most :data:`MAX_DEFAULT_WORKERS`): while the engine starts the GUI process mostly waits
    for the exchange, and the workers run at a lower priority (``nice``), so on two cores a second worker halves
    the warm-up without the window waiting for it. Workers start only as jobs need them (:meth:`WarmupPool.prestart`
    starts them all)."""
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env:
        try:
            return max(0, int(env))
        except ValueError:
            log.warning("%s=%r is not a number: using the default", WORKERS_ENV, env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, max(2, cores - 1), MAX_DEFAULT_WORKERS))


class WarmupJob:
    """One symbol's replay in the pool. ``await job.result()``; :meth:`stop` makes the worker return early."""

    def __init__(self, pool: WarmupPool, slot: int, future: Future[WarmupOutcome]) -> None:
        self.pool = pool
        self.slot = slot
        self.future = future

    def stop(self) -> None:
        if not self.future.done():
            self.pool._flags[self.slot] = 1
            self.future.cancel()  # only succeeds if no worker has taken it yet

    def done(self) -> bool:
        return self.future.done()

    async def result(self) -> WarmupOutcome:
        """The outcome; :class:`PoolUnavailable` if the pool broke meanwhile (the pipeline is untouched then)."""
        try:
            return await asyncio.wrap_future(self.future)
        except BrokenProcessPool as error:
            self.pool._broken(error)
            raise PoolUnavailable(str(error)) from error


class WarmupPool:
    """The process pool for warm-up jobs, shared by every engine of the process (see the module docstring)."""

    def __init__(self, workers: int | None = None, idle_shutdown_s: float = IDLE_SHUTDOWN_S) -> None:
        self.workers = worker_count() if workers is None else workers
        self.idle_shutdown_s = idle_shutdown_s
        self._ctx = multiprocessing.get_context("spawn")
        self._flags: Any = self._ctx.RawArray(ctypes.c_ubyte, SLOTS)
        self._free = list(range(SLOTS - 1, -1, -1))
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._active = 0
        self._idle_timer: threading.Timer | None = None

    @property
    def enabled(self) -> bool:
        return self.workers > 0

    @property
    def active(self) -> int:
        """Jobs submitted and not finished yet."""
        return self._active

    def submit(self, pipeline: SymbolPipeline, candles: Sequence[Candle], snapshot: bytes | None = None,
               keep_results: bool = False, store: WarmupStore | None = None) -> WarmupJob:
        """Queue one symbol's replay (with ``store``, the worker also stores the sets it changed); raises
        :class:`PoolUnavailable` when no worker process can run it."""
        if not self.enabled:
            raise PoolUnavailable(f"worker processes disabled ({WORKERS_ENV}=0)")
        with self._lock:
            if not self._free:
                raise PoolUnavailable("too many warm-up jobs at once")
            slot = self._free.pop()
            self._flags[slot] = 0
            try:
                executor = self._ensure_executor()
                future = executor.submit(_run_job, slot, pipeline, candles, snapshot, keep_results, store)
            except (OSError, RuntimeError, BrokenProcessPool) as error:  # RuntimeError: shut down meanwhile
                self._free.append(slot)
                self._executor = None
                raise PoolUnavailable(f"{type(error).__name__}: {error}") from error
            self._active += 1
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        future.add_done_callback(lambda _f: self._job_done(slot))
        return WarmupJob(self, slot, future)

    def prestart(self) -> None:
        """Boot every worker now (without waiting) if none runs, so the first jobs do not wait for them (the pool
        starts a process per job submitted while none is idle: one ping per worker starts them all)."""
        if not self.enabled:
            return
        with self._lock:
            if self._executor is not None and self.pids():
                return
            try:
                executor = self._ensure_executor()
                for _ in range(self.workers):
                    executor.submit(_boot)
            except (OSError, RuntimeError, BrokenProcessPool) as error:
                self._executor = None
                log.debug("warm-up worker not started ahead: %s", error)

    async def ping(self, timeout: float = 60.0) -> int:
        """Start a worker (if none runs) and wait for it: its pid. Raises :class:`PoolUnavailable`."""
        if not self.enabled:
            raise PoolUnavailable(f"worker processes disabled ({WORKERS_ENV}=0)")
        try:
            with self._lock:
                future = self._ensure_executor().submit(_ping)
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        except (OSError, RuntimeError, BrokenProcessPool, TimeoutError) as error:
            self._broken(error)
            raise PoolUnavailable(f"{type(error).__name__}: {error}") from error

    def _ensure_executor(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(max_workers=self.workers, mp_context=self._ctx,
                                                 initializer=_init_worker, initargs=(self._flags,))
        return self._executor

    def _job_done(self, slot: int) -> None:
        with self._lock:
            self._free.append(slot)
            self._active -= 1
            if self._active == 0 and self._executor is not None and self.idle_shutdown_s >= 0:
                timer = threading.Timer(self.idle_shutdown_s, self._shutdown_if_idle)
                timer.daemon = True
                self._idle_timer = timer
                timer.start()

    def _shutdown_if_idle(self) -> None:
        with self._lock:
            if self._active or self._executor is None:
                return
            executor, self._executor, self._idle_timer = self._executor, None, None
        executor.shutdown(wait=False)

    def _broken(self, error: BaseException) -> None:
        log.warning("the warm-up process pool broke (%s): it starts anew on the next job", error)
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """Stop every running job and close the workers (they exit once their job returned)."""
        with self._lock:
            for slot in range(SLOTS):
                self._flags[slot] = 1
            executor, self._executor = self._executor, None
            if self._idle_timer is not None:
                self._idle_timer.cancel()
                self._idle_timer = None
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def pids(self) -> list[int]:
        """The worker processes' ids (diagnostics, tests)."""
        executor = self._executor
        processes = getattr(executor, "_processes", None) or {}
        return sorted(processes)


_shared: WarmupPool | None = None
_shared_lock = threading.Lock()


def shared_pool() -> WarmupPool:
    """The process's one warm-up pool (created on first use; workers start with the first job)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = WarmupPool()
        return _shared
