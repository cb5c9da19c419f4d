"""Many rows through one statement at the driver's speed: ``executemany`` of a statement compiled once per
dialect, without SQLAlchemy's per-row parameter processing (for the hundreds of thousands of rows a warm-up writes:
the sets a worker stores, the candles a start downloads). Only for statements whose parameters need no
conversion by SQLAlchemy (text, numbers, values already converted for the driver)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

_COMPILED: dict[tuple[Any, str], Any] = {}  # (statement, dialect name) → compiled once


def execute_many(session: Session, statement: Any, names: Sequence[str], rows: Sequence[Sequence[Any]]) -> int:
    """``statement`` once per row of ``rows`` (each row: the values of its bound parameters ``names``, in that
    order). Returns the rows changed, -1 where the driver cannot count an executemany."""
    if not rows:
        return 0
    connection = session.connection()
    dialect = connection.dialect
    compiled = _COMPILED.get((statement, dialect.name))
    if compiled is None:
        compiled = _COMPILED[(statement, dialect.name)] = statement.compile(dialect=dialect)
    args: Sequence[Any]
    if not compiled.positional:  # named parameters (psycopg): one mapping per row
        args = [dict(zip(names, row, strict=True)) for row in rows]
    else:  # "?" in the order the statement names them (a name may be used twice)
        order = tuple(compiled.positiontup or ())
        if order == tuple(names):
            args = rows
        else:
            at = [names.index(name) for name in order]
            args = [tuple(row[i] for i in at) for row in rows]
    count = connection.exec_driver_sql(compiled.string, args).rowcount
    return int(count) if dialect.supports_sane_multi_rowcount else -1
