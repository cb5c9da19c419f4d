"""The life of a websocket consumer: one background task that runs until stopped, and its client closed after."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


class StreamTask:
    """``start()`` runs :meth:`_run` as a task; ``stop()`` cancels it, closes the client it holds and says
    ``mode == "idle"``. Subclasses implement :meth:`_run` and keep their ccxt.pro client in ``_client``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.mode = "idle"
        self._task: asyncio.Task[None] | None = None
        self._client: Any = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close()
        self.mode = "idle"

    async def _run(self) -> None:
        raise NotImplementedError

    async def _close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
            self._client = None
