"""The order manager of one connection: Real signals become sized, checked orders, and Real positions are closed.
Fills, positions, fees and funding are synchronised, and after a start or a reconnect everything is reconciled
with the exchange, by the :class:`~cts_desktop.engine.exchange_sync.ExchangeSync` it holds (``exchange_sync``).

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
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from cts_desktop.domain.sizing import MarketRules, size_position
from cts_desktop.engine import order_records as rec
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.broker import Broker
from cts_desktop.engine.client_ids import new_client_id
from cts_desktop.engine.decisions import DecisionLog
from cts_desktop.engine.exchange_sync import ExchangeSync
from cts_desktop.engine.guards import EntryGuards
from cts_desktop.engine.inflight import InFlightOrders
from cts_desktop.engine.ledger_writes import LedgerWrites
from cts_desktop.engine.margin_modes import MarginModes
from cts_desktop.engine.order_types import EntryOutcome, EntrySignal, ReconcileReport, RiskLimits
from cts_desktop.events.bus import EventBus
from cts_desktop.events.trading import OrderChanged, PositionChanged
from cts_desktop.exchanges.errors import ExchangeError, OrderUnknownError, TemporaryError
from cts_desktop.exchanges.models import Balance, OrderRequest, OrderSide, OrderType
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import RealPosition
from cts_desktop.storage.types import to_decimal

log = logging.getLogger("cts.engine.orders")


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
        self.ledger = LedgerWrites(db)
        self.inflight = InFlightOrders(connection_id, db, broker, self.ledger)
        self.stopping = False
        self.guards = EntryGuards(connection_id, db, bus, paper=paper)
        self.exchange_sync = ExchangeSync(connection_id, db, broker, bus, paper=paper, limits=limits,
                                          ledger=self.ledger, inflight=self.inflight, guards=self.guards,
                                          balance=self.balance)
        self.decisions: DecisionLog | None = None  # the engine's: every entry decision with its reason

    @property
    def kill_switch_active(self) -> bool:
        return self.guards.kill_switch_active

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
        """One reconciliation with the exchange: :meth:`ExchangeSync.sync`."""
        return await self.exchange_sync.sync(symbols)


def _get_position(session: Session, position_id: int) -> RealPosition | None:
    return session.get(RealPosition, position_id)


def _set_reason(session: Session, position_id: int, reason: str) -> None:
    position = session.get(RealPosition, position_id)
    if position is not None:
        position.close_reason = reason
