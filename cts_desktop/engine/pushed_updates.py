"""What the exchange's private stream pushes — fills, order states, positions — applied to the DB at once.

The REST sync (:meth:`OrderManager.sync`) stays the check: it reads the same fills again from its mark and finds
them stored. Each update holds the manager's sync lock, so it never interleaves with a reconciliation.
"""

from __future__ import annotations

import asyncio
import functools
from typing import Protocol

from cts_desktop.engine import order_records as rec
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.fill_sync import FillSync
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.engine.position_ledger import PositionChange
from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import OrderChanged
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.exchanges.models import Position, Trade
from cts_desktop.storage.db import Database


class Manager(Protocol):
    """What of the order manager the pushed updates use."""

    connection_id: str
    paper: bool
    db: Database
    bus: EventBus
    ledger: LedgerWrites
    fills: FillSync
    sync_lock: asyncio.Lock

    def report_change(self, change: PositionChange) -> None: ...


class PushedUpdates:
    def __init__(self, manager: Manager) -> None:
        self.manager = manager

    async def fills(self, trades: list[Trade]) -> int:
        """Fills stored and allocated to their positions at once (a close is in the journal a moment after the
        exchange made it, not at the next sync); returns how many were new."""
        if not trades:
            return 0
        m = self.manager
        async with m.sync_lock:
            added = await m.fills.store_pushed(trades)
            if added:
                for change in await m.ledger(functools.partial(ledger.allocate_and_refresh,
                                                               connection_id=m.connection_id)):
                    m.report_change(change)
        return added

    async def orders(self, orders: list[ExchangeOrder]) -> int:
        """Each of our orders (known by its client id) takes the exchange's state as a REST answer would give
        it; returns how many were ours."""
        ours = [o for o in orders if o.client_id]
        if not ours:
            return 0
        m = self.manager
        async with m.sync_lock:
            known = await m.db.run(functools.partial(rec.known_client_ids, connection_id=m.connection_id))
            mine = [o for o in ours if o.client_id in known]
            for order in mine:
                client_id = order.client_id
                assert client_id is not None
                touched = await m.ledger(functools.partial(rec.apply_order_answer, client_order_id=client_id,
                                                           answer=order))
                for change in await m.ledger(functools.partial(ledger.allocate_and_refresh,
                                                               connection_id=m.connection_id, also=touched)):
                    m.report_change(change)
                m.bus.publish(OrderChanged(key=m.connection_id, client_order_id=client_id, symbol=order.symbol,
                                           status=rec.order_status(order), paper=m.paper))
        return len(mine)

    async def positions(self, positions: list[Position]) -> None:
        """The exchange-position rows (mark price, unrealised PnL, liquidation price, size) follow at once; the
        Real positions are still settled only by fills and the sync's reconciliation."""
        if not positions:
            return
        m = self.manager
        async with m.sync_lock:
            await m.db.run(functools.partial(rec.mirror_positions, connection_id=m.connection_id,
                                             positions=positions, complete=False))
