"""A service that runs one named background task on the asyncio loop: started once, cancelled, or cancelled and
awaited (at shutdown, so no round is left running when the loop closes). Subclasses write :meth:`_run`."""

from __future__ import annotations

import asyncio


class LoopTask:
    def __init__(self, name: str) -> None:
        self.name = name
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        raise NotImplementedError

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start :meth:`_run` on ``loop`` unless it is running already (the loop need not run yet)."""
        if not self.running:
            self._task = loop.create_task(self._run(), name=self.name)

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
