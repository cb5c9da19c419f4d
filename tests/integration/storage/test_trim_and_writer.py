"""The per-set history trim and the batched writer (100k rows), on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select

from cts_desktop.storage import models as m
from cts_desktop.storage.db import Database
from cts_desktop.storage.results import HistoryLimits, append_results, results_over_length, trim_all_sets
from cts_desktop.storage.writer import BatchedWriter


def _sets(db: Database, count: int) -> list[int]:
    with db.session() as s:
        s.add(m.Connection(id="c1", name="c1", exchange="bybit"))
        s.flush()
        rows = [
            m.ConfigSet(connection_id="c1", symbol="BTC/USDT:USDT", indication_type="direction", params=f"R={i}",
                        direction="long", tp=10, sl=0.5)
            for i in range(count)
        ]
        s.add_all(rows)
        s.flush()
        return [r.id for r in rows]


def _result(i: int) -> dict[str, object]:
    return {"opened_ms": i, "closed_ms": i + 1, "entry": 100.0, "exit": 100.0 + i, "result_pc": float(i),
            "reason": "tp"}


def test_300th_result_trims_set_to_newest_250_and_leaves_other_sets(db: Database) -> None:
    a, b = _sets(db, 2)
    limits = HistoryLimits(length=250, threshold_pct=20)
    assert limits.trim_at == 300
    with db.session() as s:
        append_results(s, b, [_result(i) for i in range(120)], limits)
    trimmed = []
    for i in range(300):
        with db.session() as s:
            trimmed.append(append_results(s, a, [_result(i)], limits))
    assert trimmed[:299] == [0] * 299
    assert trimmed[299] == 50
    with db.session() as s:
        kept = s.execute(select(m.PseudoResult.closed_ms).where(m.PseudoResult.set_id == a)
                         .order_by(m.PseudoResult.id)).scalars().all()
        assert kept == [i + 1 for i in range(50, 300)]  # exactly the newest 250
        cset = s.get(m.ConfigSet, a)
        assert cset is not None and cset.stored_results == 250 and cset.total_closed == 300
        assert s.execute(select(func.count()).where(m.PseudoResult.set_id == b)).scalar_one() == 120


def test_one_batch_crossing_threshold_trims_in_same_transaction(db: Database) -> None:
    (a,) = _sets(db, 1)
    limits = HistoryLimits(length=50, threshold_pct=10)
    with db.session() as s:
        append_results(s, a, [_result(i) for i in range(54)], limits)
        assert append_results(s, a, [_result(i) for i in range(54, 60)], limits) == 10
    with db.session() as s:
        assert s.execute(select(func.min(m.PseudoResult.opened_ms)).where(m.PseudoResult.set_id == a)).scalar_one() \
            == 10


def test_lowering_the_length_reports_and_trims_every_set(db: Database) -> None:
    a, b = _sets(db, 2)
    limits = HistoryLimits(length=250, threshold_pct=20)
    with db.session() as s:
        append_results(s, a, [_result(i) for i in range(200)], limits)
        append_results(s, b, [_result(i) for i in range(90)], limits)
    with db.session() as s:
        assert results_over_length(s, 100) == 100
        assert trim_all_sets(s, HistoryLimits(length=100)) == 100
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(m.PseudoResult)).scalar_one() == 190


def test_writer_takes_100k_rows_without_blocking_callers(db: Database) -> None:
    writer = BatchedWriter(db, flush_interval=0.2, max_batch=20_000)
    writer.start()
    try:
        started = time.perf_counter()
        for i in range(100_000):
            writer.insert("logs", {"ts_ms": i, "levelno": 20, "level": "INFO", "category": "system",
                                   "logger": "cts.test", "message": f"row {i}"})
        enqueue_seconds = time.perf_counter() - started
        assert writer.flush(timeout=120)
    finally:
        writer.stop()
    # the caller only queued; 100k inserts took far less than committing them would
    assert enqueue_seconds < 5
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(m.LogRecord)).scalar_one() == 100_000
        assert s.execute(select(func.max(m.LogRecord.ts_ms))).scalar_one() == 99_999
    assert writer.stats.written_rows == 100_000
    assert writer.stats.written_batches <= 100_000 // 1000


def test_writer_runs_write_functions_in_order_with_rows(db: Database) -> None:
    (a,) = _sets(db, 1)
    writer = BatchedWriter(db, flush_interval=0.05)
    writer.start()
    limits = HistoryLimits(length=50, threshold_pct=20)
    try:
        for i in range(70):
            writer.submit(lambda s, i=i: append_results(s, a, [_result(i)], limits) and None)
        assert writer.flush(30)
    finally:
        writer.stop()
    with db.session() as s:
        assert s.execute(select(func.count()).where(m.PseudoResult.set_id == a)).scalar_one() == 50


def test_writer_commits_a_few_write_functions_per_transaction(db: Database) -> None:
    """A write function may store thousands of sets: at most ``max_functions`` share one transaction, so the
    write lock other writers wait for is held briefly; all of them run, in order."""
    writer = BatchedWriter(db, flush_interval=0.5, max_functions=8)
    seen: list[tuple[int, int]] = []  # (transactions committed before, function number)
    for i in range(20):
        writer.submit(lambda s, i=i: seen.append((writer.stats.written_batches, i)))
    writer.start()
    try:
        assert writer.flush(30)
    finally:
        writer.stop()
    assert [i for _, i in seen] == list(range(20))
    per_transaction: dict[int, int] = {}
    for transaction, _ in seen:
        per_transaction[transaction] = per_transaction.get(transaction, 0) + 1
    assert per_transaction == {0: 8, 1: 8, 2: 4}
    assert writer.stats.written_batches == 3


def test_writer_flush_from_threads(db: Database) -> None:
    writer = BatchedWriter(db, flush_interval=0.05)
    writer.start()

    def produce(base: int) -> None:
        for i in range(2_000):
            writer.insert("cycle_metrics", {"connection_id": "c", "loop": "main", "ts_ms": base + i,
                                            "duration_ms": 1.0, "ok": True})

    threads = [threading.Thread(target=produce, args=(k * 10_000,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert writer.flush(30)
    writer.stop()
    with db.session() as s:
        assert s.execute(select(func.count()).select_from(m.CycleMetric)).scalar_one() == 8_000
