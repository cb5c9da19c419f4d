"""Progress, ETA and cancel for long backtest work that runs in a worker thread (never on the GUI thread).

The compiled kernels release the GIL and use every numba thread, so a worker thread keeps the GUI responsive
while both cores compute. Work is cut into slices; between slices the worker reports progress and checks the
cancel flag, so a cancel takes effect within one slice (slices are sized to a fraction of a second).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class Cancelled(Exception):
    """The user cancelled the run; nothing partial is stored."""


@dataclass(frozen=True, slots=True)
class ProgressInfo:
    done: int
    total: int
    elapsed_s: float
    what: str = ""

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None until something is done)."""
        if self.done <= 0 or self.total <= 0:
            return None
        return self.elapsed_s * (self.total - self.done) / self.done


ProgressFn = Callable[[ProgressInfo], None]


class CancelToken:
    """A thread-safe cancel flag shared by the UI and the worker."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.cancelled_at: float | None = None

    def cancel(self) -> None:
        if not self._event.is_set():
            self.cancelled_at = time.monotonic()
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def check(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


class Tracker:
    """Counts done units and forwards :class:`ProgressInfo` to a callback at most every ``min_interval_s``."""

    def __init__(self, total: int, on_progress: ProgressFn | None, what: str = "",
                 min_interval_s: float = 0.1) -> None:
        self.total = total
        self.done = 0
        self.what = what
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.min_interval_s = min_interval_s
        self._last = 0.0

    def advance(self, units: int, what: str | None = None, force: bool = False) -> None:
        self.done += units
        if what is not None:
            self.what = what
        now = time.monotonic()
        if self.on_progress is not None and (force or now - self._last >= self.min_interval_s
                                             or self.done >= self.total):
            self._last = now
            self.on_progress(ProgressInfo(self.done, self.total, now - self.started, self.what))
