"""The configuration-set rows of the database, written from a book: their statistics as stored, their ids, the SQL.

:class:`~cts_desktop.engine.persistence.EngineStore` schedules what to store on the engine's loop and hands each
step to the batched writer's thread; a warm-up worker that has the book to itself stores at once
(:func:`store_sets_now`). A set's id is looked up once and kept (:class:`SetIds`); known sets are updated and new
ones inserted through the driver's executemany, their statistics already JSON text.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import Table, Text, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from cts_desktop.domain.book_stats import FIGURE_NAMES, WINDOWS, stored_figures
from cts_desktop.domain.gates import SetStatus
from cts_desktop.engine.pipeline import ClosedResult, SetKey, SetKeys, SymbolPipeline
from cts_desktop.storage.bulk import execute_many
from cts_desktop.storage.db import after_commit
from cts_desktop.storage.models import ConfigSet
from cts_desktop.storage.results import HistoryLimits, append_results

log = logging.getLogger("cts.engine.persist")

ROWS_PER_STEP = 1024  # sets per persistence step on the loop (statistics, layer): a few ms each
STAT_COLUMNS = tuple(f"{name}_{w}" for w in WINDOWS for name in FIGURE_NAMES)
_SORTED = np.argsort(STAT_COLUMNS, kind="stable")  # JsonText sorts the keys
_STATS_TEMPLATE = "{" + ",".join(f'"{STAT_COLUMNS[i]}":%s' for i in _SORTED) + "}"


class SetIds:
    """Database ids of one book's sets by row, -1 while unknown, learnt by the writer thread after each commit.

    A set's id is looked up once per book: looking it up on every store (one SELECT per variant, returning all ~900
    sets of every touched variant) cost the writer ~0.7 ms of Python per stored set in steady trading — three
    quarters of a core — and the GUI's event loop waited for those GIL slices.
    """

    def __init__(self, size: int) -> None:
        self.ids = np.full(size, -1, dtype=np.int64)

    def get(self, rows: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        ids = self.ids  # one reference: the loop may swap in a larger array meanwhile
        found = np.full(len(rows), -1, dtype=np.int64)
        inside = rows < len(ids)
        found[inside] = ids[rows[inside]]
        return found

    def remember(self, rows: npt.NDArray[np.int64], ids: npt.NDArray[np.int64]) -> None:
        array = self.ids
        inside = (rows < len(array)) & (ids >= 0)
        array[rows[inside]] = ids[inside]

    def forget(self) -> None:
        self.ids = np.full(len(self.ids), -1, dtype=np.int64)

    def fit(self, size: int) -> None:
        if size > len(self.ids):
            grown = np.full(size, -1, dtype=np.int64)
            grown[: len(self.ids)] = self.ids
            self.ids = grown


@dataclass(slots=True)
class SetRows:
    """The changed sets of one step, as plain values (the writer thread never touches the book)."""

    rows: npt.NDArray[np.int64]
    source: SetKeys  # each row's identity, derived where needed (the writer's thread)
    status: list[int]
    layers: list[str]
    totals: list[int]
    figures: npt.NDArray[np.float64]  # (sets, len(STAT_COLUMNS)), rounded to 6 decimals, NaN/inf where undefined
    # (Base sets: not computed, see ``stats_json``)
    results: dict[int, list[ClosedResult]] = field(default_factory=dict)  # by book row
    ids: SetIds | None = None  # the book's id cache (None: look every id up)

    def stats_json(self) -> list[str]:
        """Each set's statistics as the JSON text the ``stats`` column stores (``JsonText``: sorted keys, compact,
        undefined figures as null), for all sets with one encoder call. A ``json.dumps`` per set was 40 % of the
        writer's time per stored set, and the GUI's event loop waits for the writer's every GIL slice.

        Only Main and Real sets carry their figures; a Base set stores ``{}``: Base sets are nine in ten of the
        hundreds of thousands of rows, their ~1 KB of figures was most of the database (issue 18), and nothing reads
        them — the figures of any set are computed from its book when needed."""
        out = ["{}"] * len(self.rows)
        promoted = [i for i, layer in enumerate(self.layers) if layer != "base"]
        if not promoted:
            return out
        figures = self.figures[promoted][:, _SORTED]
        values = figures.astype(object)
        values[~np.isfinite(figures)] = None
        rows = json.dumps(values.tolist(), separators=(",", ":"), allow_nan=False)[2:-2].split("],[")
        for i, row in zip(promoted, rows, strict=True):
            out[i] = _STATS_TEMPLATE % tuple(row.split(","))
        return out


def set_rows(pipeline: SymbolPipeline, rows: npt.NDArray[np.int64]) -> SetRows:
    """Statistics, status, layer and identity of ``rows`` of the pipeline's book, now."""
    book = pipeline.book
    layers = pipeline.layer_of(rows)
    figures = np.full((len(rows), len(STAT_COLUMNS)), np.nan)
    promoted = np.asarray([layer != "base" for layer in layers], dtype=np.bool_)
    if promoted.any():  # the figures only Main and Real sets store (SetRows.stats_json)
        with np.errstate(invalid="ignore"):
            figures[promoted] = np.round(stored_figures(book, rows[promoted]), 6)
    return SetRows(
        rows=rows, source=pipeline.key_source(), status=book.status[rows].tolist(), layers=layers,
        totals=book.total[rows].tolist(), figures=figures,
    )


def store_sets_now(session_scope: Callable[[], Any], connection_id: str, pipeline: SymbolPipeline,
                   rows: npt.NDArray[np.int64], limits: HistoryLimits,
                   stopped: Callable[[], bool] = lambda: False) -> npt.NDArray[np.int64] | None:
    """Store the sets ``rows`` of the pipeline's book now, :data:`ROWS_PER_STEP` per transaction
    (``session_scope()`` gives one), for a process that has the book to itself: a warm-up worker stores what it
    computed, so neither the GUI process's loop (statistics) nor its writer thread (SQL) spends time on the
    hundreds of thousands of sets a warm-up changes. Returns each row's set id; None when ``stopped()`` turned
    true between two transactions.

    The symbol's stored ids are read once before (one SELECT) and once after (the new sets' ids): the sets in
    between are plain UPDATEs and INSERTs through the driver's executemany — looking ids up per variant and step,
    and matching an INSERT's RETURNING rows to their sets, was half of a worker's job per symbol."""
    source = pipeline.key_source()
    ids = SetIds(len(pipeline.book))
    with session_scope() as session:
        _learn_symbol_ids(session, connection_id, source, ids)
    for start in range(0, len(rows), ROWS_PER_STEP):
        if stopped():
            return None
        batch = set_rows(pipeline, rows[start:start + ROWS_PER_STEP])
        batch.ids = ids
        with session_scope() as session:
            write_sets(session, connection_id, batch, limits, complete_ids=True)
    if (ids.get(rows) < 0).any():  # the sets inserted
        with session_scope() as session:
            _learn_symbol_ids(session, connection_id, source, ids)
    return ids.get(rows)


def _learn_symbol_ids(session: Session, connection_id: str, source: SetKeys, ids: SetIds) -> None:
    """The ids of every stored set of ``source``'s symbol that is a row of its book, into ``ids``: one SELECT,
    matched by variant and exit configuration (the row is ``variant × n_cfg + config``)."""
    variants = {text: v for v, text in source.variants.items()}
    configs = {exits: c for c, exits in enumerate(source.configs)}
    found_rows: list[int] = []
    found_ids: list[int] = []
    result = session.execute(select(_T.c.id, *(_T.c[name] for name in _IDENTITY[1:])).where(
        _T.c.connection_id == connection_id, _T.c.symbol == source.symbol))
    for set_id, kind, params, direction, *exits in result:
        v = variants.get((kind, params, direction))
        c = configs.get(tuple(exits))
        if v is not None and c is not None:
            found_rows.append(v * source.n_cfg + c)
            found_ids.append(set_id)
    if found_rows:
        ids.remember(np.asarray(found_rows, dtype=np.int64), np.asarray(found_ids, dtype=np.int64))


# --- SQL (in the writer's thread) ------------------------------------------------------------------------------

_T: Table = ConfigSet.__table__  # type: ignore[assignment]  # a mapped class's table is a Table
_IDENTITY = ("symbol", "indication_type", "params", "direction", "tp", "sl", "trail_start", "trail_stop")
_UPDATE = (
    update(_T)
    .where(_T.c.id == bindparam("set_id"))
    .values(
        status=bindparam("new_status"), layer=bindparam("new_layer"),
        stats=bindparam("new_stats", type_=Text()),  # JSON text already (SetRows.stats_json)
        updated_at=bindparam("new_updated_at", type_=_T.c.updated_at.type),  # converted once per step
        # a new book (other settings) counts from zero again: the stored total never goes down
        total_closed=case((_T.c.total_closed > bindparam("new_total"), _T.c.total_closed),
                          else_=bindparam("new_total")),
    )
)

# RETURNING the identity, not ``sort_by_parameter_order``: with that SQLite inserts one row per statement, here
# a multi-row INSERT per batch; the ids are matched to the sets by their identity
_INSERT = (insert(_T).values(stats=bindparam("stats_text", type_=Text()))
           .returning(_T.c.id, *(_T.c[name] for name in _IDENTITY)))
_UPDATE_NAMES = ("set_id", "new_status", "new_layer", "new_total", "new_stats", "new_updated_at")
_INSERT_PLAIN = insert(_T).values(  # the same columns, through the driver's executemany (store_sets_now)
    connection_id=bindparam("connection_id"), **{name: bindparam(name) for name in _IDENTITY},
    status=bindparam("status"), layer=bindparam("layer"), total_closed=bindparam("total_closed"),
    stored_results=bindparam("stored_results"), stats=bindparam("stats_text", type_=Text()),
    updated_at=bindparam("stamp", type_=_T.c.updated_at.type))
# in the order the compiled statement binds them (the table's), so rows go to the driver as they are built
_INSERT_PLAIN_NAMES = ("connection_id", *_IDENTITY, "status", "layer", "stored_results", "total_closed",
                       "stats_text", "stamp")


def _key_of(row: Any) -> SetKey:
    return SetKey(*(getattr(row, name) for name in _IDENTITY))


def _known_ids(session: Session, connection_id: str, keys: list[SetKey]) -> dict[SetKey, int]:
    """Ids of the stored sets among ``keys``: one SELECT per variant (its sets share symbol, type, parameters and
    direction), not one per set."""
    variants = {(k.symbol, k.indication_type, k.params, k.direction) for k in keys}
    wanted = set(keys)
    found: dict[SetKey, int] = {}
    for symbol, kind, params, direction in sorted(variants):
        rows = session.execute(
            select(_T.c.id, *(_T.c[name] for name in _IDENTITY)).where(
                _T.c.connection_id == connection_id, _T.c.symbol == symbol, _T.c.indication_type == kind,
                _T.c.params == params, _T.c.direction == direction,
            )
        )
        for row in rows:
            key = _key_of(row)
            if key in wanted:
                found[key] = row.id
    return found


def sets_writer(connection_id: str, batch: SetRows, limits: HistoryLimits) -> Callable[[Session], None]:
    def write(session: Session) -> None:
        write_sets(session, connection_id, batch, limits)

    return write


def _set_ids(session: Session, connection_id: str, batch: SetRows, cached: bool) -> npt.NDArray[np.int64]:
    """The stored id of each set of ``batch`` (-1: not stored yet): from the book's cache where known."""
    ids = batch.ids.get(batch.rows) if cached and batch.ids is not None else np.full(len(batch.rows), -1)
    unknown = np.flatnonzero(ids < 0)
    if len(unknown):
        keys = batch.source.keys(batch.rows[unknown])
        found = _known_ids(session, connection_id, keys)
        ids[unknown] = [found.get(key, -1) for key in keys]
    return ids


def write_sets(session: Session, connection_id: str, batch: SetRows, limits: HistoryLimits,
               cached: bool = True, complete_ids: bool = False) -> None:
    """Insert or update the sets of one step (status, layer, total, statistics) and append their results.
    ``complete_ids``: the batch's id cache holds every stored set (:func:`store_sets_now`), so a set without an
    id is new — it is inserted without RETURNING (its id stays unknown here; the caller reads it) and not looked
    up."""
    if complete_ids:
        assert batch.ids is not None and not batch.results, "complete_ids: a cache, and no results to append"
        ids = batch.ids.get(batch.rows)
    else:
        ids = _set_ids(session, connection_id, batch, cached)
    now = datetime.now(UTC)
    processor = _T.c.updated_at.type.bind_processor(session.get_bind().dialect)
    stamp = processor(now) if processor is not None else now  # as the driver takes it (raw executemany below)
    new: list[tuple[Any, ...]] = []  # in _INSERT_PLAIN_NAMES' order
    new_at: list[int] = []
    changed: list[tuple[Any, ...]] = []  # in _UPDATE_NAMES' order
    names = {status.value: status.name.lower() for status in SetStatus}
    for i, (row, status_value, layer, total, stats, set_id) in enumerate(zip(
            batch.rows.tolist(), batch.status, batch.layers, batch.totals, batch.stats_json(), ids.tolist(),
            strict=True)):
        status = names[status_value]
        if set_id < 0:
            key = batch.source.key(row)
            new.append((connection_id, *(getattr(key, name) for name in _IDENTITY), status, layer, 0, total, stats,
                        stamp))
            new_at.append(i)
        else:
            changed.append((set_id, status, layer, total, stats, stamp))
    if changed:
        updated = execute_many(session, _UPDATE, _UPDATE_NAMES, changed)
        if cached and batch.ids is not None and updated >= 0 and updated != len(changed):
            # cached ids of sets no longer stored (the database was replaced): look them all up again
            log.warning("%d of %d cached set ids are gone; looking them up again", len(changed) - updated,
                        len(changed))
            batch.ids.forget()
            write_sets(session, connection_id, batch, limits, cached=False)
            return
    if new and complete_ids:
        execute_many(session, _INSERT_PLAIN, _INSERT_PLAIN_NAMES, new)
    elif new:
        returning = [{**dict(zip(_INSERT_PLAIN_NAMES[:-1], row[:-1], strict=True)), "updated_at": now} for row in new]
        index_of = {SetKey(*(row[name] for name in _IDENTITY)): i for i, row in zip(new_at, returning, strict=True)}
        for stored in session.execute(_INSERT, returning):
            ids[index_of[_key_of(stored)]] = stored.id
    if batch.ids is not None:
        cache, rows = batch.ids, batch.rows
        after_commit(session, lambda: cache.remember(rows, ids))
    id_of = dict(zip(batch.rows.tolist(), ids.tolist(), strict=True)) if batch.results else {}
    for row, closed in batch.results.items():
        append_results(session, id_of[row], [
            {"opened_ms": int(r.entry_t * 1000), "closed_ms": int(r.close_t * 1000), "entry": 0.0, "exit": 0.0,
             "result_pc": r.result_pc, "drawdown_ms": int(r.drawdown_s * 1000), "reason": "closed"}
            for r in closed
        ], limits, count_total=False)  # the set's total is the book's count, stored above
