"""Monitoring queries over a seeded ``logs`` table (100k rows on SQLite, 20k on PostgreSQL) equal plain SQL written
independently of them — and the seed itself, counted in Python."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from cts_desktop.monitoring import stats
from cts_desktop.storage.db import Database, sqlite_url
from tests.integration.conftest import PG_URL, require_postgres
from tests.integration.monitoring.seed_logs import Seeded, seed_logs

HOUR = 3_600_000


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, Seeded]]:
    now = int(time.time() * 1000)
    if request.param == "sqlite":
        db = Database(sqlite_url(tmp_path_factory.mktemp("mon") / "cts.sqlite3"))
        db.migrate()
        data = seed_logs(db, 100_000, now)
        yield db, data
        db.dispose()
        return
    require_postgres()
    schema = f"cts_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(PG_URL, schema=schema)
    try:
        db.migrate()
        data = seed_logs(db, 20_000, now)
        yield db, data
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def sql(db: Database, query: str, **params: object) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(query), params)]


def test_counts_by_level_and_category_equal_sql_and_the_seed(seeded: tuple[Database, Seeded]) -> None:
    db, data = seeded
    now = data.now_ms
    with db.session() as s:
        result = stats.log_stats(s, now)
    since = now - 24 * HOUR
    assert result.by_level == dict(sql(db, "SELECT level, COUNT(*) FROM logs WHERE ts_ms >= :a AND ts_ms <= :b "
                                           "GROUP BY level", a=since, b=now))  # type: ignore[arg-type]
    assert result.by_category == dict(sql(db, "SELECT category, COUNT(*) FROM logs WHERE ts_ms >= :a AND "
                                              "ts_ms <= :b GROUP BY category", a=since, b=now))  # type: ignore[arg-type]
    assert result.errors_by_category == dict(sql(
        db, "SELECT category, COUNT(*) FROM logs WHERE ts_ms >= :a AND ts_ms <= :b AND levelno >= 40 "
            "GROUP BY category", a=since, b=now))  # type: ignore[arg-type]
    window = [r for r in data.rows if since <= r["ts_ms"] <= now]
    assert result.total == len(window)
    assert result.by_level == dict(Counter(r["level"] for r in window))
    assert list(result.by_level) == [n for n in ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")
                                     if n in result.by_level]
    assert 0 < result.total < len(data.rows)  # the window really cuts the 48 h of records


def test_hourly_error_rate_equals_sql(seeded: tuple[Database, Seeded]) -> None:
    db, data = seeded
    now = data.now_ms
    with db.session() as s:
        buckets = stats.hourly_errors(s, now)
    assert len(buckets) == 24
    start = (now // HOUR - 23) * HOUR
    assert buckets[0].start_ms == start and buckets[-1].start_ms <= now < buckets[-1].start_ms + HOUR
    for bucket in buckets:
        end = min(bucket.start_ms + HOUR, now + 1)
        (errors, criticals), = sql(
            db, "SELECT COUNT(*), COALESCE(SUM(CASE WHEN levelno >= 50 THEN 1 ELSE 0 END), 0) FROM logs "
                "WHERE levelno >= 40 AND ts_ms >= :a AND ts_ms < :b", a=bucket.start_ms, b=end)
        assert (bucket.errors, bucket.criticals) == (errors, criticals)
    expected = Counter((r["ts_ms"] - start) // HOUR for r in data.rows
                       if r["levelno"] >= 40 and start <= r["ts_ms"] <= now)
    assert [b.errors for b in buckets] == [expected.get(i, 0) for i in range(24)]


def test_top_errors_criticals_and_timeline_equal_sql(seeded: tuple[Database, Seeded]) -> None:
    db, data = seeded
    now = data.now_ms
    with db.session() as s:
        top = stats.top_errors(s, now, limit=10)
        critical = stats.critical_errors(s, now)
        activity = stats.timeline(s, limit=150)
    expected_top = sql(db, "SELECT message, COUNT(*) AS n, MAX(ts_ms) FROM logs WHERE levelno >= 40 AND "
                           "ts_ms >= :a AND ts_ms <= :b GROUP BY message ORDER BY n DESC, MAX(ts_ms) DESC LIMIT 10",
                       a=now - 24 * HOUR, b=now)
    assert [(t.message, t.count, t.last_ts_ms) for t in top] == expected_top
    assert top[0].count >= top[-1].count
    expected_critical = sql(db, "SELECT id FROM logs WHERE levelno >= 50 AND ts_ms >= :a "
                                "ORDER BY ts_ms DESC, id DESC LIMIT 100", a=now - HOUR)
    assert [(c.id,) for c in critical] == expected_critical and critical
    expected_activity = sql(db, "SELECT id FROM logs WHERE category IN ('engine', 'connection', 'exchange', "
                                "'toast') ORDER BY ts_ms DESC, id DESC LIMIT 150")
    assert [(a.id,) for a in activity] == expected_activity


@pytest.mark.parametrize(
    ("flt", "where"),
    [
        (stats.LogFilter(), "1 = 1"),
        (stats.LogFilter(min_level=40, category="engine"), "levelno >= 40 AND category = 'engine'"),
        (stats.LogFilter(connection_id="replay", text="CODE 10"),
         "connection_id = 'replay' AND LOWER(message) LIKE '%code 10%'"),
    ],
)
def test_keyset_pages_walk_exactly_the_matching_rows(
    seeded: tuple[Database, Seeded], flt: stats.LogFilter, where: str
) -> None:
    db, _data = seeded
    expected = [r[0] for r in sql(db, f"SELECT id FROM logs WHERE {where} ORDER BY ts_ms DESC, id DESC LIMIT 3000")]
    (count,), = sql(db, f"SELECT COUNT(*) FROM logs WHERE {where}")
    walked: list[int] = []
    cursor = None
    with db.session() as s:
        assert stats.count_logs(s, flt) == count
        while len(walked) < 3000:
            page = stats.log_page(s, flt, cursor, 500)
            walked += [e.id for e in page]
            if len(page) < 500:
                break
            cursor = page[-1].cursor
    assert walked[:3000] == expected
    assert len(set(walked)) == len(walked)


def test_text_filter_matches_literally(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path / "t.sqlite3"))
    db.migrate()
    rows = [("100% done", 1), ("100 percent done", 2), ("a_b", 3), ("axb", 4)]
    with db.engine.begin() as conn:
        for message, ts in rows:
            conn.execute(text("INSERT INTO logs (ts_ms, levelno, level, category, logger, message) "
                              "VALUES (:ts, 20, 'INFO', 'system', 'cts.system', :m)"), {"ts": ts, "m": message})
    with db.session() as s:
        assert [e.message for e in stats.log_page(s, stats.LogFilter(text="100%"))] == ["100% done"]
        assert [e.message for e in stats.log_page(s, stats.LogFilter(text="a_b"))] == ["a_b"]
    db.dispose()


def test_csv_and_json_exports_hold_exactly_the_filtered_records(seeded: tuple[Database, Seeded]) -> None:
    db, _data = seeded
    flt = stats.LogFilter(min_level=40, connection_id="bybit-x03", category="exchange")
    expected = sql(db, "SELECT id, message, exc_text FROM logs WHERE levelno >= 40 AND connection_id = 'bybit-x03' "
                       "AND category = 'exchange' ORDER BY ts_ms DESC, id DESC")
    assert expected
    csv_out, json_out = io.StringIO(), io.StringIO()
    with db.session() as s:
        assert stats.write_csv(stats.iter_logs(s, flt, batch=97), csv_out) == len(expected)
        assert stats.write_json(stats.iter_logs(s, flt, batch=97), json_out, flt) == len(expected)
    records = list(csv.DictReader(io.StringIO(csv_out.getvalue())))
    assert list(records[0]) == list(stats.EXPORT_COLUMNS)
    assert [(int(r["id"]), r["message"], r["exc_text"] or None) for r in records] == expected
    assert all(r["level"] in ("ERROR", "CRITICAL") and r["connection_id"] == "bybit-x03" for r in records)
    assert any("\n" in (r["exc_text"] or "") for r in records)  # stack traces survive, newlines included
    document = json.loads(json_out.getvalue())
    assert document["format"] == "cts-desktop-logs"
    assert document["filter"] == {"min_level": "ERROR", "category": "exchange", "connection_id": "bybit-x03",
                                  "text": None, "since_ms": None, "until_ms": None}
    assert [(r["id"], r["message"], r["exc_text"]) for r in document["records"]] == expected
    with_context = [r for r in document["records"] if r["context"] is not None]
    assert all(r["context"] == {"n": r["context"]["n"]} for r in with_context)
    assert all(r["time_utc"].endswith("Z") for r in document["records"])
