"""Running coroutines from Qt slots on the qasync loop, with failures logged instead of lost."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger("cts.ui")

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any], what: str = "ui task") -> asyncio.Task[Any] | None:
    """Schedule ``coro`` on the running loop; without a running loop (e.g. before start) it is closed unrun."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        try:
            loop = asyncio.get_event_loop()
        except RuntimeError:
            coro.close()
            return None
    if loop.is_closed():
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
