"""Health of every service the app knows: the database (ping latency), the batched writer, this process and the
machine (CPU, memory), and — once engines run — each engine loop and each connection from the ``engine_state``
rows; plus the auto-restart history.

**Auto-restart marker.** A restart attempt is a log record of category ``engine`` that is either

* written through :func:`log_restart` — logger :data:`RESTART_LOGGER` (``cts.engine.restart``) with
  ``context = {"event": "auto_restart", "attempt", "max_attempts", "reason", "outcome"}`` (structured), or
* written by the engine supervisor (``cts_desktop/engine/supervisor.py``) — logger :data:`SUPERVISOR_LOGGER`
  (``cts.engine.supervisor``) with a message starting with ``auto-restart`` (attempt, outcome and reason are read
  from the message: ``auto-restart attempt 2/3 for X (reason)``, ``… of X succeeded``, ``… failed: …``,
  ``auto-restart: gave up on X …``).

The history is read by ``category = 'engine'`` plus the logger (the ``(category, ts_ms)`` index narrows it), so no
extra table is needed.

**Engine state shape read here** (as ``engine.persistence.write_state`` writes it). ``EngineState.status`` is
``starting | running | paused | stopping | stopped | error``; ``EngineState.health`` holds ``"overall"`` and one
entry per loop, each a status word (``healthy | unknown | degraded | unhealthy``) or ``{"status": …, "detail":
…}``, next to counters (``pseudo_open``, ``sets``, …) that are not health and are skipped; ``updated_at`` is the
engine's last heartbeat.
"""

from __future__ import annotations

import enum
import logging
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from cts_desktop.storage.models import Connection, EngineState, LogRecord

if TYPE_CHECKING:
    from cts_desktop.storage.db import Database
    from cts_desktop.storage.writer import BatchedWriter

RESTART_LOGGER = "cts.engine.restart"
SUPERVISOR_LOGGER = "cts.engine.supervisor"
SUPERVISOR_MARKER = "auto-restart"
RESTART_EVENT = "auto_restart"


# Thresholds for the process/machine rows: above these the row shows "degraded".
CPU_DEGRADED_PCT = 90.0
MEMORY_DEGRADED_PCT = 90.0
DB_PING_DEGRADED_MS = 250.0
WRITER_BACKLOG_DEGRADED = 10_000


class HealthStatus(enum.StrEnum):
    OK = "ok"
    DEGRADED = "degraded"
    DOWN = "down"
    STOPPED = "stopped"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ServiceHealth:
    """One row of the health table: what (``kind``/``name``), its status and a one-line detail."""

    kind: str  # database | writer | process | machine | engine | loop | connection
    name: str
    status: HealthStatus
    detail: str
    value: float | None = None


@dataclass(frozen=True, slots=True)
class RestartEvent:
    ts_ms: int
    connection_id: str | None
    level: str
    message: str
    attempt: int | None
    max_attempts: int | None
    reason: str
    outcome: str


# --- database and writer -----------------------------------------------------------------------------------------


def database_health(db: Database) -> ServiceHealth:
    """``SELECT 1`` round trip (blocking: call it from a worker thread)."""
    from cts_desktop.storage.db import DatabaseError

    try:
        latency = db.ping()
    except DatabaseError as error:
        return ServiceHealth("database", db.dialect, HealthStatus.DOWN, str(error))
    status = HealthStatus.OK if latency < DB_PING_DEGRADED_MS else HealthStatus.DEGRADED
    return ServiceHealth("database", db.dialect, status, f"ping {latency:.1f} ms · {db.display_url}", latency)


def writer_health(writer: BatchedWriter) -> ServiceHealth:
    stats = writer.stats
    pending = writer.pending
    if not stats.healthy:
        status = HealthStatus.DOWN
        detail = f"writes failing ({stats.last_error or 'unknown error'}); {pending} rows waiting"
    else:
        status = HealthStatus.OK if pending < WRITER_BACKLOG_DEGRADED else HealthStatus.DEGRADED
        detail = (
            f"{pending} pending · {stats.written_rows} rows in {stats.written_batches} batches · "
            f"last commit {stats.last_commit_ms:.1f} ms"
        )
    return ServiceHealth("writer", "batched writer", status, detail, float(pending))


# --- process and machine -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SystemLoad:
    """CPU and memory of this process and of the machine."""

    app_cpu_pct: float  # of one core
    app_memory_mb: float
    machine_cpu_pct: float
    machine_memory_pct: float


MIN_SAMPLE_S = 1.0  # CPU is measured over at least this long: a reading asked sooner is the last one again


class LoadSampler:
    """CPU and memory of this process and of the machine through psutil (CPU percentages are measured between
    two calls, so the sampler is kept and asked repeatedly; the first reading is 0 by design).

    The app keeps one (:func:`shared_sampler`) for the Dashboard and Monitoring › Health: psutil's machine CPU
    interval is global, so two samplers asked one after the other made the second read ~0 % over a few
    milliseconds while the first showed the real load."""

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self._process = psutil.Process(os.getpid())
        self._process.cpu_percent(None)
        psutil.cpu_percent(None)
        self._last: SystemLoad | None = None
        self._at = time.monotonic()

    def read(self) -> SystemLoad:
        psutil = self._psutil
        now = time.monotonic()
        if self._last is not None and now - self._at < MIN_SAMPLE_S:
            return self._last
        self._at = now
        self._last = SystemLoad(
            app_cpu_pct=float(self._process.cpu_percent(None)),
            app_memory_mb=self._process.memory_info().rss / (1024 * 1024),
            machine_cpu_pct=float(psutil.cpu_percent(None)),
            machine_memory_pct=float(psutil.virtual_memory().percent),
        )
        return self._last

    def sample(self) -> list[ServiceHealth]:
        psutil = self._psutil
        load = self.read()
        memory = psutil.virtual_memory()
        cores = psutil.cpu_count() or 1

        def level(pct: float, limit: float) -> HealthStatus:
            return HealthStatus.OK if pct < limit else HealthStatus.DEGRADED

        return [
            ServiceHealth("process", "app CPU", level(load.app_cpu_pct / cores, CPU_DEGRADED_PCT),
                          f"{load.app_cpu_pct:.0f} % of one core ({cores} cores)", load.app_cpu_pct),
            ServiceHealth("process", "app memory", HealthStatus.OK, f"{load.app_memory_mb:.0f} MB resident",
                          load.app_memory_mb),
            ServiceHealth("machine", "CPU", level(load.machine_cpu_pct, CPU_DEGRADED_PCT),
                          f"{load.machine_cpu_pct:.0f} % busy", load.machine_cpu_pct),
            ServiceHealth("machine", "memory", level(float(memory.percent), MEMORY_DEGRADED_PCT),
                          f"{memory.percent:.0f} % used of {memory.total / 1024 ** 3:.1f} GB", float(memory.percent)),
        ]


_shared: LoadSampler | None = None


def shared_sampler() -> LoadSampler:
    """The process's one load sampler (see :class:`LoadSampler`)."""
    global _shared
    if _shared is None:
        _shared = LoadSampler()
    return _shared


# --- engines and connections (from engine_state) --------------------------------------------------------------------


_HEALTH_WORDS = {
    "healthy": HealthStatus.OK, "ok": HealthStatus.OK, "degraded": HealthStatus.DEGRADED,
    "unhealthy": HealthStatus.DOWN, "down": HealthStatus.DOWN, "error": HealthStatus.DOWN,
    "stopped": HealthStatus.STOPPED, "unknown": HealthStatus.UNKNOWN,
}


def _loop_status(value: object) -> tuple[HealthStatus, str] | None:
    """The health of one ``EngineState.health`` entry, or None when the entry is a counter, not a health."""
    if isinstance(value, Mapping):
        word, detail = value.get("status"), str(value.get("detail") or "")
    else:
        word, detail = value, ""
    if not isinstance(word, str) or word.lower() not in _HEALTH_WORDS:
        return None
    return _HEALTH_WORDS[word.lower()], detail or word.lower()


def _engine_status(state: EngineState, now: datetime, stale_after: timedelta) -> tuple[HealthStatus, str]:
    if state.status == "error":
        return HealthStatus.DOWN, f"error: {state.last_error or 'no message'}"
    if state.status in ("stopped", ""):
        return HealthStatus.STOPPED, "stopped"
    age = now - _aware(state.updated_at)
    if age > stale_after:
        return HealthStatus.DEGRADED, f"{state.status}, no heartbeat for {int(age.total_seconds())} s"
    overall = _loop_status((state.health or {}).get("overall"))
    status = HealthStatus.OK if overall is None or overall[0] is HealthStatus.UNKNOWN else overall[0]
    word = f", {overall[1]}" if overall is not None else ""
    return status, f"{state.status}{word}, heartbeat {int(age.total_seconds())} s ago"


def engine_health(
    session: Session, now: datetime, stale_after: timedelta = timedelta(minutes=5)
) -> list[ServiceHealth]:
    """One row per engine (``'*'`` is the coordinator) and one per loop it reports; then each enabled connection
    with the state of its engine (or "no engine" when none has run yet)."""
    rows: list[ServiceHealth] = []
    states = {s.connection_id: s for s in session.execute(select(EngineState)).scalars()}
    names = {str(conn_id): str(name) for conn_id, name in session.execute(select(Connection.id, Connection.name))}
    for conn_id, state in sorted(states.items()):
        name = "coordinator" if conn_id == "*" else names.get(conn_id, conn_id)
        status, detail = _engine_status(state, now, stale_after)
        rows.append(ServiceHealth("engine", name, status, detail))
        for loop, value in sorted((state.health or {}).items()):
            judged = _loop_status(value)
            if judged is None or loop == "overall":
                continue
            rows.append(ServiceHealth("loop", f"{name} › {loop}", judged[0], judged[1]))
    for conn in session.execute(
        select(Connection).where(Connection.is_enabled.is_(True)).order_by(Connection.name)
    ).scalars():
        conn_state = states.get(conn.id)
        test = "never tested" if conn.last_test_ok is None else ("test passed" if conn.last_test_ok else "test failed")
        if conn_state is None:
            rows.append(ServiceHealth("connection", conn.name, HealthStatus.STOPPED, f"no engine yet · {test}"))
            continue
        status, detail = _engine_status(conn_state, now, stale_after)
        rows.append(ServiceHealth("connection", conn.name, status, f"{detail} · {test}"))
    return rows


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- auto-restart history ----------------------------------------------------------------------------------------


def log_restart(
    connection_id: str, attempt: int, max_attempts: int, reason: str, outcome: str, level: int = logging.WARNING
) -> None:
    """Record one auto-restart attempt (``outcome``: restarted | failed | gave_up) with the marker above."""
    logging.getLogger(RESTART_LOGGER).log(
        logging.CRITICAL if outcome == "gave_up" else level,
        "auto-restart of engine %s: attempt %d of %d (%s) → %s", connection_id, attempt, max_attempts, reason,
        outcome,
        extra={
            "connection_id": connection_id,
            "context": {
                "event": RESTART_EVENT, "attempt": attempt, "max_attempts": max_attempts, "reason": reason,
                "outcome": outcome,
            },
        },
    )


def restart_history(session: Session, limit: int = 100) -> list[RestartEvent]:
    """Auto-restart attempts (both markers above), newest first."""
    rows = session.execute(
        select(LogRecord)
        .where(
            LogRecord.category == "engine",
            or_(
                LogRecord.logger == RESTART_LOGGER,
                and_(LogRecord.logger == SUPERVISOR_LOGGER, LogRecord.message.like(f"{SUPERVISOR_MARKER}%")),
            ),
        )
        .order_by(LogRecord.ts_ms.desc(), LogRecord.id.desc())
        .limit(limit)
    ).scalars()
    events = []
    for row in rows:
        ctx: dict[str, Any] = row.context or {}
        if ctx.get("event") == RESTART_EVENT:
            attempt, max_attempts = _int(ctx.get("attempt")), _int(ctx.get("max_attempts"))
            reason, outcome = str(ctx.get("reason") or ""), str(ctx.get("outcome") or "")
        else:
            attempt, max_attempts, reason, outcome = _parse_supervisor(row.message)
        events.append(RestartEvent(row.ts_ms, row.connection_id, row.level, row.message, attempt, max_attempts,
                                   reason, outcome))
    return events


_ATTEMPT = re.compile(r"attempt (\d+)/(\d+) for .*?(?:\((.*)\))?$")


def _parse_supervisor(message: str) -> tuple[int | None, int | None, str, str]:
    """(attempt, max attempts, reason, outcome) from one of the supervisor's auto-restart messages."""
    found = _ATTEMPT.search(message)
    if found:
        return int(found.group(1)), int(found.group(2)), found.group(3) or "", "attempting"
    if "gave up" in message:
        reason = message[message.rfind("(") + 1:-1] if message.endswith(")") else ""
        return None, None, reason, "gave_up"
    if message.rstrip().endswith("succeeded"):
        return None, None, "", "restarted"
    if " failed: " in message:
        return None, None, message.split(" failed: ", 1)[1], "failed"
    return None, None, "", ""


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def now_utc() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return int(time.time() * 1000)
