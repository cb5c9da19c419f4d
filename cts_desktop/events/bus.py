"""A tiny asyncio event bus: typed dataclass events, handlers by event type, optional per-key channels.

Services publish; the UI's bridge (``ui/bridge.py``) subscribes and turns events into Qt signals. A handler may be
a plain function or a coroutine function; coroutine handlers run as tasks so a slow handler never delays the
publisher or the other handlers. A failing handler is logged and does not affect anyone else. ``key`` narrows a
subscription to one channel (one connection, one symbol, one order), like ``"eOrder." + id`` in vn.py.

Handlers run on the loop the bus is attached to (:meth:`EventBus.attach`). A service working in another thread
(a settings write, the database writer) publishes with :meth:`EventBus.publish_threadsafe`, which hands the event
to that loop: every subscriber — engines and the UI alike — learns of a fact the same way, on the same thread.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

log = logging.getLogger("cts.engine.events")

E = TypeVar("E", bound="Event")
Handler = Callable[[Any], None] | Callable[[Any], Awaitable[None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base of every event; ``key`` is the channel (e.g. a connection id) or None for global events."""

    key: str | None = None
    at: float = field(default_factory=time.time)

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[tuple[type[Event], str | None], list[Handler]] = defaultdict(list)
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop handlers run on (the app's one loop); :meth:`publish_threadsafe` hands events to it."""
        self._loop = loop

    def subscribe(self, event_type: type[E], handler: Handler, key: str | None = None) -> Callable[[], None]:
        """Call ``handler(event)`` for every event of ``event_type`` (and subclasses); with ``key``, only that
        channel. Returns a function that unsubscribes. A bus not attached yet attaches to the running loop."""
        slot = (event_type, key)
        self._handlers[slot].append(handler)
        if self._loop is None:  # not attached yet: the loop of the first subscriber that runs on one
            self._loop = _running_loop()

        def unsubscribe() -> None:
            if handler in self._handlers.get(slot, []):
                self._handlers[slot].remove(handler)

        return unsubscribe

    def publish(self, event: Event) -> None:
        """Deliver now (plain handlers) or schedule (coroutine handlers); never raises for a handler's fault."""
        self.published += 1
        for cls in type(event).__mro__:
            if not (isinstance(cls, type) and issubclass(cls, Event)):
                continue
            for slot in ((cls, None), (cls, event.key)) if event.key is not None else ((cls, None),):
                for handler in list(self._handlers.get(slot, ())):
                    self._deliver(handler, event)

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from any thread: on the attached loop when it runs and this is another thread, else now."""
        loop = self._loop
        if loop is None or loop.is_closed() or not loop.is_running() or _running_loop() is loop:
            self.publish(event)
        else:
            loop.call_soon_threadsafe(self.publish, event)

    def _deliver(self, handler: Handler, event: Event) -> None:
        try:
            if inspect.iscoroutinefunction(handler):
                task = asyncio.get_running_loop().create_task(self._run(handler, event))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                handler(event)
        except Exception:
            log.exception("event handler %r failed on %s", handler, type(event).__name__)

    @staticmethod
    async def _run(handler: Handler, event: Event) -> None:
        try:
            result = handler(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("event handler %r failed on %s", handler, type(event).__name__)

    async def drain(self) -> None:
        """Wait for the coroutine handlers already scheduled (used at shutdown and in tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
