"""The order manager of one connection: Real signals become sized, checked orders; fills, positions, fees and
funding are synchronised; after a start or a reconnect everything is reconciled with the exchange.

The rules that keep money safe:

* the order row is committed as ``pending`` with its client order id **before** the order is sent;
* an order whose outcome is unknown (timeout, lost response) stays ``unknown`` and is looked up by its client id —
  it is never sent again blindly (the adapter re-submits at most once with the *same* client id, which an exchange
  refuses when it already has it);
* an order on the exchange that the app does not know is recorded as ``external`` — never adopted silently;
* paper and live orders take exactly this path; only the broker differs.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from cts_desktop.domain.sizing import MarketRules, VolumeSettings, size_position
from cts_desktop.engine import order_records as rec
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.broker import Broker
from cts_desktop.engine.client_ids import is_ours, new_client_id
from cts_desktop.engine.decisions import DecisionLog
from cts_desktop.engine.fill_sync import FillSync
from cts_desktop.engine.guards import EntryGuards, equity
from cts_desktop.engine.inflight import InFlightOrders
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.engine.margin_modes import MarginModes
from cts_desktop.engine.position_reconciler import PositionReconciler, SideCheck
from cts_desktop.engine.settlement import Settlement
from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import AlertRaised, OrderChanged, PositionChanged, PositionsReconciled
from cts_desktop.exchanges.errors import ExchangeError, OrderUnknownError, TemporaryError
from cts_desktop.exchanges.models import Balance, OrderRequest, OrderSide, OrderType, Position, Trade
from cts_desktop.exchanges.models import Order as ExchangeOrder
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Alert, BalanceSnapshot, RealPosition
from cts_desktop.storage.types import to_decimal

log = logging.getLogger("cts.engine.orders")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class EntrySignal:
    """A Real-layer decision: open ``direction`` on ``symbol`` now, with exits at these distances (fractions of
    the entry price; ``take_profit_frac`` is None when the set trails, then the engine closes it)."""

    symbol: str
    direction: str
    price: float
    stop_loss_frac: float
    take_profit_frac: float | None
    set_id: int | None = None
    label: str = ""
    preset: bool = False  # from the Preset engine: sized with the connection's Preset volume factor


@dataclass(frozen=True, slots=True)
class RiskLimits:
    max_open_exchange: int = 100
    max_per_symbol_direction: int = 1
    cooldown_s: float = 60.0
    daily_loss_limit_pct: float = 5.0
    volume: VolumeSettings = field(default_factory=VolumeSettings)
    max_drawdown_pct: float = 0.0  # account drawdown guard (engine/guards.py); 0 = off
    sl_streak_count: int = 0  # stop-loss streak guard; 0 = off
    sl_streak_pause_s: float = 3600.0


@dataclass(frozen=True, slots=True)
class EntryOutcome:
    accepted: bool
    reason: str
    client_order_id: str | None = None
    real_position_id: int | None = None
    status: str | None = None


@dataclass(slots=True)
class ReconcileReport:
    resolved: int = 0
    not_sent: int = 0
    still_unknown: int = 0
    external: int = 0
    fills: int = 0
    closed_positions: int = 0


class OrderManager:
    def __init__(
        self,
        connection_id: str,
        db: Database,
        broker: Broker,
        bus: EventBus,
        *,
        paper: bool,
        hedged: bool = True,
        market_rules: Callable[[str], MarketRules],
        amount_to_precision: Callable[[str, Decimal], Decimal],
        price_to_precision: Callable[[str, float], Decimal],
        limits: Callable[[], RiskLimits],
        margin: MarginModes | None = None,
        preset_volume: Callable[[], float] | None = None,
    ) -> None:
        self.connection_id = connection_id
        self.db = db
        self.broker = broker
        self.bus = bus
        self.paper = paper
        self.hedged = hedged
        self.market_rules = market_rules
        self.amount_to_precision = amount_to_precision
        self.price_to_precision = price_to_precision
        self.limits = limits
        self.margin = margin  # live only: the connection's margin type applied per symbol before its first order
        self.preset_volume = preset_volume  # the connection's volume factor of Preset entries (else the live one)
        self._leverage_set: dict[str, int] = {}
        self._balance: tuple[float, Balance] | None = None
        self._lock = asyncio.Lock()  # one entry or exit at a time: the checks read what the previous one wrote
        self._sync_lock = asyncio.Lock()  # one reconciliation at a time (the sync loop, a start, an emergency stop)
        self.ledger = LedgerWrites(db)
        self.inflight = InFlightOrders(connection_id, db, broker, self.ledger)
        self.fills = FillSync(connection_id, db, broker, self.ledger)
        self.reconciler = PositionReconciler(connection_id, db, self.fills, self.ledger, paper=paper)
        self.last_checks: list[SideCheck] = []
        self._refreshed_all = False
        self.stopping = False
        self.guards = EntryGuards(connection_id, db, bus, paper=paper)
        self.decisions: DecisionLog | None = None  # the engine's: every entry decision with its reason

    @property
    def kill_switch_active(self) -> bool:
        return self.guards.kill_switch_active

    def _run(self, fn: Callable[..., T], *args: Any) -> Awaitable[T]:
        """``fn(session, *args)`` in one transaction off the event loop."""
        return self.db.run(lambda session: fn(session, *args))

    # --- entries ---------------------------------------------------------------------------------------------

    async def balance(self, max_age_s: float = 5.0) -> Balance:
        now = time.monotonic()
        if self._balance is None or now - self._balance[0] > max_age_s:
            self._balance = (now, await self.broker.balance("USDT"))
        return self._balance[1]

    async def open_position(self, signal: EntrySignal) -> EntryOutcome:
        async with self._lock:  # one entry at a time: the checks read what the previous entry wrote
            if self.stopping:
                return self._refuse(signal, "paused", "the engine is stopping")
            return await self._open(signal)

    async def drain(self, timeout_s: float = 15.0) -> bool:
        """No new entries from now on; wait (up to ``timeout_s``) for the entry or exit being sent to get its
        answer, so a stop never cuts an order off between sending and recording. True when none was left."""
        self.stopping = True
        try:
            await asyncio.wait_for(self._lock.acquire(), timeout_s)
        except TimeoutError:
            log.warning("an order was still being sent after %.0f s at stop; it is looked up at the next start",
                        timeout_s, extra={"connection_id": self.connection_id})
            return False
        self._lock.release()
        return True

    async def _open(self, signal: EntrySignal) -> EntryOutcome:
        limits = self.limits()
        if signal.preset and self.preset_volume is not None:
            limits = replace(limits, volume=replace(limits.volume, connection_volume_factor=self.preset_volume()))
        refusal = await self.db.run(lambda s: self._check(s, signal, limits))
        if refusal:
            return self._refuse(signal, *refusal)
        balance = await self.balance()
        guarded = await self.guards.check(signal.symbol, limits, balance)
        if guarded:
            return self._refuse(signal, *guarded)
        rules = self.market_rules(signal.symbol)
        sizing = size_position(to_decimal(balance.total), to_decimal(signal.price), rules, limits.volume,
                               free_margin=to_decimal(balance.free))
        if sizing.skipped:
            return self._refuse(signal, "sizing", sizing.reason)
        if sizing.adjusted:
            log.info("%s %s: %s", signal.symbol, signal.direction, sizing.reason,
                     extra={"connection_id": self.connection_id, "symbol": signal.symbol})
        if self.margin is not None and (waiting := await self.margin.ensure(signal.symbol)):
            return self._refuse(signal, "margin", waiting)
        quantity = self.amount_to_precision(signal.symbol, sizing.quantity)
        sign = 1 if signal.direction == "long" else -1
        stop = self.price_to_precision(signal.symbol, signal.price * (1 - sign * signal.stop_loss_frac))
        target = (
            None if signal.take_profit_frac is None
            else self.price_to_precision(signal.symbol, signal.price * (1 + sign * signal.take_profit_frac))
        )
        client_id = new_client_id(self.connection_id)
        entry = rec.NewEntry(
            self.connection_id, signal.set_id, signal.symbol, signal.direction, self.paper, quantity,
            float(sizing.leverage), target, stop, client_id,
        )
        self.inflight.sending.add(client_id)  # from its row's commit until its answer is recorded
        try:
            return await self._enter(signal, entry, sizing.leverage)
        finally:
            self.inflight.sending.discard(client_id)

    async def _enter(self, signal: EntrySignal, entry: rec.NewEntry, leverage: int) -> EntryOutcome:
        position_id, _ = await self.db.run(lambda s: rec.insert_entry(s, entry))
        await self._ensure_leverage(signal.symbol, leverage)
        sign = 1 if signal.direction == "long" else -1
        client_id, target, stop = entry.client_order_id, entry.take_profit, entry.stop_loss
        request = OrderRequest(
            symbol=signal.symbol, side=OrderSide.BUY if sign > 0 else OrderSide.SELL, order_type=OrderType.MARKET,
            amount=float(entry.quantity), client_id=client_id,
            take_profit=None if target is None else float(target),
            stop_loss=None if stop is None else float(stop), hedged=self.hedged,
        )
        status = await self._send(request, position_id)
        accepted = status not in ("rejected", "failed")
        if self.decisions is not None:
            self.decisions.record(signal.symbol, signal.direction, "taken" if accepted else "other",
                                  f"{signal.label or 'entry'}: order {status}")
        return EntryOutcome(accepted, signal.label or "entry", client_id, position_id, status)

    def _check(self, session: Session, signal: EntrySignal, limits: RiskLimits) -> tuple[str, str] | None:
        """(kind, reason) of the limit that refuses ``signal``, or None."""
        if rec.count_open(session, self.connection_id) >= limits.max_open_exchange:
            return "max_open", f"the exchange's maximum of {limits.max_open_exchange} open positions is reached"
        if rec.count_open(session, self.connection_id, signal.symbol, signal.direction) >= \
                limits.max_per_symbol_direction:
            return "max_open", (f"already {limits.max_per_symbol_direction} open {signal.direction} position(s) "
                                f"in {signal.symbol} (the limit per symbol and side)")
        opposite = "short" if signal.direction == "long" else "long"
        if not self.hedged and rec.count_open(session, self.connection_id, signal.symbol, opposite):
            # one-way mode nets both sides into one position: an opposite order would close the open one
            return "max_open", f"one-way position mode: a {opposite} position in {signal.symbol} is open"
        last = rec.last_entry_at(session, self.connection_id, signal.symbol, signal.direction)
        if last is not None:
            last = last if last.tzinfo is not None else last.replace(tzinfo=UTC)
            until = last + timedelta(seconds=limits.cooldown_s)
            if datetime.now(UTC) < until:
                return "cooldown", (f"cooldown until {until.astimezone().strftime('%H:%M:%S')} "
                                    f"({limits.cooldown_s:.0f} s after the last {signal.direction} entry)")
        return None

    def _refuse(self, signal: EntrySignal, kind: str, reason: str) -> EntryOutcome:
        if self.decisions is not None:
            self.decisions.record(signal.symbol, signal.direction, kind, reason)  # logged there, rate-limited
        else:
            log.info("entry refused for %s %s: %s", signal.symbol, signal.direction, reason,
                     extra={"connection_id": self.connection_id, "symbol": signal.symbol})
        return EntryOutcome(False, reason)

    async def _ensure_leverage(self, symbol: str, leverage: int) -> None:
        if self._leverage_set.get(symbol) == leverage:
            return
        setter = getattr(self.broker, "set_leverage", None)
        if setter is None:
            return
        try:
            await setter(symbol, float(leverage))
            self._leverage_set[symbol] = leverage
        except ExchangeError as error:  # e.g. "leverage not modified": the order itself decides
            log.warning("setting leverage %s× on %s failed: %s", leverage, symbol, error,
                        extra={"connection_id": self.connection_id, "symbol": symbol})

    async def _send(self, request: OrderRequest, position_id: int | None) -> str:
        """Send an order whose row is already committed; record the answer, or its absence."""
        client_id = request.client_id
        try:
            answer = await self.broker.place_order(request)
        except TemporaryError as error:
            message = str(error)
            await self.db.run(lambda s: rec.mark_order_unknown(s, client_id, message))
            log.warning("order %s outcome unknown (%s); it will be looked up by client id", client_id, error,
                        extra={"connection_id": self.connection_id, "symbol": request.symbol})
            self._publish_order(client_id, request.symbol, "unknown")
            return "unknown"
        except ExchangeError as error:
            status, message = "rejected", str(error)
            await self.ledger(lambda s: rec.mark_order_failed(s, client_id, status, message))
            log.error("order %s rejected: %s", client_id, error,
                      extra={"connection_id": self.connection_id, "symbol": request.symbol})
            self._publish_order(client_id, request.symbol, status)
            return status
        touched = await self.ledger(lambda s: rec.apply_order_answer(s, client_id, answer))
        if touched:
            connection_id = self.connection_id
            await self.ledger(lambda s: ledger.allocate_and_refresh(s, connection_id, touched))
        status = rec.order_status(answer)
        log.info("order %s %s %s %s: %s", client_id, request.side.value, request.amount, request.symbol, status,
                 extra={"connection_id": self.connection_id, "symbol": request.symbol})
        self._publish_order(client_id, request.symbol, status)
        if position_id is not None:
            self.bus.publish(PositionChanged(key=self.connection_id, position_id=position_id, symbol=request.symbol))
        return status

    def _publish_order(self, client_id: str, symbol: str, status: str) -> None:
        self.bus.publish(OrderChanged(key=self.connection_id, client_order_id=client_id, symbol=symbol,
                                      status=status, paper=self.paper))

    # --- exits ------------------------------------------------------------------------------------------------

    async def close_position(self, position_id: int, reason: str) -> str:
        """Close what is still open of a Real position with a reduce-only market order."""
        async with self._lock:
            client_id = new_client_id(self.connection_id)
            self.inflight.sending.add(client_id)  # from its row's commit until its answer is recorded
            try:
                return await self._close(position_id, reason, client_id)
            finally:
                self.inflight.sending.discard(client_id)

    async def _close(self, position_id: int, reason: str, client_id: str) -> str:
        quantity = await self.db.run(
            lambda s: rec.insert_exit_order(s, self.connection_id, position_id, client_id, self.paper)
        )
        position = await self.db.run(lambda s: s.get(RealPosition, position_id))
        assert position is not None
        if quantity <= 0:
            return "nothing to close"
        await self.db.run(lambda s: _set_reason(s, position_id, reason))
        request = OrderRequest(
            symbol=position.symbol, side=OrderSide.SELL if position.side == "long" else OrderSide.BUY,
            order_type=OrderType.MARKET, amount=float(quantity), client_id=client_id, reduce_only=True,
            hedged=self.hedged,
        )
        return await self._send(request, position_id)

    async def close_all(self, reason: str = "emergency") -> int:
        positions = await self.db.run(lambda s: rec.open_real_positions(s, self.connection_id))
        closed = 0
        for position in positions:
            if position.status in ("open", "closing"):
                status = await self.close_position(position.id, reason)
                closed += status in ("filled", "partially_filled", "open")
        return closed

    async def cancel_open_orders(self) -> int:
        cancelled = 0
        for order in await self.broker.open_orders():
            try:
                await self.broker.cancel_order(order.symbol, order.id, order.client_id)
                cancelled += 1
            except OrderUnknownError:
                continue
        log.warning("cancelled %d open orders", cancelled, extra={"connection_id": self.connection_id})
        return cancelled

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
        balance = await self.balance(max_age_s=0)
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

    def _report_change(self, change: ledger.PositionChange, report: ReconcileReport) -> None:
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

def _get_position(session: Session, position_id: int) -> RealPosition | None:
    return session.get(RealPosition, position_id)


def _set_reason(session: Session, position_id: int, reason: str) -> None:
    position = session.get(RealPosition, position_id)
    if position is not None:
        position.close_reason = reason
