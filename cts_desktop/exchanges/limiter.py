"""Per-connection request limiter (DOMAIN Part 2 §8.4): requests per second, per minute, and in flight.

ccxt's own throttle stays on with its per-endpoint weights (its ``rateLimit`` is calibrated for them); this
limiter adds the connection's configurable ceiling on top, so a user can slow a connection down without
touching ccxt's weights.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from cts_desktop.exchanges.capabilities import RateLimit


class RequestLimiter:
    def __init__(self, limit: RateLimit) -> None:
        self.limit = limit
        self._slots = asyncio.Semaphore(limit.concurrent)
        self._stamps: deque[float] = deque()
        self._lock = asyncio.Lock()
        self.waited_s = 0.0

    async def _admit(self) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._stamps and now - self._stamps[0] >= 60.0:
                    self._stamps.popleft()
                last_second = sum(1 for t in self._stamps if now - t < 1.0)
                wait = 0.0
                if len(self._stamps) >= self.limit.per_minute:
                    wait = 60.0 - (now - self._stamps[0])
                elif last_second >= self.limit.per_second:
                    recent = [t for t in self._stamps if now - t < 1.0]
                    wait = 1.0 - (now - recent[0])
                if wait <= 0:
                    self._stamps.append(now)
                    return
                self.waited_s += wait
                await asyncio.sleep(wait)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._admit()
            yield
