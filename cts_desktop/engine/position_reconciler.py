"""Every sync ends here: per symbol and side, the DB's live quantity is compared with the exchange's position.

Equal is the normal case — the fills explain everything. A difference is first given its chance to explain itself:
no settling while an order of that symbol is in flight, the symbol's fills are read again from the oldest live
position's opening (once per difference), and the same difference must be seen at :data:`SETTLE_AFTER_CHECKS`
syncs over :data:`SETTLE_AFTER_S` seconds (a fill of a stop that fired between reading the positions and the fills
is a difference for one sync only). Then it is settled once (``settlement.py``): logged, raised as an alert and
published, never repeated — the next sync finds the two equal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine import settlement
from cts_desktop.engine.fill_sync import FillSync
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.engine.position_ledger import ZERO, SideKey
from cts_desktop.exchanges.models import Position
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import RealPosition
from cts_desktop.storage.types import to_decimal

log = logging.getLogger("cts.engine.orders")

SETTLE_AFTER_CHECKS = 2
SETTLE_AFTER_S = 3.0
LOOK_BACK_WITHOUT_POSITIONS = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SideCheck:
    key: SideKey
    db_quantity: Decimal
    exchange_quantity: Decimal
    state: str  # equal | waiting | settled
    note: str = ""
    settled: settlement.Settlement | None = None


@dataclass(slots=True)
class _Difference:
    db: Decimal
    exchange: Decimal
    first_seen: float
    checks: int = 0


class PositionReconciler:
    def __init__(
        self, connection_id: str, db: Database, fills: FillSync, ledger_writes: LedgerWrites, *, paper: bool,
        clock: Callable[[], float] = time.monotonic, settle_after_s: float = SETTLE_AFTER_S,
    ) -> None:
        self.connection_id = connection_id
        self.db = db
        self.writes = ledger_writes
        self.fills = fills
        self.paper = paper
        self.clock = clock
        self.settle_after_s = settle_after_s
        self._open: dict[SideKey, _Difference] = {}
        self.changes: list[ledger.PositionChange] = []  # positions changed by fills read again; the caller drains

    async def check(self, positions: list[Position], in_flight: set[str]) -> list[SideCheck]:
        """Compare and, where due, settle; ``in_flight``: symbols with an order whose outcome is not known yet."""
        exchange = {SideKey(p.symbol, p.side.value): (to_decimal(p.contracts), to_decimal(p.entry_price))
                    for p in positions if p.contracts > 0}
        connection_id = self.connection_id
        held = await self.db.run(lambda s: ledger.live_quantities(s, connection_id))
        checks = []
        for key in sorted(set(held) | set(exchange), key=lambda k: (k.symbol, k.side)):
            db_quantity = held.get(key, ZERO)
            exchange_quantity, entry = exchange.get(key, (ZERO, None))
            if db_quantity == exchange_quantity:
                self._open.pop(key, None)
                checks.append(SideCheck(key, db_quantity, exchange_quantity, "equal"))
                continue
            checks.append(await self._differs(key, db_quantity, exchange_quantity, entry, in_flight))
        for key in set(self._open) - set(held) - set(exchange):
            del self._open[key]
        return checks

    async def _differs(
        self, key: SideKey, db_quantity: Decimal, exchange_quantity: Decimal, entry: Decimal | None,
        in_flight: set[str],
    ) -> SideCheck:
        if key.symbol in in_flight:
            return SideCheck(key, db_quantity, exchange_quantity, "waiting", "an order is in flight")
        seen = self._open.get(key)
        if seen is None or (seen.db, seen.exchange) != (db_quantity, exchange_quantity):
            db_quantity = await self._read_fills_again(key)
            if db_quantity == exchange_quantity:
                self._open.pop(key, None)
                return SideCheck(key, db_quantity, exchange_quantity, "equal", "explained by fills read again")
            seen = self._open[key] = _Difference(db_quantity, exchange_quantity, self.clock())
        seen.checks += 1
        if seen.checks < SETTLE_AFTER_CHECKS or self.clock() - seen.first_seen < self.settle_after_s:
            return SideCheck(key, db_quantity, exchange_quantity, "waiting", "seen again before it is settled")
        connection_id, paper = self.connection_id, self.paper
        done = await self.writes(
            lambda s: settlement.settle(s, connection_id, key, exchange_quantity, entry, paper)
        )
        del self._open[key]
        log.warning("reconciliation settled a difference: %s", done.summary,
                    extra={"connection_id": self.connection_id, "symbol": key.symbol})
        return SideCheck(key, db_quantity, exchange_quantity, "settled", done.summary, done)

    async def _read_fills_again(self, key: SideKey) -> Decimal:
        connection_id = self.connection_id
        oldest = await self.db.run(lambda s: _oldest_live(s, connection_id, key))
        since = oldest or datetime.now(UTC) - LOOK_BACK_WITHOUT_POSITIONS
        if await self.fills.look_back(key.symbol, since):
            self.changes += await self.writes(lambda s: ledger.allocate_and_refresh(s, connection_id))
        held = await self.db.run(lambda s: ledger.live_quantities(s, connection_id))
        return held.get(key, ZERO)


def _oldest_live(session: Session, connection_id: str, key: SideKey) -> datetime | None:
    oldest: datetime | None = session.execute(
        select(func.min(RealPosition.opened_at)).where(
            RealPosition.connection_id == connection_id, RealPosition.symbol == key.symbol,
            RealPosition.side == key.side, RealPosition.status.in_(ledger.OPEN_STATES),
        )
    ).scalar_one()
    return oldest

