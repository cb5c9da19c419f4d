"""An alert raised by the engine itself (not by a monitoring rule): published at once on the bus (the GUI's desktop
notification) and stored in the ``alerts`` table through the batched writer (the Monitoring tab)."""

from __future__ import annotations

from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import AlertRaised
from cts_desktop.storage.models import Alert
from cts_desktop.storage.writer import BatchedWriter


def raise_alert(bus: EventBus, writer: BatchedWriter, *, severity: str, source: str, message: str,
                connection_id: str | None = None) -> None:
    bus.publish(AlertRaised(key=connection_id, severity=severity, source=source, message=message))
    writer.submit(lambda s: s.add(Alert(severity=severity, source=source, connection_id=connection_id,
                                        message=message)))
