"""One connection's writes to its orders, fills, allocations and funding shares, one transaction at a time.

The ledger reads before it writes (what is allocated of a fill, what a position holds): two such transactions at
once — an order's answer recorded while a reconciliation allocates the same fill — would both see the fill
unallocated. The order manager's parts take turns through this lock; reads go straight to the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from cts_desktop.storage.db import Database

T = TypeVar("T")


class LedgerWrites:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock()

    async def __call__(self, fn: Callable[[Session], T]) -> T:
        async with self._lock:
            return await self.db.run(fn)
