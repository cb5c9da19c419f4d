"""What one connection engine stores, and how, without stalling its event loop (issue 5, item 6).

Every persist interval the engine stores the statistics of the configuration sets that changed (status, layer,
total closed, the window figures the Strategies tab shows), optionally every closed pseudo result, and its state
row; every minute and at stop the cycle metrics, every ten minutes and at stop a snapshot of each symbol's book.

The book is only ever read on the engine's loop (it is not thread-safe), so the work is split into steps that
each take a few milliseconds there and yield in between (a warm-up can leave tens of thousands of changed sets —
computed in one go that was a stall of seconds per symbol):

* statistics of at most :data:`ROWS_PER_STEP` sets per step, all windows from one gather of the ring;
* a snapshot copied :data:`SNAPSHOT_BYTES_PER_STEP` at a time (:class:`~cts_desktop.domain.book.SnapshotCopy`)
  and compressed in a worker thread;
* the SQL in the batched writer's thread, one job per step: a set's id is looked up once (one SELECT per variant,
  not one per set) and then kept (:class:`SetIds`, learnt only after the transaction committed); new sets are
  inserted with RETURNING, known ones updated through the driver's executemany with their statistics already JSON
  text — the writer's every GIL slice is one the GUI thread waits for;
* after a history warm-up in a worker process, the worker has already stored the sets it changed
  (:func:`~cts_desktop.engine.set_writes.store_sets_now`) and only their ids arrive here. The rows and their
  SQL: :mod:`cts_desktop.engine.set_writes`.

A book replaced while its steps run (settings gave a new one) is left for the next round: rows of the old book
mean nothing in the new one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.domain.book import SetBook
from cts_desktop.domain.book_snapshot import SnapshotCopy
from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine.heap import give_back
from cts_desktop.engine.pipeline import ClosedResult, SymbolPipeline
from cts_desktop.engine.set_writes import ROWS_PER_STEP, SetIds, set_rows, sets_writer
from cts_desktop.engine.status import LoopMeter
from cts_desktop.events.status import TradeEngineStatus
from cts_desktop.storage.models import BookSnapshot
from cts_desktop.storage.models import EngineState as EngineStateRow
from cts_desktop.storage.models import Market as MarketRow
from cts_desktop.storage.results import HistoryLimits
from cts_desktop.storage.types import to_decimal
from cts_desktop.storage.writer import BatchedWriter

log = logging.getLogger("cts.engine.persist")

SNAPSHOT_BYTES_PER_STEP = 8 << 20
BOOK_SNAPSHOT_S = 600.0  # book snapshots between stops: every ten minutes (the engine's snapshot round is a minute)
class EngineStore:
    """Collects what changed on the engine's loop and stores it in steps (see the module docstring)."""

    def __init__(self, connection_id: str, writer: BatchedWriter, values: Callable[[], dict[str, object]]) -> None:
        self.connection_id = connection_id
        self.writer = writer
        self.values = values
        self.dirty: dict[str, set[int]] = {}
        self.pending_results: list[tuple[str, ClosedResult]] = []
        self._ids: dict[str, tuple[SetBook, SetIds]] = {}  # per symbol: the book whose set ids are cached
        self.clock: Callable[[], float] = time.monotonic  # when the books are due (tests set it)
        self._books_at: float | None = None  # clock time the books were last stored
        self._lock = asyncio.Lock()  # the persist loop and stop() never interleave their steps

    # --- collecting (on the loop, or in the warm-up thread before the loops start) ------------------------------

    def touch(self, symbol: str, rows: Iterable[int]) -> None:
        self.dirty.setdefault(symbol, set()).update(rows)

    def add_results(self, symbol: str, results: Iterable[ClosedResult]) -> None:
        self.pending_results.extend((symbol, r) for r in results)

    def learn_ids(self, symbol: str, book: SetBook, rows: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> None:
        """Ids of ``book``'s sets stored elsewhere (a warm-up worker stored them): later stores update them
        without looking them up."""
        self._set_ids(symbol, book).remember(rows, ids)

    def limits(self) -> HistoryLimits:
        values = self.values()
        return HistoryLimits(int(cfg.number(values, "system.position_length")),
                             int(cfg.number(values, "system.position_threshold_pct")))

    # --- storing ------------------------------------------------------------------------------------------------

    async def persist(self, pipelines: dict[str, SymbolPipeline], status: Callable[[], TradeEngineStatus],
                      snapshot: bool, meters: dict[str, LoopMeter] | None = None, final: bool = True) -> None:
        """Store the changed sets (and results), the engine state and, with ``snapshot``, the cycle metrics of
        ``meters`` and every book — the books with ``final`` (a stop), else only when :data:`BOOK_SNAPSHOT_S` passed
        since they were last stored: a restart replays the prehistory over the stored book anyway, and each round
        compresses and rewrites megabytes per symbol (issue 18: a sixth of a core and most of the database's churn
        at eight symbols when it ran every minute)."""
        async with self._lock:
            limits = self.limits()
            dirty, self.dirty = self.dirty, {}
            results, self.pending_results = self.pending_results, []
            by_symbol: dict[str, list[ClosedResult]] = {}
            for symbol, result in results:
                by_symbol.setdefault(symbol, []).append(result)
            for symbol in sorted(set(dirty) | set(by_symbol)):
                pipeline = pipelines.get(symbol)
                if pipeline is not None:
                    await self._store_sets(pipeline, dirty.get(symbol, set()), by_symbol.get(symbol, []), limits)
            state = status()
            self.writer.submit(lambda s: write_state(s, state))
            if snapshot:
                if meters is not None:
                    self._store_cycle_metrics(meters)
                now = self.clock()
                if final or self._books_at is None or now - self._books_at >= BOOK_SNAPSHOT_S:
                    self._books_at = now
                    for symbol, pipeline in list(pipelines.items()):
                        await self._store_snapshot(symbol, pipeline)
                    await asyncio.to_thread(give_back)  # the snapshot copies' memory back to the system

    async def _store_sets(self, pipeline: SymbolPipeline, dirty: set[int], results: list[ClosedResult],
                          limits: HistoryLimits) -> None:
        book = pipeline.book
        n = len(book)
        rows = np.fromiter((r for r in dirty if r < n), dtype=np.int64)
        rows.sort()
        by_row: dict[int, list[ClosedResult]] = {}
        for r in results:
            if r.row < n:
                by_row.setdefault(r.row, []).append(r)
        # a result's set is stored in the same step, so its id exists when the result is appended
        rows = np.union1d(rows, np.fromiter(by_row, dtype=np.int64, count=len(by_row)))
        connection_id = self.connection_id
        ids = self._set_ids(pipeline.symbol, book)
        for start in range(0, len(rows), ROWS_PER_STEP):
            if pipeline.book is not book:
                log.debug("book of %s replaced while storing its sets: the rest waits for the next round",
                          pipeline.symbol)
                return
            chunk = rows[start:start + ROWS_PER_STEP]
            batch = set_rows(pipeline, chunk)
            batch.ids = ids
            if by_row:  # each step takes its own sets' results (not a scan of all results per step)
                for row in chunk.tolist():
                    closed = by_row.get(row)
                    if closed:
                        batch.results[row] = closed
            self.writer.submit(sets_writer(connection_id, batch, limits))
            await asyncio.sleep(0)

    def set_id(self, symbol: str, book: SetBook, row: int) -> int | None:
        """The stored id of a set of ``book`` (None until the set has been written once)."""
        found = int(self._set_ids(symbol, book).get(np.asarray([row], dtype=np.int64))[0])
        return None if found < 0 else found

    def _set_ids(self, symbol: str, book: SetBook) -> SetIds:
        cached = self._ids.get(symbol)
        if cached is None or cached[0] is not book:  # a new book (other settings): its sets are looked up again
            cached = self._ids[symbol] = (book, SetIds(len(book)))
        cached[1].fit(len(book))
        return cached[1]

    async def _store_snapshot(self, symbol: str, pipeline: SymbolPipeline) -> None:
        book = pipeline.book
        if len(book) == 0:
            return
        copy = SnapshotCopy(book)
        rows_per_step = max(1, SNAPSHOT_BYTES_PER_STEP // max(1, _row_bytes(book)))
        while not copy.copy_step(rows_per_step):
            await asyncio.sleep(0)
            if pipeline.book is not book:
                return  # a new book: its snapshot is taken next minute
        started = time.perf_counter()
        blob = await asyncio.to_thread(copy.encode)
        log.debug("snapshot of %s: %d sets, %.1f MB in %.0f ms", symbol, copy.rows, len(blob) / 1e6,
                  (time.perf_counter() - started) * 1000)
        connection_id = self.connection_id
        def write(session: Session) -> None:
            session.merge(BookSnapshot(connection_id=connection_id, symbol=symbol, payload=blob))

        self.writer.submit(write)

    def _store_cycle_metrics(self, meters: dict[str, LoopMeter]) -> None:
        """One row per loop for the cycles since the previous call (every minute and at stop)."""
        now_ms = int(time.time() * 1000)
        metrics = [
            {"connection_id": self.connection_id, "loop": name, "ts_ms": now_ms, "duration_ms": round(w.mean_ms, 3),
             "max_ms": round(w.max_ms, 3), "cycles": w.cycles, "errors": w.errors, "ok": w.errors == 0}
            for name, meter in meters.items() if (w := meter.take_window()) is not None
        ]
        if metrics:
            self.writer.insert_many("cycle_metrics", metrics)


def _row_bytes(book: SetBook) -> int:
    return sum(getattr(book, name)[:1].nbytes for name in SetBook.ARRAYS)



def write_markets(session: Session, connection_id: str, infos: list[Any]) -> None:
    """The exchange's market rules (precision, minimums, leverage, fee) as the ``markets`` rows of a connection."""
    existing = {m.symbol: m for m in session.execute(
        select(MarketRow).where(MarketRow.connection_id == connection_id)).scalars()}
    for info in infos:
        row = existing.get(info.symbol) or MarketRow(connection_id=connection_id, symbol=info.symbol,
                                                     base=info.base, quote=info.quote)
        row.active = info.active
        row.amount_precision = None if info.amount_step is None else to_decimal(info.amount_step)
        row.price_precision = None if info.price_step is None else to_decimal(info.price_step)
        row.min_amount = None if info.min_amount is None else to_decimal(info.min_amount)
        row.min_cost = None if info.min_cost is None else to_decimal(info.min_cost)
        row.max_leverage = info.max_leverage
        row.taker_fee = None if info.taker_fee is None else to_decimal(info.taker_fee)
        if info.symbol not in existing:
            session.add(row)


def load_snapshots(session: Session, connection_id: str) -> dict[str, bytes]:
    """The stored book snapshot of each symbol of a connection (restored with the warm-up, in its worker)."""
    rows = session.execute(select(BookSnapshot).where(BookSnapshot.connection_id == connection_id)).scalars()
    return {r.symbol: r.payload for r in rows}


def write_state(session: Session, status: TradeEngineStatus) -> None:
    row = session.get(EngineStateRow, status.connection_id)
    if row is None:
        row = EngineStateRow(connection_id=status.connection_id)
        session.add(row)
    row.status = status.state.value
    row.started_at = None if status.started_at is None else datetime.fromtimestamp(status.started_at, UTC)
    row.cycles = {loop.name: {"cycles": loop.cycles, "errors": loop.errors, "avg_ms": round(loop.avg_ms, 3),
                              "last_ms": round(loop.last_ms, 3)} for loop in status.loops}
    row.health = {"overall": status.health.label, **{loop.name: loop.health.label for loop in status.loops},
                  "pseudo_open": status.pseudo_open, "real_open": status.real_open,
                  "sets": status.sets_by_status, "paper": status.paper, "symbols": list(status.symbols),
                  **{f"{stream.name} stream": {"status": "healthy" if stream.streaming else "degraded",
                                               "detail": stream.detail} for stream in status.streams}}
    row.last_error = status.last_error


__all__ = ["EngineStore", "load_snapshots", "write_markets", "write_state"]
