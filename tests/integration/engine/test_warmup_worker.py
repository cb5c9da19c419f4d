"""The history warm-up in a worker process computes exactly what the in-process warm-up computes, and stops promptly.

A connection engine (real SQLite DB, settings store and event bus; no exchange is needed because the candles are
already in the DB) replays real BTCUSDT-perp minutes (tests/data, 12 h) through its pipeline at the shipped default
settings (but the shortest history ring), once in a thread of this process (a pool without workers: the engine's
fallback path) and once in a worker process. Everything is compared bit for bit: the pipeline (set book arrays,
variants, indication and activity-gate state, frame builder), the set rows queued for persistence, every closed
pseudo result, the progress events. The last two hours then start from the first part's stored book snapshot,
restored where the replay runs.
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import os
import pickle
import signal
import struct
import subprocess
import sys
import textwrap
import time
from collections import deque
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from cts_desktop.domain.book import SetBook
from cts_desktop.engine import warmup
from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import Progress
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.storage.candles import store_candles
from cts_desktop.storage.db import Database
from cts_desktop.storage.settings_store import SettingsStore
from cts_desktop.storage.writer import BatchedWriter
from tests.helpers.waiting import until, wait_until
from tests.integration.engine.test_persistence import assert_rows_equal_book, stored_sets

ASYNC = pytest.mark.asyncio(loop_factories=["asyncio"])

DATA = Path(__file__).resolve().parents[2] / "data" / "bybit_BTCUSDT-PERP_1m_20221213.csv"
SYMBOL = "BTC/USDT:USDT"
MINUTE = 60_000


def real_candles() -> list[tuple[int, float, float, float, float, float]]:
    with DATA.open() as f:
        rows = list(csv.reader(f))[1:]
    return [(int(r[0]), *(float(x) for x in r[1:6])) for r in rows]  # type: ignore[misc]


@pytest.fixture(scope="module")
def pool() -> Iterator[warmup.WarmupPool]:
    pool = warmup.WarmupPool(workers=1, idle_shutdown_s=-1)
    pool._ensure_executor().submit(warmup._ping)  # the worker boots while the first in-process replay runs
    try:
        yield pool
    finally:
        pool.shutdown()


def make_engine(db: Database, pool: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch,
                snapshot: bytes | None = None, *, exchange: Any = None,
                symbols: list[str] | None = None) -> tuple[ConnectionEngine, list[tuple[str, int, int]]]:
    """An engine on ``db`` whose warm-up uses ``pool``, with its Progress events (``exchange`` None: every candle of
    the window is in the DB, so nothing is fetched)."""
    bus = EventBus()
    settings = SettingsStore(db, bus)
    settings.load()
    # every closed result is compared, too; the shortest ring (50 results) keeps the snapshot round fast
    settings.set_many({"system.persist_pseudo_results": True, "system.position_length": 50})
    events: list[tuple[str, int, int]] = []
    bus.subscribe(Progress, lambda e: events.append((e.what, e.done, e.total)))
    config = ConnectionConfig(id="c1", name="Replay test", exchange_id="bybit")
    engine = ConnectionEngine(config, exchange, EngineDeps(db, BatchedWriter(db), settings, bus))
    engine.symbols = list(symbols or [SYMBOL])
    engine._build_pipelines()
    if snapshot is not None:
        engine.start_snapshots = {SYMBOL: snapshot}
    monkeypatch.setattr(warmup, "shared_pool", lambda: pool)
    return engine, events


def assert_same(a: Any, b: Any, where: str) -> None:
    """Bit-for-bit equality of two object graphs (floats and arrays by their bytes)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        assert a.tobytes() == b.tobytes(), f"{where}: arrays differ"
    elif isinstance(a, float):
        assert struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a!r} != {b!r}"
    elif isinstance(a, list | tuple | deque):
        assert len(a) == len(b), f"{where}: length {len(a)} != {len(b)}"
        if len(a) > 100 and pickle.dumps(a) == pickle.dumps(b):
            return  # same pickle: same values bit for bit (floats are pickled as their 8 bytes)
        if isinstance(a, deque):
            assert a.maxlen == b.maxlen, where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), f"{where}: keys differ"
        for key in a:
            assert_same(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, set | frozenset | Enum | type | str | int | bool | bytes) or a is None:
        assert a == b, f"{where}: {a!r} != {b!r}"
    elif isinstance(a, SetBook):  # every buffer's used rows (whole rings), then the other attributes
        assert len(a) == len(b), f"{where}: {len(a)} != {len(b)} sets"
        assert_same({k: v[: len(a)] for k, v in a._buf.items()}, {k: v[: len(b)] for k, v in b._buf.items()}, where)
        assert_same({k: v for k, v in vars(a).items() if k != "_buf" and k not in a._spec},
                    {k: v for k, v in vars(b).items() if k != "_buf" and k not in b._spec}, where)
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            assert_same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    else:
        assert_same(vars(a), vars(b), where)


def assert_same_engines(thread: ConnectionEngine, worker: ConnectionEngine, db: Database | None = None) -> int:
    """Same pipeline and results. Without ``db`` both replayed here (the same sets queued for this process's
    writer); with it, the sets the thread replay queued the worker stored itself — the stored rows equal the thread's
    book, and the worker's ids are known here. Returns the number of sets."""
    assert_same(thread.pipelines[SYMBOL], worker.pipelines[SYMBOL], "pipeline")
    assert_same(thread.store.pending_results, worker.store.pending_results, "results")
    if db is None:
        assert thread.store.dirty == worker.store.dirty
        return len(thread.store.dirty[SYMBOL])
    rows = np.array(sorted(thread.store.dirty[SYMBOL]), dtype=np.int64)
    assert len(rows) > 0 and SYMBOL not in worker.store.dirty
    stored = stored_sets(db)
    assert_rows_equal_book(thread.pipelines[SYMBOL], stored, rows)
    keys = [thread.pipelines[SYMBOL].set_key(r) for r in rows.tolist()]
    expected = [stored[(k.indication_type, k.params, k.direction, k.tp, k.sl, k.trail_start, k.trail_stop)].id
                for k in keys]
    book, ids = worker.store._ids[SYMBOL]
    assert book is worker.pipelines[SYMBOL].book and ids.get(rows).tolist() == expected
    return len(rows)


@ASYNC
async def test_worker_warm_up_equals_in_process_on_real_candles(
    engine_db: Database, pool: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    candles = real_candles()
    with engine_db.session() as s:
        store_candles(s, "c1", SYMBOL, "1m", candles)
    half = candles[600][0]  # the market wakes up after ~9 h: the first part opens and closes thousands of positions
    since, until = candles[0][0], candles[-1][0] + MINUTE

    in_thread, thread_events = make_engine(engine_db, warmup.WarmupPool(workers=0), monkeypatch)
    await in_thread.prehistory.replay(since, half)
    in_worker, worker_events = make_engine(engine_db, pool, monkeypatch)
    await in_worker.prehistory.replay(since, half)
    pipeline = in_worker.pipelines[SYMBOL]
    assert len(pipeline.book.variants) > 0 and int(pipeline.book.total.sum()) > 1000, "a real warm-up, not idle"
    assert in_worker.store.pending_results and in_thread.store.dirty[SYMBOL]
    assert thread_events == worker_events == [(f"history {SYMBOL}", 1, 1)]
    assert assert_same_engines(in_thread, in_worker, engine_db) == len(stored_sets(engine_db))

    # the rest starts from the first part's stored snapshot, restored where the replay runs
    blob = in_thread.pipelines[SYMBOL].book.snapshot()
    in_thread, _ = make_engine(engine_db, warmup.WarmupPool(workers=0), monkeypatch, blob)
    await in_thread.prehistory.replay(half, until)
    in_worker, _ = make_engine(engine_db, pool, monkeypatch, blob)
    sent = in_worker.pipelines[SYMBOL]
    await in_worker.prehistory.replay(half, until)
    assert in_worker.pipelines[SYMBOL] is not sent and len(sent.book) == 0  # the worker's pipeline came back
    assert int(in_worker.pipelines[SYMBOL].book.total.sum()) > int(pipeline.book.total.sum())  # the snapshot's
    assert_same_engines(in_thread, in_worker, engine_db)  # the stored sets updated, new ones added


@ASYNC
async def test_stop_during_worker_warm_up_returns_promptly(
    engine_db: Database, pool: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = real_candles()
    span = day[-1][0] - day[0][0] + MINUTE
    # the 12 real hours six times in a row (3 days of minutes): a replay of several seconds even on a fast machine
    candles = [(c[0] + k * span, *c[1:]) for k in range(6) for c in day]
    with engine_db.session() as s:
        store_candles(s, "c1", SYMBOL, "1m", candles)
    await pool.ping()  # the worker is up: the stop below interrupts a replay, not a process start
    engine, events = make_engine(engine_db, pool, monkeypatch)
    sent = engine.pipelines[SYMBOL]
    engine._start_task = asyncio.create_task(engine.prehistory.replay(candles[0][0], candles[-1][0] + MINUTE))
    await until(lambda: pool.active == 1, 30, "the replay sent to the worker")
    [pid] = pool.pids()
    worker = psutil.Process(pid)
    cpu = worker.cpu_times().user
    await until(lambda: worker.cpu_times().user > cpu + 0.2, 30, "the worker replaying")
    started = time.perf_counter()
    await engine.stop()
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, f"stop took {elapsed:.2f} s"
    assert pool.active == 0, "the worker returned: no replay is left running"
    assert engine._start_task.cancelled()
    assert engine.pipelines[SYMBOL] is sent and events == []  # nothing half-done was applied


@ASYNC
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
async def test_worker_killed_mid_replay_falls_back_to_a_thread(
    engine_db: Database, pool: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A worker that dies (out of memory, killed) breaks the pool: the engine replays that symbol here instead, with
    the same outcome, and logs why; the pool starts anew on its next job."""
    candles = real_candles()
    with engine_db.session() as s:
        store_candles(s, "c1", SYMBOL, "1m", candles)
    since, end = candles[0][0], candles[600][0]
    await pool.ping()
    in_thread, _ = make_engine(engine_db, warmup.WarmupPool(workers=0), monkeypatch)
    await in_thread.prehistory.replay(since, end)
    engine, events = make_engine(engine_db, pool, monkeypatch)
    replay = asyncio.create_task(engine.prehistory.replay(since, end))
    await until(lambda: pool.active > 0, 30, "the job out to the worker", interval=0.002)
    # killed as soon as the job is out (a warm worker replays these 600 minutes in a few hundred ms: waiting
    # longer let it finish first under some loads, and nothing failed)
    for pid in pool.pids():
        os.kill(pid, signal.SIGKILL)
    await asyncio.wait_for(replay, 120)
    assert "replaying it in a thread" in caplog.text
    assert events == [(f"history {SYMBOL}", 1, 1)]
    assert_same_engines(in_thread, engine)
    assert await pool.ping() > 0  # a new worker


@ASYNC
async def test_a_worker_that_cannot_store_leaves_the_sets_to_this_process(
    engine_db: Database, pool: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    """The worker's own connection fails (here: a database without the schema): the sets are queued for this
    process's writer as without a worker, and the log says why."""
    from cts_desktop.storage.db import DatabaseSpec, sqlite_url

    candles = real_candles()
    with engine_db.session() as s:
        store_candles(s, "c1", SYMBOL, "1m", candles)
    since, until = candles[0][0], candles[600][0]
    in_thread, _ = make_engine(engine_db, warmup.WarmupPool(workers=0), monkeypatch)
    await in_thread.prehistory.replay(since, until)
    engine, _ = make_engine(engine_db, pool, monkeypatch)
    empty = DatabaseSpec(sqlite_url(tmp_path / "empty.sqlite3").render_as_string(), None, 1000)
    monkeypatch.setattr(engine_db, "spec", lambda: empty)
    await engine.prehistory.replay(since, until)
    assert "could not store the sets" in caplog.text and "no such table" in caplog.text
    assert assert_same_engines(in_thread, engine) > 0
    assert stored_sets(engine_db) == {}


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists() or not hasattr(signal, "SIGKILL"), reason="needs /proc")
def test_worker_of_a_killed_app_exits() -> None:
    """An app process killed with SIGKILL (the crash tests do it on purpose) leaves no warm-up worker behind."""
    code = textwrap.dedent("""
        import asyncio
        from cts_desktop.engine import warmup

        async def main():
            pool = warmup.WarmupPool(workers=1)
            print(await pool.ping(), flush=True)
            await asyncio.sleep(120)

        asyncio.run(main())
    """)
    app = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[3])
    try:
        assert app.stdout is not None
        worker = int(app.stdout.readline())
        assert _running(worker)
    finally:
        app.kill()
        app.wait(30)
    wait_until(lambda: not _running(worker), 5, "the worker to exit with its app")
