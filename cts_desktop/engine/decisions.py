"""Why an engine trades or not: every entry decision (taken, or refused with its reason) of one connection.

The pipelines say when no Real set took an indication, the engine when it is paused, the order manager when a
limit, a cooldown or a protection refuses an entry, and when an entry goes out. Each decision is kept (the newest
and a short history, for the Dashboard and Monitoring), published on the bus as :class:`EntryDecided` and
logged — the same reason at most once per ``log_every_s`` per kind and symbol, with the count of the ones in
between, so the headless log says why without repeating it every second.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable

from cts_desktop.events.bus import EventBus
from cts_desktop.events.status import DECISION_KINDS, EntryDecision
from cts_desktop.events.trading import EntryDecided

log = logging.getLogger("cts.engine.decisions")

KINDS = DECISION_KINDS
KEEP = 200  # decisions kept in memory per connection and kind (a flood of one kind never hides a rare one)
LOG_EVERY_S = 60.0


class DecisionLog:
    def __init__(self, connection_id: str, bus: EventBus | None, *, keep: int = KEEP,
                 log_every_s: float = LOG_EVERY_S, clock: Callable[[], float] = time.time) -> None:
        self.connection_id = connection_id
        self.bus = bus
        self.log_every_s = log_every_s
        self.clock = clock
        self.keep = keep
        self.by_kind: dict[str, deque[EntryDecision]] = {}
        self.last: EntryDecision | None = None
        self.last_of_kind: dict[str, EntryDecision] = {}
        self._logged: dict[tuple[str, str], tuple[float, int]] = {}  # (kind, symbol) → (last logged, held back)

    @property
    def recent(self) -> list[EntryDecision]:
        """The kept decisions of every kind, oldest first."""
        return sorted((d for kept in self.by_kind.values() for d in kept), key=lambda d: d.at)

    def record(self, symbol: str, direction: str, kind: str, reason: str) -> EntryDecision:
        if kind not in KINDS:
            raise ValueError(f"unknown decision kind {kind!r}")
        decision = EntryDecision(self.connection_id, symbol, direction, kind, reason, self.clock())
        self.by_kind.setdefault(kind, deque(maxlen=self.keep)).append(decision)
        self.last = self.last_of_kind[kind] = decision
        if self.bus is not None:
            self.bus.publish(EntryDecided(key=self.connection_id, decision=decision))
        self._log(decision)
        return decision

    def _log(self, decision: EntryDecision) -> None:
        key = (decision.kind, decision.symbol)
        last, held = self._logged.get(key, (float("-inf"), 0))
        if decision.taken or decision.at - last >= self.log_every_s:
            more = f" ({held} more like it since the last line)" if held else ""
            text = "entry taken" if decision.taken else "entry refused"
            log.info("%s for %s %s: %s%s", text, decision.symbol, decision.direction, decision.reason, more,
                     extra={"connection_id": self.connection_id, "symbol": decision.symbol})
            self._logged[key] = (decision.at, 0)
        else:
            self._logged[key] = (last, held + 1)
