"""The synchronisation of one connection's order manager with the exchange: fills, positions, fees and funding
are synchronised; after a start or a reconnect everything is reconciled with the exchange. The order manager
(:mod:`cts_desktop.engine.order_manager`) holds one and hands it the parts it shares with the entries and exits.

An order on the exchange that the app does not know is recorded as ``external`` — never adopted silently; an order
whose outcome is unknown is looked up by its client id (:mod:`cts_desktop.engine.inflight`), never sent again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, TypeVar

from cts_desktop.engine import order_records as rec
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.broker import Broker
from cts_desktop.engine.client_ids import is_ours
from cts_desktop.engine.fill_sync import FillSync
from cts_desktop.engine.guards import EntryGuards, equity
from cts_desktop.engine.inflight import InFlightOrders
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.engine.order_types import ReconcileReport, RiskLimits
from cts_desktop.engine.position_ledger import PositionChange
from cts_desktop.engine.position_reconciler import PositionReconciler, SideCheck
from cts_desktop.engine.settlement import Settlement
from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import AlertRaised, OrderChanged, PositionChanged, PositionsReconciled
from cts_desktop.exchanges.models import Balance, Position, Trade
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Alert, BalanceSnapshot
from cts_desktop.storage.types import to_decimal

log = logging.getLogger("cts.engine.orders")
T = TypeVar("T")


@dataclass(eq=False)
class ExchangeSync:
    """One connection's reconciliation with the exchange; the order manager hands it what it shares with the
    entries and exits (the ledger writes, the orders in flight, the entry guards, its cached balance)."""

    connection_id: str
    db: Database
    broker: Broker
    bus: EventBus
    _: KW_ONLY
    paper: bool
    limits: Callable[[], RiskLimits]
    ledger: LedgerWrites
    inflight: InFlightOrders
    guards: EntryGuards
    balance: Callable[[float], Awaitable[Balance]]  # the order manager's cached balance, read fresh once per sync
    # one reconciliation at a time (the sync loop, a start, an emergency stop)
    _sync_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)
    fills: FillSync = field(init=False)
    reconciler: PositionReconciler = field(init=False)
    last_checks: list[SideCheck] = field(init=False, default_factory=list)
    _refreshed_all: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.fills = FillSync(self.connection_id, self.db, self.broker, self.ledger)
        self.reconciler = PositionReconciler(self.connection_id, self.db, self.fills, self.ledger, paper=self.paper)

    def _run(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        """``fn(session, *args)`` in one transaction off the event loop."""
        return self.db.run(lambda session: fn(session, *args))

    # --- synchronisation ----------------------------------------------------------------------------------------

    async def sync(self, symbols: list[str]) -> ReconcileReport:
        """One reconciliation with the exchange (every sync cycle): orders in flight looked up, positions read,
        then fills and funding since the marks allocated to the Real positions, and per symbol and side the DB's
        live quantity compared with the exchange's — differences no fill explains settled once. Balance last."""
        async with self._sync_lock:
            return await self._sync(symbols)

    async def _sync(self, symbols: list[str]) -> ReconcileReport:
        report = ReconcileReport()
        inflight, touched = await self.inflight.resolve()
        report.resolved, report.not_sent, report.still_unknown = (
            inflight.resolved, inflight.not_sent, inflight.still_unknown)
        positions = await self.broker.positions()  # before the fills: every fill that built them is listed then
        live = await self._run(rec.open_real_positions, self.connection_id)
        held = {p.symbol for p in positions if p.contracts > 0}
        report.fills = await self.fills.fills(sorted(set(symbols) | {p.symbol for p in live} | held))
        if not self._refreshed_all:
            touched |= {p.id for p in live}  # once after a start: positions stored by an older version
        connection_id = self.connection_id
        changes = await self.ledger(lambda s: ledger.allocate_and_refresh(s, connection_id, touched))
        self._refreshed_all = True
        funded = await self.fills.funding(sorted({p.symbol for p in live} | held))  # shared by the fills' holdings
        changes += await self.ledger(lambda s: ledger.allocate_and_refresh(s, connection_id, funded))
        await self.db.run(lambda s: rec.mirror_positions(s, connection_id, positions))
        in_flight = await self._run(rec.unresolved_symbols, connection_id)
        self.last_checks = await self.reconciler.check(positions, in_flight)
        for check in self.last_checks:
            if check.settled is not None:
                await self._settled(check.settled)
        changes += self.reconciler.changes + await self.ledger(lambda s: ledger.allocate_and_refresh(s, connection_id))
        self.reconciler.changes = []
        for change in changes:
            self._report_change(change, report)
        balance = await self.balance(0)
        await self.guards.observe(self.limits(), balance, positions)
        unrealised, paper = self.guards.unrealised, self.paper
        await self.db.run(lambda s: s.add(BalanceSnapshot(
            connection_id=connection_id, total=to_decimal(balance.total), free=to_decimal(balance.free),
            used=to_decimal(balance.used), paper=paper, unrealized_pnl=unrealised,
            equity=equity(balance, unrealised, paper),
        )))
        self.bus.publish(PositionsReconciled(
            key=connection_id, checked=len(self.last_checks),
            differences=sum(c.state != "equal" for c in self.last_checks),
            settled=sum(c.state == "settled" for c in self.last_checks),
        ))
        return report

    def _report_change(self, change: PositionChange, report: ReconcileReport) -> None:
        if change.before == change.after:
            return
        if change.after == "closed":
            report.closed_positions += 1
            log.info("position %s %s %s closed (%s): net %s USDT", change.id, change.side, change.symbol,
                     change.close_reason, change.net, extra={"connection_id": self.connection_id,
                                                               "symbol": change.symbol})
        self.bus.publish(PositionChanged(key=self.connection_id, position_id=change.id, symbol=change.symbol))

    async def _settled(self, done: Settlement) -> None:
        """A settled difference is told once: an alert (stored, and a desktop notification) naming the reason."""
        message = f"positions reconciled with the exchange: {done.summary}"
        connection_id = self.connection_id
        await self.db.run(lambda s: s.add(Alert(severity="warning", source="reconciliation",
                                                connection_id=connection_id, message=message[:2000])))
        self.bus.publish(AlertRaised(key=connection_id, severity="warning", source="reconciliation",
                                     message=message))
        for part in done.parts:
            self.bus.publish(PositionChanged(key=self.connection_id, position_id=part.position_id,
                                             symbol=done.key.symbol))

    # --- pushed by the exchange (private stream) ----------------------------------------------------------------

    async def apply_pushed_fills(self, trades: list[Trade]) -> int:
        """Fills from the exchange's private stream, stored and allocated to their positions at once (a close is
        in the journal a moment after the exchange made it, not at the next sync); returns how many were new."""
        if not trades:
            return 0
        connection_id = self.connection_id
        async with self._sync_lock:
            added = await self.fills.store_pushed(trades)
            if added:
                for change in await self.ledger(lambda s: ledger.allocate_and_refresh(s, connection_id)):
                    self._report_change(change, ReconcileReport())
        return added

    async def apply_pushed_orders(self, orders: list[ExchangeOrder]) -> int:
        """Order updates from the private stream: each of our orders (known by its client id) takes the
        exchange's state as a REST answer would give it; returns how many were ours."""
        connection_id = self.connection_id
        ours = [o for o in orders if o.client_id]
        if not ours:
            return 0
        async with self._sync_lock:
            known = await self._run(rec.known_client_ids, connection_id)
            mine = [o for o in ours if o.client_id in known]
            for order in mine:
                client_id = order.client_id
                assert client_id is not None
                touched = await self.ledger(functools.partial(rec.apply_order_answer, client_order_id=client_id,
                                                              answer=order))
                changes = await self.ledger(functools.partial(ledger.allocate_and_refresh,
                                                              connection_id=connection_id, also=touched))
                for change in changes:
                    self._report_change(change, ReconcileReport())
                self.bus.publish(OrderChanged(key=connection_id, client_order_id=client_id,
                                              symbol=order.symbol, status=rec.order_status(order),
                                              paper=self.paper))
        return len(mine)

    async def apply_pushed_positions(self, positions: list[Position]) -> None:
        """Position updates from the private stream: the exchange-position rows (mark price, unrealised PnL,
        liquidation price, size) follow at once; the Real positions are still settled only by fills and the sync's
        reconciliation."""
        if not positions:
            return
        connection_id = self.connection_id
        async with self._sync_lock:
            await self.db.run(functools.partial(rec.mirror_positions, connection_id=connection_id,
                                                positions=positions, complete=False))

    async def sync_until_settled(self, symbols: list[str], timeout_s: float = 10.0) -> ReconcileReport:
        """:meth:`sync` again (every half second, up to ``timeout_s``) while a closing order's fill has not reached
        the DB yet: an emergency close must leave no position 'closing' when the engine stops (the exchange may
        report a market order's fill a moment after accepting it)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            report = await self.sync(symbols)
            positions = await self.db.run(lambda s: rec.open_real_positions(s, self.connection_id))
            if not any(p.status == "closing" for p in positions) or loop.time() >= deadline:
                return report
            await asyncio.sleep(0.5)

    async def reconcile(self, symbols: list[str]) -> ReconcileReport:
        """After a start or a reconnect: every unresolved order looked up by its client id at once, unknown
        exchange orders recorded as external, then one full sync."""
        async with self._sync_lock:
            first, touched = await self.inflight.resolve(now_only=True)
            connection_id = self.connection_id
            await self.ledger(lambda s: ledger.allocate_and_refresh(s, connection_id, touched))
            external = 0
            known = await self.db.run(lambda s: rec.known_client_ids(s, self.connection_id))
            known_ids = await self.db.run(lambda s: rec.known_exchange_ids(s, self.connection_id))
            for order in await self.broker.open_orders():
                if (order.client_id and order.client_id in known) or order.id in known_ids:
                    continue
                await self._run(rec.insert_external_order, self.connection_id, order, self.paper)
                external += 1
                log.warning("order %s on %s was not placed by this app: recorded as external (%s)", order.id,
                            order.symbol,
                            f"client id {order.client_id}" if is_ours(order.client_id) else "no client id",
                            extra={"connection_id": self.connection_id, "symbol": order.symbol})
            report = await self._sync(symbols)
            report.external = external
            report.resolved += first.resolved
            report.not_sent += first.not_sent
            report.still_unknown = report.still_unknown or first.still_unknown
            return report
