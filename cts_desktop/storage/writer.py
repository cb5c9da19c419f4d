"""One batched writer for high-rate rows (logs, pseudo results, metrics): callers never block on a commit.

Callers hand rows (or small write functions) to :meth:`BatchedWriter.insert` / :meth:`BatchedWriter.submit`; a
single worker thread commits them together every ``flush_interval`` seconds or ``max_batch`` items (at most
``max_functions`` write functions per transaction: one of them may write thousands of rows, and the app's other
writers — an order row before it is sent — wait for the SQLite write lock while a transaction is open). When the
database is unavailable the batch is kept and retried with a growing pause (the connection pool is rebuilt on each
try), so nothing is lost while it is away; rows of *spoolable* tables (logs, metrics) that are still pending at
shutdown are appended to a spool file and written at the next start.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session

from cts_desktop.storage.db import Database, describe_db_error
from cts_desktop.storage.models import Base

# The writer must never log through the DB sink it feeds (that would loop); it logs to this logger, which the
# logging set-up keeps out of the DB handler.
log = logging.getLogger("cts.database.writer")

WriteFn = Callable[[Session], None]
SPOOLABLE_TABLES = frozenset({"logs", "cycle_metrics"})


@dataclass(slots=True)
class WriterStats:
    written_rows: int = 0
    written_batches: int = 0
    failed_attempts: int = 0
    pending: int = 0
    last_error: str | None = None
    last_commit_ms: float = 0.0
    healthy: bool = True


@dataclass(slots=True)
class _Batch:
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    functions: list[WriteFn] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(r) for r in self.rows.values()) + len(self.functions)


class BatchedWriter:
    def __init__(
        self,
        db: Database,
        *,
        flush_interval: float = 1.0,
        max_batch: int = 5_000,
        max_functions: int = 8,
        spool_file: Path | None = None,
        retry_pause_max: float = 5.0,
    ) -> None:
        self.db = db
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_functions = max_functions
        self.spool_file = spool_file
        self.retry_pause_max = retry_pause_max
        self.stats = WriterStats()
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._tables: dict[str, Table] = {
            name: table for name, table in Base.metadata.tables.items() if isinstance(table, Table)
        }
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._in_flight = 0
        self._on_health: list[Callable[[bool, str | None], None]] = []

    # --- public API ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._replay_spool()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cts-db-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is pending (waiting up to ``timeout``), spool what cannot be written, stop the thread."""
        if self._thread is None:
            return
        self.flush(timeout)
        self._stop.set()
        self._queue.put(("wake", None))
        self._thread.join(timeout)
        self._thread = None
        self._spool_leftovers()

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Queue one row for ``table`` (never blocks, never raises for a database problem)."""
        if table not in self._tables:
            raise KeyError(f"unknown table {table!r}")
        self._enqueue(("row", (table, row)))

    def insert_many(self, table: str, rows: Iterable[dict[str, Any]]) -> None:
        if table not in self._tables:
            raise KeyError(f"unknown table {table!r}")
        for row in rows:
            self._enqueue(("row", (table, row)))

    def submit(self, fn: WriteFn) -> None:
        """Queue a write function; it runs in the writer's transaction together with the batch."""
        self._enqueue(("fn", fn))

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything queued so far is committed; False if that did not happen within ``timeout``."""
        if self._thread is None:
            return self._in_flight == 0  # not started: nothing can be written yet
        if self.db.guard.tripped:
            return False  # nothing will be written: waiting would only delay the shutdown
        deadline = time.monotonic() + timeout
        self._queue.put(("wake", None))
        with self._idle:
            while self._in_flight > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(min(remaining, 0.1))
        return True

    def on_health_change(self, callback: Callable[[bool, str | None], None]) -> None:
        self._on_health.append(callback)

    @property
    def pending(self) -> int:
        return self._in_flight

    # --- worker -------------------------------------------------------------------------------------------------

    def _enqueue(self, item: tuple[str, Any]) -> None:
        with self._idle:
            self._in_flight += 1
        self.stats.pending = self._in_flight
        self._queue.put(item)

    def _run(self) -> None:
        batch = _Batch()
        pause = 0.25
        while True:
            self._collect(batch)
            stopping = self._stop.is_set()
            if len(batch):
                if self._write(batch):
                    done = len(batch)
                    batch = _Batch()
                    pause = 0.25
                    self._done(done)
                else:
                    if stopping:
                        self._leftover = batch
                        return
                    self._stop.wait(pause)
                    pause = min(pause * 2, self.retry_pause_max)
                    self.db.engine.dispose()  # reconnect from scratch on the next try
                    continue
            if stopping:
                return

    def _collect(self, batch: _Batch) -> None:
        deadline = time.monotonic() + self.flush_interval
        while len(batch) < self.max_batch:
            timeout = deadline - time.monotonic()
            try:
                kind, payload = self._queue.get(timeout=max(timeout, 0.0)) if timeout > 0 else self._queue.get_nowait()
            except queue.Empty:
                return
            if kind == "row":
                table, row = payload
                batch.rows[table].append(row)
            elif kind == "fn":
                batch.functions.append(payload)
                if len(batch.functions) >= self.max_functions:
                    return  # commit these now; the rest goes in the next transaction
            elif kind == "wake":
                # flush()/stop() asked: write what we have without waiting for the interval
                if len(batch) or self._stop.is_set():
                    deadline = 0.0
                continue

    def _write(self, batch: _Batch) -> bool:
        started = time.perf_counter()
        try:
            with self.db.session() as session:
                for name in _insert_order(batch.rows):
                    session.execute(insert(self._tables[name]), batch.rows[name])
                for fn in batch.functions:
                    fn(session)
        except (DBAPIError, SQLAlchemyError, OSError) as exc:
            self.stats.failed_attempts += 1
            message = describe_db_error(exc, self.db.display_url)
            if self.stats.healthy or self.stats.last_error != message:
                log.warning("database write failed, %d items kept for retry: %s", len(batch), message)
            self._set_health(False, message)
            return False
        self.stats.written_rows += len(batch)
        self.stats.written_batches += 1
        self.stats.last_commit_ms = (time.perf_counter() - started) * 1000
        if not self.stats.healthy:
            log.info("database writes resumed")
        self._set_health(True, None)
        return True

    def _done(self, count: int) -> None:
        with self._idle:
            self._in_flight -= count
            self.stats.pending = self._in_flight
            self._idle.notify_all()

    def _set_health(self, healthy: bool, error: str | None) -> None:
        changed = self.stats.healthy != healthy
        self.stats.healthy = healthy
        self.stats.last_error = error
        if changed:
            for callback in self._on_health:
                try:
                    callback(healthy, error)
                except Exception:  # a faulty listener must not stop the writer
                    log.exception("writer health listener failed")

    # --- spool --------------------------------------------------------------------------------------------------

    _leftover: _Batch | None = None

    def _spool_leftovers(self) -> None:
        batch = self._leftover or _Batch()
        self._leftover = None
        while True:
            try:
                kind, payload = self._queue.get_nowait()
            except queue.Empty:
                break
            if kind == "row":
                batch.rows[payload[0]].append(payload[1])
        spooled = [
            {"table": name, "row": row}
            for name, rows in batch.rows.items()
            if name in SPOOLABLE_TABLES
            for row in rows
        ]
        lost = len(batch) - len(spooled)
        if spooled and self.spool_file is not None:
            self.spool_file.parent.mkdir(parents=True, exist_ok=True)
            with self.spool_file.open("a", encoding="utf-8") as handle:
                for item in spooled:
                    handle.write(json.dumps(item, default=str) + "\n")
            log.warning("database unavailable at shutdown: %d rows spooled to %s", len(spooled), self.spool_file)
        if lost:
            log.error("database unavailable at shutdown: %d non-spoolable writes were not saved", lost)

    def _replay_spool(self) -> None:
        if self.spool_file is None or not self.spool_file.exists():
            return
        lines = self.spool_file.read_text(encoding="utf-8").splitlines()
        self.spool_file.unlink()
        for line in lines:
            if line.strip():
                item = json.loads(line)
                self.insert(item["table"], item["row"])
        log.info("replaying %d spooled rows from the last session", len(lines))


def _insert_order(rows: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Parent tables before children so foreign keys hold inside one batch."""
    order = {table.name: i for i, table in enumerate(Base.metadata.sorted_tables)}
    return sorted(rows, key=lambda name: order.get(name, 0))
