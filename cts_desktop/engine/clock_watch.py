"""What one connection engine does with its exchange clock's readings (``exchanges/clock.py``): a skew (the clock
off by more than 1 s) raises one alert per episode — not one per measurement — and every reading republishes the
engine's status, whose ``clock_offset_ms`` / ``clock_skewed`` the Dashboard card shows. The log line is the clock's
own (once per change). Trading is not touched: the adapter already signs with the corrected time."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cts_desktop.engine.alerting import raise_alert
from cts_desktop.events.bus import EventBus
from cts_desktop.events.status import describe_offset
from cts_desktop.exchanges.clock import ClockReading
from cts_desktop.storage.writer import BatchedWriter


@dataclass(slots=True, eq=False)
class ClockWatch:
    connection_id: str
    connection_name: str
    exchange: str
    bus: EventBus
    writer: BatchedWriter
    publish: Callable[[], None]
    alerts: int = 0
    reading: ClockReading | None = None  # the newest, for the engine's status

    def __call__(self, reading: ClockReading, changed: bool) -> None:
        self.reading = reading
        if changed and reading.skewed:
            self.alerts += 1
            raise_alert(self.bus, self.writer, severity="warning", source="clock", connection_id=self.connection_id,
                        message=f"{self.connection_name}: this computer's clock is "
                                f"{describe_offset(reading.offset_ms)} of {self.exchange}'s. Orders are signed "
                                f"with the corrected time and trading goes on; turn on the system's automatic time "
                                f"synchronisation.")
        self.publish()
