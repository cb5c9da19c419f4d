"""Running coroutines from Qt slots on the qasync loop, with failures logged instead of lost."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("cts.ui")

_running: set[asyncio.Task[Any]] = set()
_stopped_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def stop_spawning() -> None:
    """From now on (the app is shutting down) a Qt signal's coroutine is closed unrun on this loop: after the
    loop's last ``run_until_complete`` a scheduled task would run without a running loop."""
    _stopped_loops.add(asyncio.get_running_loop())


def spawn(coro: Coroutine[Any, Any, Any], what: str = "ui task") -> asyncio.Task[Any] | None:
    """Schedule ``coro`` on the app's loop (before it runs, the task starts with it); closed unrun when there is
    no loop or the app is shutting down."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            coro.close()
            return None
    if loop.is_closed() or loop in _stopped_loops:
        coro.close()
        return None
    task = loop.create_task(coro)
    _running.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _running.discard(t)
        if not t.cancelled() and t.exception() is not None:
            log.error("%s failed", what, exc_info=t.exception())

    task.add_done_callback(done)
    return task


async def wait_all() -> None:
    """Wait for the UI's outstanding tasks (tests and shutdown)."""
    while _running:
        await asyncio.gather(*list(_running), return_exceptions=True)
