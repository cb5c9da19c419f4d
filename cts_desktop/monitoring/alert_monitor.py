"""The alert rules (``alerts.py``) evaluated on the services' asyncio loop, whether or not a window is shown.

:class:`AlertMonitor` is started with the services (``Services.start``, GUI and headless alike; no Qt here). The
first round runs at once, then one every ``monitoring.global_health_interval_s`` seconds (read each round, so a
change in Settings applies to the running app; ``AppOptions.alert_interval_s`` overrides it). While
``monitoring.enabled`` is off no rule is evaluated. Each round stores the new alerts (with the rules' cool-downs),
logs each one as a warning (logger ``cts.system.alerts``) and publishes it as an
:class:`~cts_desktop.events.trading.AlertRaised` event, which the GUI turns into a desktop notification
even while the window is hidden in the tray. The Monitoring tab only reads and acknowledges the stored rows.

Rounds never overlap (a lock), a failing round is logged and the next one runs on schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from cts_desktop.events.trading import AlertRaised
from cts_desktop.monitoring.alerts import AlertRow, AlertThresholds, evaluate, raise_alerts

if TYPE_CHECKING:
    from cts_desktop.events.bus import EventBus
    from cts_desktop.storage.db import Database
    from cts_desktop.storage.writer import BatchedWriter

log = logging.getLogger("cts.system.alerts")

INTERVAL_SETTING = "monitoring.global_health_interval_s"
ENABLED_SETTING = "monitoring.enabled"
DEFAULT_INTERVAL_S = 30.0


class AlertMonitor:
    def __init__(
        self,
        db: Database,
        writer: BatchedWriter,
        settings: Callable[[], Mapping[str, object]],
        bus: EventBus,
        interval_s: float | None = None,
    ) -> None:
        self.db = db
        self.writer = writer
        self.settings = settings
        self.bus = bus
        self.fixed_interval_s = interval_s
        self.rounds = 0  # rounds that evaluated the rules
        self.ticks = 0  # rounds run, also those that evaluated nothing (monitoring switched off)
        self.raised = 0  # alerts stored and published since start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._last_failure: str | None = None

    # --- lifecycle -------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._loop is not None

    @property
    def idle(self) -> bool:
        """No round runs and none is scheduled."""
        return self._timer is None and (self._task is None or self._task.done())

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Run the first round now (the loop may not be running yet) and then one per interval."""
        if self._loop is not None:
            return
        self._loop = loop
        self._task = loop.create_task(self._round())

    def stop(self) -> None:
        """Cancel the next round and the one in progress (safe from synchronous code and on a closed loop)."""
        loop, self._loop = self._loop, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        task, self._task = self._task, None
        if task is not None and not task.done() and loop is not None and not loop.is_closed():
            task.cancel()

    async def aclose(self) -> None:
        """Stop and wait until a round in progress has ended."""
        task = self._task
        self.stop()
        if task is not None and task is not asyncio.current_task():
            await asyncio.gather(task, return_exceptions=True)

    async def settle(self) -> None:
        """Wait for the round in progress, if any (tests; a round started by :meth:`start` is already running)."""
        task = self._task
        if task is not None and task is not asyncio.current_task():
            await asyncio.shield(task)

    def interval(self) -> float:
        if self.fixed_interval_s is not None:
            return self.fixed_interval_s
        value = self.settings().get(INTERVAL_SETTING, DEFAULT_INTERVAL_S)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else DEFAULT_INTERVAL_S

    async def _round(self) -> None:
        try:
            if self.settings().get(ENABLED_SETTING, True):
                await self.check()
            self._last_failure = None
        except asyncio.CancelledError:
            raise
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            if text != self._last_failure:  # a database that stays down is reported once, not every round
                log.warning("alert rules could not be evaluated: %s", text, exc_info=True)
            self._last_failure = text
        finally:
            self.ticks += 1
            loop = self._loop
            if loop is not None and not loop.is_closed():
                self._timer = loop.call_later(self.interval(), self._next)

    def _next(self) -> None:
        self._timer = None
        if self._loop is not None and not self._loop.is_closed():
            self._task = self._loop.create_task(self._round())

    # --- one round -----------------------------------------------------------------------------------------------

    async def check(self) -> list[AlertRow]:
        """Evaluate every rule now; store, log and publish the alerts that are new. Returns them."""
        async with self._lock:
            thresholds = AlertThresholds.from_settings(self.settings())
            size = await asyncio.to_thread(self.db.size_bytes)
            stats = self.writer.stats

            def work(session: Session) -> list[AlertRow]:
                now = datetime.now(UTC)
                candidates = evaluate(session, now, thresholds, database_bytes=size, writer_healthy=stats.healthy,
                                      writer_error=stats.last_error)
                return raise_alerts(session, candidates, now)

            created = await self.db.run(work)
            self.rounds += 1
            for row in created:
                self.raised += 1
                log.warning("alert (%s): %s", row.severity, row.message,
                            extra={"connection_id": row.connection_id, "context": {"alert_id": row.id,
                                                                                   "source": row.source}})
                self.bus.publish(AlertRaised(key=row.connection_id, severity=row.severity, source=row.source,
                                             message=row.message))
            return created
