"""The engine's persistence (issue 5 item 6) on SQLite and PostgreSQL: a pipeline trades half a day of real
BTCUSDT-perp minutes, then the changed sets, their results and the book are stored in small steps — the rows in the
database equal the book's figures, a second round updates instead of duplicating, the snapshot restores the book,
and the event loop runs other tasks between the steps."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator

import numpy as np
import pytest
from sqlalchemy import func, select

from cts_desktop.domain.book import SetBook
from cts_desktop.domain.book_stats import FIGURE_NAMES, WINDOWS, window_stats
from cts_desktop.engine import persistence, set_writes
from cts_desktop.engine.persistence import EngineStore
from cts_desktop.engine.pipeline import SymbolPipeline
from cts_desktop.events.status import ConnectionStatus, EngineState, HealthStatus, TradeEngineStatus
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import BookSnapshot, ConfigSet, Connection, PseudoResult
from cts_desktop.storage.models import EngineState as EngineStateRow
from cts_desktop.storage.writer import BatchedWriter
from tests.unit.engine.test_pipeline import LOW_GATES, pipeline, ticks

SYMBOL = "BTC/USDT:USDT"
pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])
VALUES: dict[str, object] = {"system.position_length": 500, "system.position_threshold_pct": 20}


@pytest.fixture
def writer(db: Database) -> Iterator[BatchedWriter]:
    with db.session() as s:
        s.add(Connection(id="c1", name="Persist test", exchange="bybit", kind="replay"))
    w = BatchedWriter(db, flush_interval=0.05)
    w.start()
    try:
        yield w
    finally:
        w.stop()


def status() -> TradeEngineStatus:
    return TradeEngineStatus(
        connection_id="c1", connection_name="Persist test", state=EngineState.RUNNING,
        connection=ConnectionStatus.CONNECTED, paper=True, paused=False, started_at=time.time(), loops=(),
        health=HealthStatus.HEALTHY, symbols=(SYMBOL,), pseudo_open=0, real_open=0, sets_by_status={},
        balance_usdt=None, progress=None, progress_text="", last_error=None,
    )


def trade(p: SymbolPipeline, store: EngineStore, prices: list[tuple[float, float]]) -> int:
    closed = 0
    for t, price in prices:
        update = p.on_price(t, price, entries_allowed=True)
        store.touch(SYMBOL, (r.row for r in update.closed))
        store.touch(SYMBOL, update.status_changed)
        store.add_results(SYMBOL, update.closed)
        closed += len(update.closed)
    return closed


async def persist_counting_turns(store: EngineStore, p: SymbolPipeline, snapshot: bool) -> int:
    """Persist while a task counts how often the loop ran it: the steps must leave the loop to others."""
    turns = 0
    done = asyncio.Event()

    async def probe() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(probe())
    await asyncio.sleep(0)
    turns = 0
    await store.persist({SYMBOL: p}, status, snapshot)
    done.set()
    await task
    return turns


def stored_sets(db: Database) -> dict[tuple[object, ...], ConfigSet]:
    with db.session() as s:
        rows = s.execute(select(ConfigSet).where(ConfigSet.connection_id == "c1")).scalars().all()
        s.expunge_all()
    return {(r.indication_type, r.params, r.direction, r.tp, r.sl, r.trail_start, r.trail_stop): r for r in rows}


def assert_rows_equal_book(p: SymbolPipeline, rows: dict[tuple[object, ...], ConfigSet], set_rows: np.ndarray) -> None:
    book = p.book
    layers = p.layer_of(set_rows)
    stats = {w: window_stats(book, w, set_rows) for w in WINDOWS}
    for i, row in enumerate(set_rows.tolist()):
        key = p.set_key(row)
        stored = rows[(key.indication_type, key.params, key.direction, key.tp, key.sl, key.trail_start,
                       key.trail_stop)]
        assert stored.symbol == SYMBOL
        assert stored.status == ("evaluating", "active", "paused", "failed")[int(book.status[row])]
        assert stored.layer == layers[i]
        assert stored.total_closed == int(book.total[row])
        if layers[i] == "base":  # only Main and Real sets carry their figures (the database stays small)
            assert stored.stats == {}
            continue
        for w in WINDOWS:
            for name in FIGURE_NAMES:
                value = float(getattr(stats[w], name)[i])
                got = stored.stats[f"{name}_{w}"]
                if math.isfinite(value):
                    assert got == pytest.approx(value, abs=1e-6), (row, name, w)
                else:
                    assert got is None, (row, name, w)


async def test_sets_results_and_book_stored_in_steps(db: Database, writer: BatchedWriter,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(persistence, "ROWS_PER_STEP", 3)
    monkeypatch.setattr(persistence, "SNAPSHOT_BYTES_PER_STEP", 4096)
    p = pipeline(LOW_GATES)
    store = EngineStore("c1", writer, lambda: VALUES)
    prices = ticks()
    half = len(prices) // 2
    closed = trade(p, store, prices[:half])
    first_rows = np.array(sorted(store.dirty[SYMBOL]), dtype=np.int64)
    assert closed > 0 and len(first_rows) > 3 * 3

    turns = await persist_counting_turns(store, p, snapshot=False)
    await store.persist({SYMBOL: p}, status, snapshot=True)  # nothing changed since: only the book's snapshot
    assert writer.flush(30)
    steps = -(-len(first_rows) // 3)
    assert turns >= steps - 1, "the set statistics must be stored in steps that yield to the loop"
    rows = stored_sets(db)
    assert len(rows) == len(first_rows)
    assert_rows_equal_book(p, rows, first_rows)
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(PseudoResult)).scalar_one() == closed
        state = s.get(EngineStateRow, "c1")
        assert state is not None and state.status == "running"
        blob = s.execute(select(BookSnapshot.payload)).scalar_one()
    restored = SetBook.restore(blob, p.book.params)
    for name in SetBook.ARRAYS:
        assert np.array_equal(getattr(restored, name), getattr(p.book, name)), name

    # the second half: the same sets are updated (never duplicated), new ones added, results appended
    more = trade(p, store, prices[half:])
    second_rows = np.array(sorted(store.dirty[SYMBOL]), dtype=np.int64)
    await persist_counting_turns(store, p, snapshot=False)
    assert writer.flush(30)
    rows = stored_sets(db)
    assert len(rows) == len(np.union1d(first_rows, second_rows))
    assert_rows_equal_book(p, rows, second_rows)
    assert {r.layer for r in rows.values()} >= {"base", "real"}, "low gates promote some sets to Real"
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(PseudoResult)).scalar_one() == closed + more
        totals = dict(s.execute(select(ConfigSet.id, ConfigSet.total_closed)).all())
    assert sum(totals.values()) == int(p.book.total.sum()) == closed + more  # each close counted once


async def test_a_book_replaced_while_storing_is_left_for_the_next_round(db: Database, writer: BatchedWriter,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(persistence, "ROWS_PER_STEP", 2)
    p = pipeline(LOW_GATES)
    store = EngineStore("c1", writer, lambda: VALUES)
    trade(p, store, ticks()[:2000])
    dirty = len(store.dirty[SYMBOL])
    assert dirty > 4
    old_book = p.book

    async def replace_book() -> None:
        await asyncio.sleep(0)
        p.book = SetBook(old_book.matrix, old_book.params)  # what other settings do (a new, empty book)

    replacer = asyncio.create_task(replace_book())
    await store.persist({SYMBOL: p}, status, snapshot=True)
    await replacer
    assert writer.flush(30)
    stored = stored_sets(db)
    assert 0 < len(stored) < dirty  # the steps before the new book, none after
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(BookSnapshot)).scalar_one() == 0  # the new book is empty


def count_set_lookups(db: Database) -> list[str]:
    """Every SELECT on config_sets the writer runs from now on (the statements, for the failure message)."""
    from sqlalchemy import event

    seen: list[str] = []

    def before(_conn, _cursor, statement: str, *_args: object) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "config_sets" in statement:
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    return seen


async def test_a_stored_set_is_updated_by_its_cached_id_without_a_lookup(db: Database, writer: BatchedWriter) -> None:
    """Steady trading stores the same sets again and again: their ids come from the cache, not one SELECT per
    variant (which returned all ~900 sets of every touched variant: most of the writer's time)."""
    p = pipeline(LOW_GATES)
    store = EngineStore("c1", writer, lambda: VALUES)
    prices = ticks()
    trade(p, store, prices[: len(prices) // 2])
    await store.persist({SYMBOL: p}, status, snapshot=False)
    assert writer.flush(30)
    first = stored_sets(db)
    lookups = count_set_lookups(db)
    # the same sets change again (their statistics are recomputed from the book as it is now)
    rows = np.flatnonzero(p.book.total > 0).astype(np.int64)
    assert len(rows) == len(first) > 0
    store.touch(SYMBOL, rows.tolist())
    p.book.total[rows[0]] += 1  # one set's figure changes: the update must reach its row
    await store.persist({SYMBOL: p}, status, snapshot=False)
    assert writer.flush(30)
    assert lookups == [], "known sets must not be looked up again"
    again = stored_sets(db)
    assert {k: r.id for k, r in again.items()} == {k: r.id for k, r in first.items()}
    assert_rows_equal_book(p, again, rows)


async def test_cached_ids_of_deleted_sets_are_looked_up_again(db: Database, writer: BatchedWriter) -> None:
    """A database that lost the sets (replaced under the app) gets them inserted again, not silently missed."""
    from sqlalchemy import delete

    p = pipeline(LOW_GATES)
    store = EngineStore("c1", writer, lambda: VALUES)
    trade(p, store, ticks()[:3000])
    rows = np.array(sorted(store.dirty[SYMBOL]), dtype=np.int64)
    await store.persist({SYMBOL: p}, status, snapshot=False)
    assert writer.flush(30)
    with db.session() as s:
        s.execute(delete(ConfigSet))
    store.touch(SYMBOL, rows.tolist())
    await store.persist({SYMBOL: p}, status, snapshot=False)
    assert writer.flush(30)
    assert_rows_equal_book(p, stored_sets(db), rows)


async def test_ids_of_a_rolled_back_insert_are_not_cached(db: Database) -> None:
    """The cache learns an id only after its transaction committed: a failed batch (retried later) must insert its
    sets again rather than update ids that were never stored."""
    from cts_desktop.engine.set_writes import SetIds, set_rows, write_sets
    from cts_desktop.storage.results import HistoryLimits

    with db.session() as s:
        s.add(Connection(id="c1", name="Persist test", exchange="bybit", kind="replay"))
    p = pipeline(LOW_GATES)
    trade(p, EngineStore("c1", None, lambda: VALUES), ticks()[:3000])  # type: ignore[arg-type]
    rows = np.flatnonzero(p.book.total > 0).astype(np.int64)
    batch = set_rows(p, rows)
    batch.ids = SetIds(len(p.book))
    limits = HistoryLimits(500, 20)
    with pytest.raises(RuntimeError), db.session() as s:
        write_sets(s, "c1", batch, limits)
        raise RuntimeError("the commit failed")
    assert (batch.ids.get(rows) == -1).all()
    with db.session() as s:
        write_sets(s, "c1", batch, limits)
    assert (batch.ids.get(rows) > 0).all()
    assert_rows_equal_book(p, stored_sets(db), rows)


async def test_book_snapshots_every_ten_minutes_and_at_stop(db: Database, writer: BatchedWriter) -> None:
    """The minute's snapshot round stores the cycle metrics; the books only when BOOK_SNAPSHOT_S has passed since
    they were last stored, and always at a stop (final)."""
    p = pipeline(LOW_GATES)
    store = EngineStore("c1", writer, lambda: VALUES)
    prices = ticks()
    third = len(prices) // 3
    clock = [1000.0]
    store.clock = lambda: clock[0]

    def stored_book() -> bytes:
        assert writer.flush(30)
        with db.session() as s:
            return bytes(s.execute(select(BookSnapshot.payload)).scalar_one())

    trade(p, store, prices[:third])
    await store.persist({SYMBOL: p}, status, snapshot=True, final=False)  # the first round stores the books
    first = stored_book()
    trade(p, store, prices[third:2 * third])
    clock[0] += 60.0
    await store.persist({SYMBOL: p}, status, snapshot=True, final=False)  # a minute later: not yet
    assert stored_book() == first
    clock[0] += persistence.BOOK_SNAPSHOT_S
    await store.persist({SYMBOL: p}, status, snapshot=True, final=False)  # due: the book as it is now
    second = stored_book()
    assert second != first and second == p.book.snapshot()
    trade(p, store, prices[2 * third:])
    clock[0] += 1.0
    await store.persist({SYMBOL: p}, status, snapshot=True)  # a stop stores it at once
    assert stored_book() == p.book.snapshot() != second


async def test_a_warm_up_worker_stores_its_sets_with_two_lookups_for_the_symbol(
    db: Database, writer: BatchedWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``store_sets_now`` (a warm-up worker's store of ~15,000 sets per symbol) reads the symbol's ids once before
    and once after — not one SELECT per variant and step — and inserts without RETURNING; the rows equal the book,
    the ids returned are the stored ones, and a second store updates them (one lookup) instead of duplicating."""
    p = pipeline(LOW_GATES)
    store = EngineStore("c1", writer, lambda: VALUES)
    trade(p, store, ticks())
    rows = np.array(sorted(store.dirty[SYMBOL]), dtype=np.int64)
    monkeypatch.setattr(set_writes, "ROWS_PER_STEP", 16)
    assert len(rows) > 3 * set_writes.ROWS_PER_STEP  # several steps (transactions)
    lookups = count_set_lookups(db)
    ids = set_writes.store_sets_now(db.session, "c1", p, rows, store.limits())
    assert len(lookups) == 2, lookups
    stored = stored_sets(db)
    assert_rows_equal_book(p, stored, rows)
    keys = [p.set_key(r) for r in rows.tolist()]
    assert ids is not None and ids.tolist() == [
        stored[(k.indication_type, k.params, k.direction, k.tp, k.sl, k.trail_start, k.trail_stop)].id for k in keys]
    p.book.total[rows[0]] += 1
    lookups.clear()
    again = set_writes.store_sets_now(db.session, "c1", p, rows, store.limits())
    assert len(lookups) == 1 and again is not None and again.tolist() == ids.tolist()
    assert_rows_equal_book(p, stored_sets(db), rows)
