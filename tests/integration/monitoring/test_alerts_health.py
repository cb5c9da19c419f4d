"""Alert rules (DOMAIN Part 2 §11) on real rows, their cool-down and acknowledge; engine/connection health from
``engine_state``; the auto-restart marker written by logging and read back as history."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from cts_desktop.monitoring import alerts, health
from cts_desktop.monitoring.logging_setup import record_to_row
from cts_desktop.storage import models as m
from cts_desktop.storage.db import Database

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def _errors(db: Database, count: int, ago_ms: int) -> None:
    with db.session() as s:
        s.execute(insert(m.LogRecord), [
            {"ts_ms": NOW_MS - ago_ms, "levelno": 40, "level": "ERROR", "category": "engine", "logger": "cts.engine",
             "message": "boom"} for _ in range(count)
        ])


def _sources(candidates: list[alerts.AlertCandidate]) -> dict[tuple[str, str | None], str]:
    return {(c.source, c.connection_id): c.severity for c in candidates}


def test_error_burst_rule_counts_ten_minutes_and_respects_the_threshold(db: Database) -> None:
    thresholds = alerts.AlertThresholds(errors_per_10min=10)
    _errors(db, 10, 60_000)
    _errors(db, 50, 11 * 60_000)  # outside the 10-minute window
    with db.session() as s:
        assert alerts.evaluate(s, NOW, thresholds) == []  # 10 is not more than 10
    _errors(db, 1, 5_000)
    with db.session() as s:
        found = alerts.evaluate(s, NOW, thresholds)
    assert _sources(found) == {("error_burst", None): "critical"}
    assert "11 errors" in found[0].message


def test_order_engine_connection_size_and_writer_rules(db: Database) -> None:
    with db.session() as s:
        s.add_all([
            m.Connection(id="c1", name="Bybit X03", exchange="bybit", is_enabled=True, is_active=True),
            m.Connection(id="c2", name="BingX X01", exchange="bingx", is_enabled=True, is_active=True),
        ])
        s.flush()
        for i in range(7):
            s.add(m.Order(connection_id="c1", client_order_id=f"o{i}", symbol="BTC/USDT:USDT", side="buy",
                          order_type="market", quantity=Decimal("0.01"), status="rejected" if i % 2 else "failed",
                          created_at=NOW - timedelta(minutes=10)))
        s.add(m.Order(connection_id="c2", client_order_id="old", symbol="BTC/USDT:USDT", side="buy",
                      order_type="market", quantity=Decimal("0.01"), status="failed",
                      created_at=NOW - timedelta(hours=2)))
        s.add(m.EngineState(connection_id="c1", status="error", last_error="ticker loop crashed",
                            updated_at=NOW))
        s.add(m.EngineState(connection_id="c2", status="running", updated_at=NOW - timedelta(minutes=9)))
    thresholds = alerts.AlertThresholds(failed_orders_per_hour=5, stale_connection_min=5, max_database_gb=5)
    with db.session() as s:
        found = alerts.evaluate(s, NOW, thresholds, database_bytes=6 * 1024**3, writer_healthy=False,
                                writer_error="disk full")
    assert _sources(found) == {
        ("failed_orders", "c1"): "warning",
        ("engine_error", "c1"): "critical",
        ("stale_connection", "c2"): "warning",
        ("database_size", None): "warning",
        ("database_writes", None): "critical",
    }
    messages = " ".join(c.message for c in found)
    assert "7 orders failed" in messages and "ticker loop crashed" in messages and "9 min" in messages
    assert "disk full" in messages and "6.0 GB" in messages


def test_raised_alerts_are_stored_once_per_cooldown_and_acknowledged(db: Database) -> None:
    _errors(db, 20, 1_000)
    thresholds = alerts.AlertThresholds()
    with db.session() as s:
        created = alerts.raise_alerts(s, alerts.evaluate(s, NOW, thresholds), NOW)
    assert [a.source for a in created] == ["error_burst"]
    with db.session() as s:  # five minutes later the condition still holds: no second row within 10 min
        later = NOW + timedelta(minutes=5)
        assert alerts.raise_alerts(s, alerts.evaluate(s, later, thresholds), later) == []
        assert [a.id for a in alerts.list_alerts(s)] == [created[0].id]
    with db.session() as s:
        assert alerts.acknowledge(s, [created[0].id], NOW) == 1
        assert alerts.acknowledge(s, [created[0].id], NOW) == 0  # already acknowledged
        assert alerts.list_alerts(s) == []
        everything = alerts.list_alerts(s, include_acknowledged=True)
    assert everything[0].acknowledged_at is not None
    with db.session() as s:  # after the cool-down the persisting condition raises a new alert
        _errors(db, 20, -11 * 60_000)
        much_later = NOW + timedelta(minutes=11)
        again = alerts.raise_alerts(s, alerts.evaluate(s, much_later, thresholds), much_later)
    assert [a.source for a in again] == ["error_burst"]


def test_an_engine_error_the_coordinator_already_alerted_is_not_raised_twice(db: Database) -> None:
    with db.session() as s:
        s.add_all([m.Connection(id=c, name=c, exchange="bybit", is_enabled=True, is_active=True) for c in ("c1", "c2")])
        s.flush()
        s.add_all([m.EngineState(connection_id=c, status="error", last_error="feed died", updated_at=NOW)
                   for c in ("c1", "c2")])
        # the coordinator's own alert when c1's restarts gave up (source "engine"), ten minutes ago
        s.add(m.Alert(severity="critical", source="engine", connection_id="c1", message="c1 gave up",
                      created_at=NOW - timedelta(minutes=10)))
    with db.session() as s:
        created = alerts.raise_alerts(s, alerts.evaluate(s, NOW, alerts.AlertThresholds()), NOW)
    assert [(a.source, a.connection_id) for a in created] == [("engine_error", "c2")]
    with db.session() as s:  # after the rule's hour the persisting error is raised again for c1 too
        later = NOW + timedelta(minutes=61)
        again = alerts.raise_alerts(s, alerts.evaluate(s, later, alerts.AlertThresholds()), later)
    assert sorted((a.source, a.connection_id) for a in again) == [("engine_error", "c1"), ("engine_error", "c2")]


def test_engine_and_connection_health_from_engine_state(db: Database) -> None:
    with db.session() as s:
        s.add_all([
            m.Connection(id="c1", name="Bybit X03", exchange="bybit", is_enabled=True, last_test_ok=True),
            m.Connection(id="c2", name="BingX X01", exchange="bingx", is_enabled=True),
            m.Connection(id="c3", name="Off", exchange="bybit", is_enabled=False),
        ])
        s.flush()
        s.add(m.EngineState(connection_id="*", status="running", updated_at=NOW - timedelta(seconds=3)))
        s.add(m.EngineState(
            connection_id="c1", status="running", updated_at=NOW - timedelta(minutes=6),
            health={"main": {"status": "healthy", "detail": "cycle 12 ms"}, "orders": "unhealthy"},
        ))
    with db.session() as s:
        rows = health.engine_health(s, NOW)
    table = {(r.kind, r.name): (r.status, r.detail) for r in rows}
    assert table[("engine", "coordinator")][0] is health.HealthStatus.OK
    assert table[("engine", "Bybit X03")][0] is health.HealthStatus.DEGRADED  # no heartbeat for 6 min
    assert table[("loop", "Bybit X03 › main")] == (health.HealthStatus.OK, "cycle 12 ms")
    assert table[("loop", "Bybit X03 › orders")][0] is health.HealthStatus.DOWN
    assert table[("connection", "BingX X01")][0] is health.HealthStatus.STOPPED
    assert "test passed" in table[("connection", "Bybit X03")][1]
    assert ("connection", "Off") not in table


def test_restart_marker_round_trips_through_the_log_table(db: Database) -> None:
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    handler = Capture()
    logger = logging.getLogger(health.RESTART_LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        health.log_restart("c1", 1, 3, "unhealthy for 3 checks", "restarted")
        health.log_restart("c1", 3, 3, "crashed", "gave_up")
        logging.getLogger("cts.engine.loop").warning("an ordinary engine warning")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    with db.session() as s:
        s.execute(insert(m.LogRecord), [record_to_row(r) for r in captured])
        s.add(m.LogRecord(ts_ms=NOW_MS, levelno=30, level="WARNING", category="engine", logger="cts.engine.loop",
                          message="not a restart"))
    with db.session() as s:
        history = health.restart_history(s)
    assert [(e.attempt, e.max_attempts, e.outcome, e.level) for e in history] == [
        (3, 3, "gave_up", "CRITICAL"), (1, 3, "restarted", "WARNING"),
    ]
    assert history[1].reason == "unhealthy for 3 checks" and history[1].connection_id == "c1"


def test_engine_state_as_the_engine_writes_it_skips_counters(db: Database) -> None:
    with db.session() as s:
        s.add(m.Connection(id="c1", name="Replay", exchange="replay", is_enabled=True))
        s.flush()
        s.add(m.EngineState(
            connection_id="c1", status="running", updated_at=NOW - timedelta(seconds=4),
            health={"overall": "degraded", "market": "healthy", "orders": "unhealthy", "pseudo_open": 3,
                    "real_open": 0, "sets": {"evaluating": 12}, "paper": True, "symbols": ["BTC/USDT:USDT"]},
        ))
    with db.session() as s:
        rows = health.engine_health(s, NOW)
    table = {(r.kind, r.name): (r.status, r.detail) for r in rows}
    assert set(table) == {("engine", "Replay"), ("loop", "Replay › market"), ("loop", "Replay › orders"),
                          ("connection", "Replay")}
    assert table[("engine", "Replay")] == (health.HealthStatus.DEGRADED, "running, degraded, heartbeat 4 s ago")
    assert table[("loop", "Replay › orders")][0] is health.HealthStatus.DOWN


@pytest.mark.asyncio
async def test_the_engine_supervisors_records_are_the_restart_history(db: Database) -> None:
    from cts_desktop.engine.engine_config import SupervisorPolicy
    from cts_desktop.engine.supervisor import Supervisor
    from cts_desktop.events.status import ConnectionStatus, EngineState, HealthStatus, TradeEngineStatus

    status = TradeEngineStatus(
        connection_id="c9", connection_name="Replay", state=EngineState.ERROR, connection=ConnectionStatus.ERROR,
        paper=True, paused=False, started_at=None, loops=(), health=HealthStatus.UNHEALTHY, symbols=(),
        pseudo_open=0, real_open=0, sets_by_status={}, balance_usdt=None, progress=None, progress_text="",
        last_error="feed died",
    )
    calls: list[str] = []

    async def restart(connection_id: str) -> None:
        calls.append(connection_id)
        if len(calls) == 1:
            raise RuntimeError("port busy")

    async def give_up(connection_id: str, message: str) -> None:
        calls.append("gave up")

    policy = SupervisorPolicy(enabled=True, unhealthy_checks=1, cooldown_s=0, max_attempts=2, window_s=3600,
                              check_interval_s=1)
    supervisor = Supervisor(lambda: [status], restart, give_up, lambda: policy)
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    handler = Capture()
    logger = logging.getLogger(health.SUPERVISOR_LOGGER)
    logger.addHandler(handler)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        for _ in range(3):
            await supervisor.check_once()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
    assert calls == ["c9", "c9", "gave up"]
    with db.session() as s:
        rows = [record_to_row(r) for r in captured]
        for offset, row in enumerate(rows):  # distinct, ordered times
            row["ts_ms"] = NOW_MS + offset
        s.execute(insert(m.LogRecord), rows)
    with db.session() as s:
        history = health.restart_history(s)
    assert [(e.outcome, e.attempt, e.max_attempts) for e in history] == [
        ("gave_up", None, None), ("restarted", None, None), ("attempting", 2, 2), ("failed", None, None),
        ("attempting", 1, 2),
    ]
    assert history[-1].reason == "crashed: feed died" and history[-1].connection_id == "c9"
    assert history[3].reason == "port busy"
    assert history[0].level == "CRITICAL" and "crashed: feed died" in history[0].reason
