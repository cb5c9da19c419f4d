"""Did the previous run end cleanly? A marker file in the data folder says a run is in progress.

:meth:`RunMarker.begin` (called while holding the data folder's instance lock, so no other process is running on
it) writes ``<data>/running.json`` and makes it durable; a heartbeat touches it every :data:`HEARTBEAT_S` while
the app runs; :meth:`RunMarker.end` removes it once the app has stopped in order. A marker found at the next start
means the run before ended without that — killed, crashed, or the machine lost power — and its last touch tells
about when (:class:`UncleanExit`).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

MARKER_FILE = "running.json"
HEARTBEAT_S = 15.0


@dataclass(frozen=True, slots=True)
class UncleanExit:
    """The run before ended without a clean stop; ``last_seen`` is its last heartbeat (wall-clock seconds)."""

    pid: int | None
    mode: str
    started_at: float | None
    last_seen: float

    def at(self, now: float | None = None) -> str:
        """When it ended, as a person reads it: ``12:03`` today, else ``2026-12-08 12:03``."""
        moment = datetime.fromtimestamp(self.last_seen)
        today = datetime.fromtimestamp(time.time() if now is None else now).date()
        return moment.strftime("%H:%M" if moment.date() == today else "%Y-%m-%d %H:%M")

    def describe(self) -> str:
        pid = f", pid {self.pid}" if self.pid is not None else ""
        return (f"the previous run ({self.mode}{pid}) ended without a clean stop at about {self.at()} "
                "(crash, kill or power loss)")


class RunMarker:
    def __init__(self, folder: Path) -> None:
        self.path = folder / MARKER_FILE

    def begin(self, mode: str) -> UncleanExit | None:
        """Start a run: the previous run's unclean end, if its marker is still there; then this run's marker."""
        previous = self.read()
        tmp = self.path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump({"pid": os.getpid(), "mode": mode, "started_at": time.time()}, out)
            out.flush()
            os.fsync(out.fileno())  # a power loss right after the start must still leave the marker
        os.replace(tmp, self.path)
        return previous

    def read(self) -> UncleanExit | None:
        try:
            last_seen = self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            pid = int(data["pid"])
            mode, started = str(data["mode"]), float(data["started_at"])
        except (OSError, ValueError, KeyError, TypeError):  # cut short by the crash: the time is still known
            return UncleanExit(None, "unknown mode", None, last_seen)
        return UncleanExit(pid, mode, started, max(last_seen, started))

    def beat(self) -> None:
        """The app is alive now (the marker's modification time)."""
        with contextlib.suppress(OSError):
            os.utime(self.path)

    def end(self) -> None:
        """The run stopped in order."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


__all__ = ["HEARTBEAT_S", "RunMarker", "UncleanExit"]
