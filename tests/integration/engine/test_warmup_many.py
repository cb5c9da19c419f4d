"""The warm-up of several symbols: their candles load from the exchange a few at once, the replays run in two
worker processes at once where there are two cores, and the outcomes are applied in symbol order — equal to the
replay in this process, symbol by symbol. A stop while candles load and replays run stops all of it.

The exchange is a stand-in whose ``ohlcv`` answers real BTCUSDT-perp minutes (tests/data) for every symbol, and
whose first answer waits until a second request is in flight (candles loaded one symbol after the other never get
there: the wait times out and the test fails).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from cts_desktop.engine import prehistory, warmup
from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.storage.candles import load_candles
from cts_desktop.storage.db import Database
from tests.helpers.waiting import until
from tests.integration.engine.test_warmup_worker import MINUTE, assert_same, real_candles
from tests.integration.engine.test_warmup_worker import make_engine as worker_engine

ASYNC = pytest.mark.asyncio(loop_factories=["asyncio"])
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
CANDLES = real_candles()[:600]
SINCE, UNTIL = CANDLES[0][0], CANDLES[-1][0] + MINUTE


class Exchange:
    """``ohlcv`` of the same real minutes for every symbol; counts the requests in flight."""

    def __init__(self, held: frozenset[str] = frozenset()) -> None:
        self.in_flight = 0
        self.most = 0
        self.calls: list[str] = []
        self.second = asyncio.Event()
        self.held = held  # symbols answered nothing until cancelled (a stop while candles load)

    async def ohlcv(self, symbol: str, timeframe: str, since: int, until: int) -> list[list[float]]:
        self.calls.append(symbol)
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        if self.in_flight >= 2:
            self.second.set()
        try:
            if symbol in self.held:
                await asyncio.Event().wait()
            if len(self.calls) == 1:  # the first answer waits for a second request (loads overlap)
                await asyncio.wait_for(self.second.wait(), 30)
            return [list(c) for c in CANDLES if since <= c[0] < until]
        finally:
            self.in_flight -= 1


@pytest.fixture(scope="module")
def two_workers() -> Iterator[warmup.WarmupPool]:
    pool = warmup.WarmupPool(workers=2, idle_shutdown_s=-1)
    pool.prestart()  # both boot while the first replays in this process run
    try:
        yield pool
    finally:
        pool.shutdown()


def make_engine(db: Database, pool: warmup.WarmupPool, exchange: Any,
                monkeypatch: pytest.MonkeyPatch) -> tuple[ConnectionEngine, list[tuple[str, int, int]]]:
    return worker_engine(db, pool, monkeypatch, exchange=exchange, symbols=SYMBOLS)


def test_two_cores_give_two_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(warmup.WORKERS_ENV, raising=False)
    counts = {}
    for cores in (1, 2, 3, 4, 16):
        monkeypatch.setattr("os.sched_getaffinity", lambda _pid, n=cores: set(range(n)))
        counts[cores] = warmup.worker_count()
    assert counts == {1: 1, 2: 2, 3: 2, 4: 3, 16: warmup.MAX_DEFAULT_WORKERS}


@ASYNC
async def test_many_symbols_load_at_once_replay_in_two_workers_and_apply_in_order(
    engine_db: Database, tmp_path: Any, two_workers: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cts_desktop.storage.models import Connection

    here_db = Database(f"sqlite:///{tmp_path}/here.sqlite3")
    here_db.migrate()
    with here_db.session() as s:
        s.add(Connection(id="c1", name="Replay test", exchange="bybit", kind="replay"))
    here, here_events = make_engine(here_db, warmup.WarmupPool(workers=0), Exchange(), monkeypatch)
    await here.prehistory.replay(SINCE, UNTIL)
    exchange = Exchange()
    engine, events = make_engine(engine_db, two_workers, exchange, monkeypatch)
    await until(lambda: len(two_workers.pids()) == 2, 60, "both workers started ahead")
    await engine.prehistory.replay(SINCE, UNTIL)

    assert exchange.most >= 2 and exchange.most <= prehistory.LOADS_AHEAD  # loads overlap, a few at a time
    assert sorted(exchange.calls) == sorted(SYMBOLS)
    with engine_db.session() as s:  # every symbol's candles stored (one writer after the other)
        assert all(len(load_candles(s, "c1", symbol, "1m", SINCE, UNTIL)) == len(CANDLES) for symbol in SYMBOLS)
    expected = [(f"history {symbol}", i, len(SYMBOLS)) for i, symbol in enumerate(SYMBOLS, 1)]
    assert events == here_events == expected  # applied in symbol order
    assert sum(int(p.book.total.sum()) for p in engine.pipelines.values()) > 1000, "a real warm-up, not idle"
    for symbol in SYMBOLS:
        assert_same(here.pipelines[symbol], engine.pipelines[symbol], symbol)
    assert here.store.pending_results == engine.store.pending_results
    here_db.dispose()


@ASYNC
async def test_a_stop_while_candles_load_and_workers_replay_stops_everything(
    engine_db: Database, two_workers: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange = Exchange(held=frozenset(SYMBOLS[2:]))  # their candles never come: in flight at the stop
    engine, events = make_engine(engine_db, two_workers, exchange, monkeypatch)
    sent = dict(engine.pipelines)
    engine._start_task = asyncio.create_task(engine.prehistory.replay(SINCE, UNTIL))
    await until(lambda: exchange.in_flight >= 1 and two_workers.active + len(events) >= 1, 60,
                "a replay out to a worker and a load in flight")
    await engine.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await engine._start_task
    assert engine._start_task.done()
    await until(lambda: exchange.in_flight == 0, 5, "the loads in flight cancelled")
    await until(lambda: two_workers.active == 0, 5, "the workers' jobs returned")
    assert [engine.pipelines[s] is sent[s] for s in SYMBOLS[2:]] == [True, True]  # nothing applied past the stop


def test_a_worker_started_ahead_has_its_kernels_loaded() -> None:
    """What :meth:`WarmupPool.prestart` runs in each worker: the batch kernels are loaded (here: in this process)
    before the first symbol's job arrives."""
    from cts_desktop.domain import book_replay, indication_kernel

    assert warmup._boot() > 0
    assert all(getattr(kernel, "signatures", None) for kernel in (book_replay._replay_sets, indication_kernel._scan))


@ASYNC
async def test_candles_start_loading_before_the_warm_up_and_are_fetched_once(
    engine_db: Database, two_workers: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine starts the first symbols' candle loads as soon as the symbols are chosen (``load_early``, while
    orders and positions reconcile); the warm-up takes those loads over instead of asking the exchange again."""
    exchange = Exchange()
    engine, events = make_engine(engine_db, two_workers, exchange, monkeypatch)
    monkeypatch.setattr(prehistory.Prehistory, "window", lambda _self: (SINCE, UNTIL))
    engine.prehistory.load_early()
    await until(lambda: len(exchange.calls) >= 2, 30, "candle requests before the warm-up")
    assert set(exchange.calls) <= set(SYMBOLS[:prehistory.LOADS_AHEAD])  # the first symbols, answered in any order
    await engine.prehistory.load()
    assert sorted(exchange.calls) == sorted(SYMBOLS)  # each symbol asked once
    assert [what for what, _, _ in events] == [f"history {symbol}" for symbol in SYMBOLS]
    assert all(int(p.book.total.sum()) > 0 for p in engine.pipelines.values())


@ASYNC
async def test_early_loads_of_a_start_that_failed_are_cancelled_and_other_symbols_load_anew(
    engine_db: Database, two_workers: warmup.WarmupPool, monkeypatch: pytest.MonkeyPatch
) -> None:
    exchange = Exchange(held=frozenset(SYMBOLS))  # nothing answers: every load stays in flight
    engine, events = make_engine(engine_db, two_workers, exchange, monkeypatch)
    monkeypatch.setattr(prehistory.Prehistory, "window", lambda _self: (SINCE, UNTIL))
    engine.prehistory.load_early()
    await until(lambda: exchange.in_flight == prehistory.LOADS_AHEAD, 30, "the early loads in flight")
    engine.prehistory.drop_early()  # the start failed (or stopped) before the warm-up
    await until(lambda: exchange.in_flight == 0, 30, "the early loads cancelled")

    answering = Exchange()
    engine.adapter = answering  # type: ignore[assignment]
    engine.prehistory.load_early()
    engine.symbols = list(reversed(SYMBOLS))  # the symbols changed before the warm-up began
    engine._build_pipelines()
    await engine.prehistory.load()
    assert sorted(answering.calls) == sorted(SYMBOLS)  # each asked once
    assert [what for what, _, _ in events] == [f"history {symbol}" for symbol in reversed(SYMBOLS)]
