"""Events of the app's services (settings, database health, connections, notifications, shutdown)."""

from __future__ import annotations

from dataclasses import dataclass

from cts_desktop.events.bus import Event


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsChanged(Event):
    """Settings were stored (one transaction): engines and the UI apply them from this event alone."""

    changes: tuple[tuple[str, object, object], ...]  # (key, old, new)

    @property
    def keys(self) -> list[str]:
        return [key for key, _old, _new in self.changes]


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseHealthChanged(Event):
    healthy: bool
    message: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DatabaseDamaged(Event):
    """The database file is damaged: trading stopped, nothing more is written; ``message`` says how to restore."""

    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionsChanged(Event):
    """The set of connections or one connection's stored fields changed (key = connection id or None)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionEdited(ConnectionsChanged):
    """One connection's stored options were edited (key = its id): its running engine applies the change in place
    where that is safe, otherwise it restarts (``engine/live_changes.py``)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Toast(Event):
    """A user-facing notification; also logged in the ``toast`` category."""

    level: str  # info | success | warning | error
    title: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppShutdown(Event):
    reason: str = ""
