"""The database size cap (System › Database › Overall database size): over the cap, the oldest market data and
history are deleted until the database is under 90 % of it, then the space is given back.

Priority (first what is cheapest to lose): recorded candles (fetched again from the exchange when needed), log
records, cycle metrics, then stored pseudo results (a set's history; its statistics stay). Each kind is deleted
oldest first, as much as the measured excess needs, before the next kind is touched. Orders, fills, positions,
funding, balances, sets and settings are never deleted: money must stay reproducible from stored rows.

The size is what the data takes: SQLite counts its used pages (pages on the free list are reusable and are
returned to the file system by ``PRAGMA incremental_vacuum`` — a database made before this switches to
``auto_vacuum=INCREMENTAL`` with one full ``VACUUM``, done the first time space must be given back); PostgreSQL
counts the tables of the app's schema, and ``VACUUM FULL`` of the tables cleaned returns their space.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Candle, ConfigSet, CycleMetric, LogRecord, PseudoResult

log = logging.getLogger("cts.storage.size")

GB = 1024**3
TARGET_SHARE = 0.9  # cleaned until the data is under this share of the cap
VACUUM_STEP_PAGES = 2_000  # pages given back per incremental step (short write transactions)
MAX_ROUNDS = 8  # deletion rounds per kind (each re-measures)

# (name shown, table) in the order they are deleted; never a trading table
PRIORITY: tuple[tuple[str, str], ...] = (
    ("candles", "candles"), ("logs", "logs"), ("cycle metrics", "cycle_metrics"), ("pseudo results", "pseudo_results"),
)


@dataclass(slots=True)
class CapReport:
    cap_bytes: int
    size_before: int
    size_after: int
    deleted: dict[str, int] = field(default_factory=dict)
    reclaimed_bytes: int = 0

    @property
    def over(self) -> bool:
        return self.size_before > self.cap_bytes

    def text(self) -> str:
        """One line for the log and the Database page."""
        if not self.over:
            return f"database {_gb(self.size_before)} of {_gb(self.cap_bytes)} allowed"
        rows = ", ".join(f"{n:,} {name}" for name, n in self.deleted.items() if n) or "nothing deletable"
        return (f"database was {_gb(self.size_before)}, over its cap of {_gb(self.cap_bytes)}: deleted the oldest "
                f"{rows}; now {_gb(self.size_after)}, {_gb(self.reclaimed_bytes)} given back to the disk")


def _gb(size: int) -> str:
    return f"{size / GB:.2f} GB" if size >= GB / 100 else f"{size / 1024**2:.1f} MB"


# --- measuring ---------------------------------------------------------------------------------------------------

def data_bytes(db: Database) -> int:
    """What the app's data takes now: SQLite's used pages, PostgreSQL's tables (with indexes and TOAST)."""
    with db.engine.connect() as conn:
        if db.is_sqlite:
            pages = int(conn.execute(text("PRAGMA page_count")).scalar_one())
            free = int(conn.execute(text("PRAGMA freelist_count")).scalar_one())
            return (pages - free) * int(conn.execute(text("PRAGMA page_size")).scalar_one())
        return int(conn.execute(text(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'")).scalar_one())


def file_bytes(db: Database) -> int:
    """What the database takes on disk (SQLite: the file's pages; PostgreSQL: as :func:`data_bytes`)."""
    if not db.is_sqlite:
        return data_bytes(db)
    with db.engine.connect() as conn:
        pages = int(conn.execute(text("PRAGMA page_count")).scalar_one())
        return pages * int(conn.execute(text("PRAGMA page_size")).scalar_one())


def _table_bytes(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        if db.is_sqlite:
            try:  # the dbstat virtual table (compiled into the usual SQLite builds)
                return int(conn.execute(text("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = :t"),
                                        {"t": table}).scalar_one())
            except Exception:
                return 0
        return int(conn.execute(text("SELECT pg_total_relation_size(:t)"), {"t": table}).scalar_one())


# --- deleting ------------------------------------------------------------------------------------------------------

def _oldest(session: Session, table: str, rows: int) -> int:
    """Delete about ``rows`` of the oldest rows of ``table``; returns how many went."""
    if table == "candles":
        cut = session.execute(select(Candle.ts).order_by(Candle.ts).offset(rows).limit(1)).scalar_one_or_none()
        where = Candle.ts < cut if cut is not None else Candle.ts.is_not(None)
        return int(getattr(session.execute(delete(Candle).where(where)), "rowcount", 0) or 0)
    model: Any = {"logs": LogRecord, "cycle_metrics": CycleMetric, "pseudo_results": PseudoResult}[table]
    cut_id = session.execute(select(model.id).order_by(model.id).offset(rows).limit(1)).scalar_one_or_none()
    where = model.id < cut_id if cut_id is not None else model.id.is_not(None)
    deleted = int(getattr(session.execute(delete(model).where(where)), "rowcount", 0) or 0)
    if table == "pseudo_results" and deleted:  # each set's count of stored results follows
        counted = select(func.count()).where(PseudoResult.set_id == ConfigSet.id).scalar_subquery()
        session.execute(update(ConfigSet).values(stored_results=counted))
    return deleted


def _rows(db: Database, table: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def enforce_cap(db: Database, cap_bytes: int) -> CapReport:
    """Delete by :data:`PRIORITY` until the data is under 90 % of ``cap_bytes``; then give the space back."""
    before = data_bytes(db)
    report = CapReport(cap_bytes, before, before)
    if before <= cap_bytes:
        return report
    target = int(cap_bytes * TARGET_SHARE)
    file_before = file_bytes(db)
    for name, table in PRIORITY:
        for _round in range(MAX_ROUNDS):
            size = data_bytes(db)
            count = _rows(db, table)
            if size < target or count == 0:
                break
            per_row = max(_table_bytes(db, table) / count, 1.0)
            want = min(count, max(1, math.ceil((size - target) / per_row * 1.05)))  # a little extra: page slack
            with db.session() as session:
                report.deleted[name] = report.deleted.get(name, 0) + _oldest(session, table, want)
            if not db.is_sqlite:
                _vacuum_full(db, table)  # PostgreSQL frees a table's space (and shows it) only this way
        if data_bytes(db) < target:
            break
    if db.is_sqlite:
        reclaim_sqlite(db)
    report.size_after = data_bytes(db)
    report.reclaimed_bytes = max(file_before - file_bytes(db), 0)
    return report


# --- giving space back ---------------------------------------------------------------------------------------------

def _vacuum_full(db: Database, table: str) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM FULL {table}")


def reclaim_sqlite(db: Database) -> None:
    """Give the free pages back to the disk: incrementally, or — a file made before auto_vacuum was incremental —
    with the one full VACUUM that switches it."""
    with db.engine.connect() as conn:
        mode = int(conn.execute(text("PRAGMA auto_vacuum")).scalar_one())
    if mode == 2:
        incremental_vacuum(db)
        return
    log.info("switching the database file to incremental vacuum (one full VACUUM)")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("PRAGMA auto_vacuum=INCREMENTAL")
        conn.exec_driver_sql("VACUUM")


def incremental_vacuum(db: Database, steps: int | None = None) -> int:
    """SQLite: return free pages to the file system, :data:`VACUUM_STEP_PAGES` per short transaction (between the
    writer's batches, which wait at most one step); returns the pages given back."""
    given = 0
    while steps is None or steps > 0:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            free = int(conn.execute(text("PRAGMA freelist_count")).scalar_one())
            if free == 0:
                return given
            # run to completion: Python's execute() steps a pragma once (one page); executescript() steps it through
            raw: Any = conn.connection.driver_connection
            raw.executescript(f"PRAGMA incremental_vacuum({VACUUM_STEP_PAGES});")
        given += min(free, VACUUM_STEP_PAGES)
        steps = None if steps is None else steps - 1
    return given
