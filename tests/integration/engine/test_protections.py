"""The protections of Real entries against the simulator (live) and the paper broker: the daily-loss kill switch,
the account drawdown guard and the stop-loss streak guard each refuse an entry from their threshold on (and not
below it), say why in the decision log, store an alert and show their state; cooldown and the per-side limit give
their reasons too."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from cts_desktop.engine.decisions import DecisionLog
from cts_desktop.engine.margin_modes import MarginModes
from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.engine.paper_broker import PaperBroker
from cts_desktop.events.status import EntryDecision
from cts_desktop.events.trading import AlertRaised, EntryDecided
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Alert, RealPosition
from tests.integration.engine.conftest import LIMITS, SYMBOL, manager_for, sim_account
from tests.integration.exchanges.conftest import make_adapter

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])
ETH = "ETH/USDT:USDT"
OPEN_LIMITS = replace(LIMITS, max_per_symbol_direction=10, max_open_exchange=50)


def seed_closed(db: Database, net: Decimal, *, symbol: str = SYMBOL, reason: str = "closed", paper: bool = False,
                minutes_ago: float = 60) -> None:
    """One closed Real position of connection c1 whose net result (realised − fees) is ``net``."""
    closed = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    with db.session() as s:
        s.add(RealPosition(connection_id="c1", symbol=symbol, side="long", paper=paper, quantity=Decimal("0.01"),
                           entry_price=Decimal(60000), exit_price=Decimal(59000), realized_pnl=net, fees=Decimal(0),
                           status="closed", close_reason=reason, opened_at=closed - timedelta(minutes=5),
                           closed_at=closed))


def watch(manager: OrderManager) -> tuple[list[EntryDecision], list[AlertRaised]]:
    decisions: list[EntryDecision] = []
    alerts: list[AlertRaised] = []
    manager.decisions = DecisionLog("c1", manager.bus)
    manager.bus.subscribe(EntryDecided, lambda e: decisions.append(e.decision))
    manager.bus.subscribe(AlertRaised, alerts.append)
    return decisions, alerts


def stored_alerts(db: Database) -> list[str]:
    with db.session() as s:
        return list(s.execute(select(Alert.message).where(Alert.source == "protection")).scalars())


async def live(sim: SimulatorServer, db: Database, **limits: object) -> tuple[ExchangeAdapter, OrderManager]:
    adapter = make_adapter(sim, "bybit", balance=10_000.0)
    await adapter.set_position_mode(True)
    return adapter, await manager_for(db, adapter, adapter, paper=False, limits=replace(OPEN_LIMITS, **limits))


def signal(sim: SimulatorServer, direction: str = "long", symbol: str = SYMBOL) -> EntrySignal:
    base = symbol.split("/")[0]
    return EntrySignal(symbol, direction, sim.market.price(base), 0.01, 0.02, label="test")


async def test_kill_switch_trips_above_its_daily_loss_limit(sim: SimulatorServer, engine_db: Database) -> None:
    adapter, manager = await live(sim, engine_db, daily_loss_limit_pct=5.0)
    decisions, alerts = watch(manager)
    try:
        seed_closed(engine_db, Decimal(-490))  # 4.9 % of 10,000: under the limit
        first = await manager.open_position(signal(sim))
        assert first.accepted, first
        assert decisions[-1].kind == "taken" and not manager.kill_switch_active
        state = manager.guards.states(manager.limits())[0]
        assert state.enabled and not state.tripped and state.threshold == "5 %"
        seed_closed(engine_db, Decimal(-20))  # now 5.1 % (with the open position's fee)
        refused = await manager.open_position(signal(sim, "short"))
        assert not refused.accepted and manager.kill_switch_active
        assert decisions[-1].kind == "kill_switch" and "daily loss 5.1" in decisions[-1].reason, decisions[-1]
        assert "> 5 %" in decisions[-1].reason
        account = next(iter(sim.market.keyring.keys.values())).account
        assert len(account.orders) == 1  # only the first entry reached the exchange
        assert any("kill switch tripped" in a.message for a in alerts)
        assert any("kill switch tripped" in m for m in stored_alerts(engine_db))
        state = manager.guards.states(manager.limits())[0]
        assert state.tripped and state.value.startswith("loss 5.1") and "TRIPPED" in state.text
    finally:
        await adapter.close()


async def test_drawdown_guard_pauses_entries_from_its_threshold_and_resumes(
        sim: SimulatorServer, engine_db: Database) -> None:
    adapter = make_adapter(sim, "bybit", balance=10_000.0)
    try:
        paper = PaperBroker(Decimal(10_000), {}, Decimal("0.00055"))
        price = sim.market.price("BTC")
        paper.on_price(SYMBOL, price)
        manager = await manager_for(engine_db, adapter, paper, paper=True,
                                    limits=replace(OPEN_LIMITS, max_drawdown_pct=2.0))
        decisions, alerts = watch(manager)
        opened = await manager.open_position(EntrySignal(SYMBOL, "long", price, 0.5, None))
        assert opened.accepted, opened
        await manager.sync([SYMBOL])
        peak = manager.guards.peak
        assert peak is not None
        with engine_db.session() as s:
            position = s.get(RealPosition, opened.real_position_id)
            assert position is not None
            quantity, entry = position.open_quantity, position.entry_price
        assert entry is not None

        def price_for(drawdown_pct: str) -> float:  # the long's mark that puts equity this far below the peak
            assert peak is not None and entry is not None
            return float(entry - peak * Decimal(drawdown_pct) / 100 / quantity)

        paper.on_price(SYMBOL, price_for("1.9"))
        await manager.sync([SYMBOL])
        assert not manager.guards.drawdown_active
        paper.on_price(ETH, 3000.0)
        ok = await manager.open_position(EntrySignal(ETH, "long", 3000.0, 0.5, None))  # its price stays
        assert ok.accepted, ok
        paper.on_price(SYMBOL, price_for("2.1"))
        await manager.sync([SYMBOL])
        assert manager.guards.drawdown_active
        assert any("drawdown guard tripped" in a.message for a in alerts)
        refused = await manager.open_position(EntrySignal(ETH, "short", 3000.0, 0.5, None))
        assert not refused.accepted and decisions[-1].kind == "drawdown", decisions[-1]
        assert "below its peak" in decisions[-1].reason and "2 %" in decisions[-1].reason
        assert manager.guards.states(manager.limits())[1].tripped
        paper.on_price(SYMBOL, price_for("1.0"))  # recovered: entries again
        await manager.sync([SYMBOL])
        assert not manager.guards.drawdown_active
    finally:
        await adapter.close()


async def test_stop_loss_streak_pauses_the_symbol(sim: SimulatorServer, engine_db: Database) -> None:
    adapter, manager = await live(sim, engine_db, sl_streak_count=3, sl_streak_pause_s=3600.0)
    decisions, alerts = watch(manager)
    try:
        seed_closed(engine_db, Decimal(-5), reason="take_profit", minutes_ago=30)
        for minutes in (20, 10):
            seed_closed(engine_db, Decimal(-5), reason="stop_loss", minutes_ago=minutes)
        two = await manager.open_position(signal(sim))  # two stops in a row: under the streak
        assert two.accepted, two
        seed_closed(engine_db, Decimal(-5), reason="stop_loss", minutes_ago=1)
        refused = await manager.open_position(signal(sim, "short"))
        assert not refused.accepted and decisions[-1].kind == "sl_streak", decisions[-1]
        assert "3 stops in a row on BTC/USDT:USDT" in decisions[-1].reason and "paused until" in decisions[-1].reason
        other = await manager.open_position(signal(sim, "long", ETH))  # another symbol trades on
        assert other.accepted, other
        assert any("stop-loss streak guard" in a.message for a in alerts)
        state = manager.guards.states(manager.limits())[2]
        assert state.tripped and state.value.startswith("BTC until")
        seed_closed(engine_db, Decimal(2), reason="manual", minutes_ago=0.2)  # a close that was no stop
        again = await manager.open_position(signal(sim, "short"))
        assert again.accepted, again  # the stops are no longer "in a row"
        assert not manager.guards.states(manager.limits())[2].tripped
    finally:
        await adapter.close()


async def test_cooldown_and_side_limit_say_why(sim: SimulatorServer, engine_db: Database) -> None:
    adapter, manager = await live(sim, engine_db, cooldown_s=600.0, max_per_symbol_direction=1)
    decisions, _ = watch(manager)
    try:
        assert (await manager.open_position(signal(sim))).accepted
        refused = await manager.open_position(signal(sim))
        assert not refused.accepted and decisions[-1].kind == "max_open"
        assert "already 1 open long" in decisions[-1].reason
        manager.limits = lambda: replace(OPEN_LIMITS, cooldown_s=600.0)
        refused = await manager.open_position(signal(sim))
        assert decisions[-1].kind == "cooldown" and "cooldown until" in decisions[-1].reason, decisions[-1]
        with engine_db.session() as s:
            opened = s.execute(select(RealPosition.opened_at)).scalar_one()
        until = (opened.replace(tzinfo=UTC) + timedelta(seconds=600)).astimezone().strftime("%H:%M:%S")
        assert decisions[-1].reason.startswith(f"cooldown until {until} (600 s after the last long entry)")
    finally:
        await adapter.close()


async def test_sizing_and_margin_refusals_say_why(sim: SimulatorServer, engine_db: Database) -> None:
    """An entry the balance cannot carry, and one whose symbol cannot take the connection's margin type while a
    position is open, are refused with the rule's own reason; nothing of them reaches the exchange."""
    poor = make_adapter(sim, "bybit", balance=0.05)
    manager = await manager_for(engine_db, poor, poor, paper=False, limits=OPEN_LIMITS)
    decisions, _ = watch(manager)
    try:
        refused = await manager.open_position(signal(sim))
        assert not refused.accepted and decisions[-1].kind == "sizing", decisions[-1]
        assert "exceeds free margin 0.05" in decisions[-1].reason, decisions[-1]
    finally:
        await poor.close()
    adapter, manager = await live(sim, engine_db)
    decisions, _ = watch(manager)
    try:
        assert (await manager.open_position(signal(sim))).accepted  # opened on the account's cross margin
        wanted = "isolated"
        manager.margin = MarginModes("c1", adapter, lambda: wanted,
                                     account_wide=not adapter.caps.margin_mode_per_symbol)
        account = sim_account(sim)
        orders_before = len(account.orders)
        assert orders_before == 1
        refused = await manager.open_position(signal(sim, "short"))
        assert not refused.accepted and decisions[-1].kind == "margin", decisions[-1]
        assert decisions[-1].reason.startswith(f"margin type isolated cannot be applied to {SYMBOL} while a "
                                               "position is open"), decisions[-1]
        assert len(account.orders) == orders_before
        assert await adapter.margin_mode(SYMBOL) == "cross"
    finally:
        await adapter.close()
