"""Closed pseudo results per configuration set, with the history trim of DOMAIN Part 1 §5.

A set keeps its newest L results; when it reaches L × (1 + t) rows it is cut back to the newest L in the same
transaction that appended the results. The set row carries the number of stored rows, so deciding whether to trim
needs no COUNT, and the trim itself walks the (set_id, id) index: its cost depends on L and t, not on the size of
the table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from cts_desktop.storage.models import ConfigSet, PseudoResult


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """Database position length L (50–500) and trim threshold t in percent (10–50)."""

    length: int = 250
    threshold_pct: int = 20

    @property
    def trim_at(self) -> int:
        return math.floor(self.length * (1 + self.threshold_pct / 100) + 1e-9)


def append_results(
    session: Session, set_id: int, results: Sequence[dict[str, Any]], limits: HistoryLimits, *,
    count_total: bool = True,
) -> int:
    """Insert closed results of one set and trim it when it reaches the threshold; returns rows trimmed.
    ``count_total=False`` leaves ``total_closed`` alone (the engine stores its book's count of every close)."""
    if not results:
        return 0
    session.execute(insert(PseudoResult), [{**row, "set_id": set_id} for row in results])
    counts: dict[str, Any] = {"stored_results": ConfigSet.stored_results + len(results)}
    if count_total:
        counts["total_closed"] = ConfigSet.total_closed + len(results)
    stored = session.execute(
        update(ConfigSet).where(ConfigSet.id == set_id).values(**counts).returning(ConfigSet.stored_results)
    ).scalar_one()
    if stored < limits.trim_at:
        return 0
    return trim_set(session, set_id, limits.length)


def trim_set(session: Session, set_id: int, keep: int) -> int:
    """Delete all but the newest ``keep`` results of one set; returns the number of rows deleted."""
    cutoff = session.execute(
        select(PseudoResult.id)
        .where(PseudoResult.set_id == set_id)
        .order_by(PseudoResult.id.desc())
        .offset(keep - 1)
        .limit(1)
    ).scalar_one_or_none()
    if cutoff is None:
        return 0
    result = session.execute(delete(PseudoResult).where(PseudoResult.set_id == set_id, PseudoResult.id < cutoff))
    deleted = getattr(result, "rowcount", 0)
    session.execute(update(ConfigSet).where(ConfigSet.id == set_id).values(stored_results=keep))
    return int(deleted or 0)


def trim_all_sets(session: Session, limits: HistoryLimits) -> int:
    """Apply a lowered position length to every set at once (Settings asks before doing this)."""
    over = session.execute(select(ConfigSet.id).where(ConfigSet.stored_results > limits.length)).scalars().all()
    return sum(trim_set(session, set_id, limits.length) for set_id in over)


def results_over_length(session: Session, length: int) -> int:
    """How many stored results a new, lower position length would remove (shown in the confirmation)."""
    from sqlalchemy import func

    total = session.execute(
        select(func.coalesce(func.sum(ConfigSet.stored_results - length), 0)).where(
            ConfigSet.stored_results > length
        )
    ).scalar_one()
    return int(total)


def newest_results(session: Session, set_id: int, limit: int) -> list[PseudoResult]:
    return list(
        session.execute(
            select(PseudoResult)
            .where(PseudoResult.set_id == set_id)
            .order_by(PseudoResult.id.desc())
            .limit(limit)
        ).scalars()
    )
