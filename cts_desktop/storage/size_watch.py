"""Keeps the database under System › Database › Overall database size while the app runs.

Every :data:`ROUND_S` seconds (the first round shortly after start) the data size is measured; over the cap, the
oldest market data and history are deleted and the space given back (:mod:`cts_desktop.storage.size_cap`), with
one warning in the log that says what went. Between rounds, SQLite pages freed by any delete (the retention
cleanup, trims) are returned to the disk a few at a time, only while the batched writer has nothing queued.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from cts_desktop.storage.background import LoopTask
from cts_desktop.storage.db import Database
from cts_desktop.storage.size_cap import GB, CapReport, enforce_cap, incremental_vacuum
from cts_desktop.storage.writer import BatchedWriter

log = logging.getLogger("cts.storage.size")

ROUND_S = 600.0
FIRST_ROUND_S = 120.0
IDLE_STEPS = 5  # incremental-vacuum steps per idle pass


class SizeWatch(LoopTask):
    def __init__(self, db: Database, writer: BatchedWriter, values: Callable[[], Mapping[str, object]],
                 first_delay_s: float = FIRST_ROUND_S) -> None:
        super().__init__("database size cap")
        self.db = db
        self.writer = writer
        self.values = values
        self.first_delay_s = first_delay_s
        self.last_report: CapReport | None = None

    def cap_bytes(self) -> int:
        gb = self.values()["system.max_database_size_gb"]
        assert isinstance(gb, int | float)
        return int(float(gb) * GB)

    async def run_once(self, cap_bytes: int | None = None) -> CapReport:
        """One round now (``cap_bytes`` instead of the setting: a check with another cap)."""
        report = await asyncio.to_thread(enforce_cap, self.db, self.cap_bytes() if cap_bytes is None else cap_bytes)
        self.last_report = report
        if report.over:
            log.warning("size cap: %s", report.text())
        return report

    async def give_back_idle(self) -> int:
        """SQLite: free pages back to the disk while the writer is idle (a few short steps)."""
        if not self.db.is_sqlite or self.writer.pending or self.db.guard.tripped:
            return 0
        return await asyncio.to_thread(incremental_vacuum, self.db, IDLE_STEPS)

    async def _run(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await self.run_once()
                await self.give_back_idle()
            except Exception:  # a locked or lost database: the next round tries again, the app goes on
                log.exception("database size cap round failed; it runs again in %.0f min", ROUND_S / 60)
            await asyncio.sleep(ROUND_S)
