"""Questions the Monitoring tab asks of the ``logs`` table: counts, the hourly error rate, top errors, the recent
activity, filtered pages for the log viewer and a filtered export to CSV or JSON.

Everything here is a plain function of a SQLAlchemy session (no Qt, no asyncio); the application layer runs it in a
worker thread. Every query is bounded by time or keyset so it walks an index of ``logs`` — ``(levelno, ts_ms)``,
``(category, ts_ms)``, ``(connection_id, ts_ms)`` or ``ts_ms`` — and a 100k-row table stays quick. Time is UTC
milliseconds, like ``LogRecord.ts_ms``.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from cts_desktop.storage.models import LogRecord

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
ERROR_LEVELNO = logging.ERROR
CRITICAL_LEVELNO = logging.CRITICAL

# Categories whose records make up the recent-activity timeline: engine events, connection state changes,
# orders and exchange calls (the exchange layer logs every order it places, amends or cancels) and toasts.
TIMELINE_CATEGORIES: tuple[str, ...] = ("engine", "connection", "exchange", "toast")

EXPORT_COLUMNS: tuple[str, ...] = (
    "id", "time_utc", "ts_ms", "level", "category", "logger", "connection_id", "symbol", "message", "context",
    "exc_text",
)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log record as the UI shows it (every column, the context already decoded)."""

    id: int
    ts_ms: int
    levelno: int
    level: str
    category: str
    logger: str
    connection_id: str | None
    symbol: str | None
    message: str
    context: dict[str, Any] | None
    exc_text: str | None

    @classmethod
    def of(cls, row: LogRecord) -> LogEntry:
        return cls(
            row.id, row.ts_ms, row.levelno, row.level, row.category, row.logger, row.connection_id, row.symbol,
            row.message, row.context, row.exc_text,
        )

    @property
    def cursor(self) -> tuple[int, int]:
        """The keyset position of this row in the viewer's order (newest first)."""
        return (self.ts_ms, self.id)


@dataclass(frozen=True, slots=True)
class LogFilter:
    """The log viewer's filters; an empty filter matches every record.

    ``min_level`` is a logging level number (records at or above it); ``connection_id`` matches exactly;
    ``text`` is a case-insensitive substring of the message.
    """

    min_level: int = 0
    category: str | None = None
    connection_id: str | None = None
    text: str = ""
    since_ms: int | None = None
    until_ms: int | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.min_level > 0:
            found.append(LogRecord.levelno >= self.min_level)
        if self.category:
            found.append(LogRecord.category == self.category)
        if self.connection_id:
            found.append(LogRecord.connection_id == self.connection_id)
        if self.since_ms is not None:
            found.append(LogRecord.ts_ms >= self.since_ms)
        if self.until_ms is not None:
            found.append(LogRecord.ts_ms < self.until_ms)
        text = self.text.strip()
        if text:
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            found.append(LogRecord.message.ilike(f"%{escaped}%", escape="\\"))
        return found


@dataclass(frozen=True, slots=True)
class LogStats:
    """Counts of the records in [since_ms, until_ms): all, per level name, per category, errors per category."""

    since_ms: int
    until_ms: int
    total: int
    by_level: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    errors_by_category: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HourBucket:
    """Errors (ERROR and above) and criticals logged in the clock hour starting at ``start_ms``."""

    start_ms: int
    errors: int
    criticals: int


@dataclass(frozen=True, slots=True)
class TopError:
    message: str
    count: int
    last_ts_ms: int


# --- statistics ------------------------------------------------------------------------------------------------


def log_stats(session: Session, now_ms: int, window_ms: int = DAY_MS) -> LogStats:
    """Counts by level and by category over the last ``window_ms`` (24 h by default).

    Each count is its own GROUP BY on the column an index starts with — ``(levelno, ts_ms)`` and
    ``(category, ts_ms)`` cover those queries, so no table row is read for them. The always-true range on the
    leading column (``levelno >= 0``, ``category >= ''``) is what lets SQLite pick the covering index instead of
    the bare ``ts_ms`` index plus a table lookup per row (5 ms instead of 60 ms at 100k rows).
    """
    since = now_ms - window_ms
    in_window = and_(LogRecord.ts_ms >= since, LogRecord.ts_ms <= now_ms)
    by_level: dict[str, int] = {}  # most severe first
    for levelno, count in session.execute(
        select(LogRecord.levelno, func.count())
        .where(LogRecord.levelno >= 0, in_window)
        .group_by(LogRecord.levelno)
        .order_by(LogRecord.levelno.desc())
    ):
        name = level_name(int(levelno))
        by_level[name] = by_level.get(name, 0) + int(count)
    by_category = {
        str(category): int(count)
        for category, count in session.execute(
            select(LogRecord.category, func.count())
            .where(LogRecord.category >= "", in_window)
            .group_by(LogRecord.category)
        )
    }
    errors_by_category = {
        str(category): int(count)
        for category, count in session.execute(
            select(LogRecord.category, func.count())
            .where(in_window, LogRecord.levelno >= ERROR_LEVELNO)
            .group_by(LogRecord.category)
        )
    }
    return LogStats(
        since_ms=since, until_ms=now_ms, total=sum(by_level.values()), by_level=by_level,
        by_category=_sorted(by_category), errors_by_category=_sorted(errors_by_category),
    )


def level_name(levelno: int) -> str:
    """The stdlib level name of a number (custom numbers read "Level 25", as logging itself names them)."""
    return str(logging.getLevelName(levelno))


def hour_window_start(now_ms: int, hours: int = 24) -> int:
    """Start of the first of ``hours`` clock-hour buckets; the last bucket is the current, unfinished hour."""
    return (now_ms // HOUR_MS - (hours - 1)) * HOUR_MS


def hourly_errors(session: Session, now_ms: int, hours: int = 24) -> list[HourBucket]:
    """Errors per clock hour over the last ``hours`` hours (oldest first; hours without errors are zero)."""
    start = hour_window_start(now_ms, hours)
    # Grouped by the output labels: PostgreSQL cannot match two copies of an expression with bound parameters.
    bucket = ((LogRecord.ts_ms - start) // HOUR_MS).label("bucket")
    critical = (LogRecord.levelno >= CRITICAL_LEVELNO).label("critical")
    rows = session.execute(
        select(bucket, critical, func.count())
        .where(LogRecord.levelno >= ERROR_LEVELNO, LogRecord.ts_ms >= start, LogRecord.ts_ms <= now_ms)
        .group_by(bucket, critical)
    )
    errors = [0] * hours
    criticals = [0] * hours
    for index, is_critical, count in rows:
        slot = int(index)
        if 0 <= slot < hours:
            errors[slot] += int(count)
            if is_critical:
                criticals[slot] += int(count)
    return [HourBucket(start + i * HOUR_MS, errors[i], criticals[i]) for i in range(hours)]


def top_errors(session: Session, now_ms: int, window_ms: int = DAY_MS, limit: int = 10) -> list[TopError]:
    """The most frequent error messages (ERROR and above) of the window, most frequent first."""
    count = func.count().label("n")
    rows = session.execute(
        select(LogRecord.message, count, func.max(LogRecord.ts_ms))
        .where(LogRecord.levelno >= ERROR_LEVELNO, LogRecord.ts_ms >= now_ms - window_ms, LogRecord.ts_ms <= now_ms)
        .group_by(LogRecord.message)
        .order_by(count.desc(), func.max(LogRecord.ts_ms).desc())
        .limit(limit)
    )
    return [TopError(str(m), int(n), int(last)) for m, n, last in rows]


def critical_errors(session: Session, now_ms: int, window_ms: int = HOUR_MS, limit: int = 100) -> list[LogEntry]:
    """CRITICAL records of the last hour, newest first."""
    rows = session.execute(
        select(LogRecord)
        .where(LogRecord.levelno >= CRITICAL_LEVELNO, LogRecord.ts_ms >= now_ms - window_ms)
        .order_by(LogRecord.ts_ms.desc(), LogRecord.id.desc())
        .limit(limit)
    ).scalars()
    return [LogEntry.of(r) for r in rows]


def timeline(
    session: Session, limit: int = 200, categories: Iterable[str] = TIMELINE_CATEGORIES
) -> list[LogEntry]:
    """The newest records of the activity categories, newest first."""
    rows = session.execute(
        select(LogRecord)
        .where(LogRecord.category.in_(tuple(categories)))
        .order_by(LogRecord.ts_ms.desc(), LogRecord.id.desc())
        .limit(limit)
    ).scalars()
    return [LogEntry.of(r) for r in rows]


def log_connections(session: Session, limit: int = 500) -> list[str]:
    """Connection ids that appear in the logs (for the viewer's connection filter), walked on their index."""
    rows = session.execute(
        select(LogRecord.connection_id)
        .where(LogRecord.connection_id.is_not(None))
        .group_by(LogRecord.connection_id)
        .order_by(LogRecord.connection_id)
        .limit(limit)
    ).scalars()
    return [str(r) for r in rows]


# --- the log viewer ----------------------------------------------------------------------------------------------


def _after(cursor: tuple[int, int] | None) -> list[ColumnElement[bool]]:
    if cursor is None:
        return []
    ts, row_id = cursor
    return [or_(LogRecord.ts_ms < ts, and_(LogRecord.ts_ms == ts, LogRecord.id < row_id))]


def log_page(
    session: Session, flt: LogFilter, after: tuple[int, int] | None = None, limit: int = 200
) -> list[LogEntry]:
    """One page of matching records, newest first, continuing after ``after`` (keyset paging: a page deep in
    100k rows costs the same as the first one)."""
    rows = session.execute(
        select(LogRecord)
        .where(*flt.conditions(), *_after(after))
        .order_by(LogRecord.ts_ms.desc(), LogRecord.id.desc())
        .limit(limit)
    ).scalars()
    return [LogEntry.of(r) for r in rows]


def count_logs(session: Session, flt: LogFilter) -> int:
    return int(session.execute(select(func.count()).select_from(LogRecord).where(*flt.conditions())).scalar_one())


def iter_logs(session: Session, flt: LogFilter, batch: int = 2000) -> Iterator[LogEntry]:
    """Every matching record, newest first, fetched page by page (constant memory for an export)."""
    cursor: tuple[int, int] | None = None
    while True:
        page = log_page(session, flt, cursor, batch)
        yield from page
        if len(page) < batch:
            return
        cursor = page[-1].cursor


# --- export -------------------------------------------------------------------------------------------------------


def time_text(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2026-11-25T19:16:29.123Z."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts_ms % 1000:03d}Z"


def export_row(entry: LogEntry) -> dict[str, Any]:
    return {
        "id": entry.id, "time_utc": time_text(entry.ts_ms), "ts_ms": entry.ts_ms, "level": entry.level,
        "category": entry.category, "logger": entry.logger, "connection_id": entry.connection_id,
        "symbol": entry.symbol, "message": entry.message, "context": entry.context, "exc_text": entry.exc_text,
    }


def write_csv(entries: Iterable[LogEntry], out: IO[str]) -> int:
    """CSV with a header row; the context is a JSON text column. Returns the number of records written."""
    writer = csv.DictWriter(out, fieldnames=list(EXPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    count = 0
    for entry in entries:
        row = export_row(entry)
        row["context"] = json.dumps(row["context"], ensure_ascii=False) if row["context"] is not None else ""
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
        count += 1
    return count


def write_json(entries: Iterable[LogEntry], out: IO[str], flt: LogFilter | None = None) -> int:
    """A JSON document ``{"format", "filter", "records": [...]}`` written record by record (constant memory)."""
    header = {"format": "cts-desktop-logs", "version": 1, "filter": _filter_doc(flt or LogFilter())}
    text = json.dumps(header, ensure_ascii=False)
    out.write(text[:-1] + ', "records": [')
    count = 0
    for entry in entries:
        out.write(("\n" if count == 0 else ",\n") + json.dumps(export_row(entry), ensure_ascii=False))
        count += 1
    out.write("\n]}\n")
    return count


def _filter_doc(flt: LogFilter) -> dict[str, Any]:
    return {
        "min_level": logging.getLevelName(flt.min_level) if flt.min_level else None, "category": flt.category,
        "connection_id": flt.connection_id, "text": flt.text or None, "since_ms": flt.since_ms,
        "until_ms": flt.until_ms,
    }


def _sorted(counts: dict[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True, slots=True)
class MonitoringOverview:
    """Everything the Monitoring overview shows, read in one worker-thread hop."""

    now_ms: int
    stats: LogStats
    hourly: list[HourBucket]
    top: list[TopError]
    critical: list[LogEntry]


def monitoring_overview(session: Session, now_ms: int) -> MonitoringOverview:
    return MonitoringOverview(
        now_ms=now_ms,
        stats=log_stats(session, now_ms),
        hourly=hourly_errors(session, now_ms),
        top=top_errors(session, now_ms),
        critical=critical_errors(session, now_ms),
    )
