"""The user's intent for trading, kept across restarts: what the coordinator and each connection's engine were last
commanded to be (running / paused / stopped; live or paper), per app instance (table ``trading_intent``).

:class:`IntentRecorder` follows the coordinator's and the engines' status events on the bus and stores each
settled state when it changes: a start, pause, resume, stop or emergency stop from the window, the tray or the
connection switches all end up there, whoever sent them. Stopping because the app quits is *not* an intent:
:meth:`IntentRecorder.freeze` is called first, so the next start finds what the user left running. An engine's
failure (``error``) is not an intent either and is not recorded.
"""

from __future__ import annotations

import hashlib
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from cts_desktop.events.bus import EventBus
from cts_desktop.events.status import EngineState
from cts_desktop.events.trading import EngineStatusChanged, TradeEngineChanged
from cts_desktop.storage.db import Database
from cts_desktop.storage.models_intent import TradingIntent
from cts_desktop.storage.writer import BatchedWriter

log = logging.getLogger("cts.engine.intent")

COORDINATOR = "*"
SETTLED = (EngineState.RUNNING, EngineState.PAUSED, EngineState.STOPPED)


def instance_key(data_folder: Path, host: str | None = None) -> str:
    """The app instance: this data folder on this host (one instance per data folder runs at a time)."""
    text = f"{host or socket.gethostname()}\n{data_folder.resolve()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Intent:
    """One stored intent: ``connection_id`` ``'*'`` is the coordinator."""

    connection_id: str
    state: EngineState
    live: bool
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class StoredIntents:
    coordinator: Intent | None
    connections: dict[str, Intent]


def read_intents(session: Session, instance: str) -> StoredIntents:
    rows = session.execute(select(TradingIntent).where(TradingIntent.instance == instance)).scalars()
    intents = {r.connection_id: Intent(r.connection_id, EngineState(r.state), bool(r.live), r.changed_at)
               for r in rows}
    return StoredIntents(intents.pop(COORDINATOR, None), intents)


def write_intent(session: Session, instance: str, connection_id: str, state: EngineState, live: bool) -> None:
    row = session.get(TradingIntent, (instance, connection_id))
    if row is None:
        row = TradingIntent(instance=instance, connection_id=connection_id)
        session.add(row)
    row.state = state.value
    row.live = live
    row.changed_at = datetime.now(UTC)


class IntentRecorder:
    """Stores the settled states the bus reports, until :meth:`freeze` (the app is quitting)."""

    def __init__(self, bus: EventBus, writer: BatchedWriter, instance: str) -> None:
        self.writer = writer
        self.instance = instance
        self.frozen = False
        self._last: dict[str, tuple[EngineState, bool]] = {}
        self._unsubscribe: list[Callable[[], None]] = [
            bus.subscribe(EngineStatusChanged, self._on_coordinator),
            bus.subscribe(TradeEngineChanged, self._on_engine),
        ]

    def know(self, stored: StoredIntents) -> None:
        """The intents already stored: an event repeating one is not written again."""
        for intent in ([stored.coordinator] if stored.coordinator else []) + list(stored.connections.values()):
            self._last[intent.connection_id] = (intent.state, intent.live)

    def _on_coordinator(self, event: EngineStatusChanged) -> None:
        self._record(COORDINATOR, event.status.state, False)

    def _on_engine(self, event: TradeEngineChanged) -> None:
        status = event.status
        self._record(status.connection_id, status.state, not status.paper)

    def _record(self, connection_id: str, state: EngineState, live: bool) -> None:
        if self.frozen or state not in SETTLED or self._last.get(connection_id) == (state, live):
            return
        self._last[connection_id] = (state, live)
        instance = self.instance
        log.debug("trading intent of %s: %s%s", connection_id, state.value, " (live)" if live else "")
        self.writer.submit(lambda session: write_intent(session, instance, connection_id, state, live))

    def freeze(self) -> None:
        """From now on nothing is recorded: the app is stopping trading because it quits, not because it was asked
        to (the next start resumes what was running)."""
        self.frozen = True
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []


async def load_intents(db: Database, instance: str) -> StoredIntents:
    return await db.run(lambda session: read_intents(session, instance))


__all__ = ["COORDINATOR", "Intent", "IntentRecorder", "StoredIntents", "instance_key", "load_intents"]
