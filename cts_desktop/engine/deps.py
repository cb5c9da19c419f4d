"""The services every engine part works with, passed in by the composition root (``trading.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from cts_desktop.events.bus import EventBus
from cts_desktop.storage.db import Database
from cts_desktop.storage.settings_store import SettingsStore
from cts_desktop.storage.writer import BatchedWriter


@dataclass(frozen=True, slots=True)
class EngineDeps:
    db: Database
    writer: BatchedWriter
    settings: SettingsStore
    bus: EventBus
