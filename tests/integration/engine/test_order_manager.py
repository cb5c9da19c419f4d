"""The order manager against the simulator (live path) and the paper broker: rows before sending, one order per
client id, exchange-side TP/SL, fills and PnL in the DB equal to the simulator's account to the cent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import EntryOutcome, EntrySignal
from cts_desktop.engine.paper_broker import PaperBroker
from cts_desktop.engine.pnl import cents
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Fill, FundingPayment, Order, RealPosition
from tests.integration.engine.conftest import SYMBOL, manager_for, walk_until_flat
from tests.integration.exchanges.conftest import make_adapter

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_live_entry_reaches_simulator_once_and_pnl_matches_account(
    sim: SimulatorServer, engine_db: Database, exchange: str
) -> None:
    adapter = make_adapter(sim, exchange, balance=10_000.0)
    try:
        await adapter.set_position_mode(True)  # the connections' default: hedge mode
        manager = await manager_for(engine_db, adapter, adapter, paper=False)
        price = sim.market.price("BTC")
        outcome = await manager.open_position(EntrySignal(SYMBOL, "long", price, stop_loss_frac=0.002,
                                                          take_profit_frac=0.004, label="test"))
        assert outcome.accepted, outcome
        account = next(iter(sim.market.keyring.keys.values())).account
        orders = [o for o in account.orders.values() if o.client_id == outcome.client_order_id]
        assert len(orders) == 1
        with engine_db.session() as s:
            row = s.execute(select(Order).where(Order.client_order_id == outcome.client_order_id)).scalar_one()
            assert row.status == "filled" and row.exchange_order_id
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.status == "open"
            assert position.stop_loss is not None and position.take_profit is not None
        # a second entry in the same symbol and direction is refused by the pre-trade checks
        refused = await manager.open_position(EntrySignal(SYMBOL, "long", price, 0.002, 0.004))
        assert not refused.accepted and "already 1 open long" in refused.reason
        # walk the market until the exchange-side TP or SL closes the position
        walk_until_flat(sim)
        report = await manager.sync([SYMBOL])
        assert report.closed_positions == 1
        with engine_db.session() as s:
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.status == "closed"
            assert position.close_reason in ("take_profit", "stop_loss")
            fills = s.execute(select(func.count()).select_from(Fill)).scalar_one()
            assert fills >= 2
            net = position.realized_pnl - position.fees
            funding = s.execute(select(func.coalesce(func.sum(FundingPayment.amount), 0))).scalar_one()
        # the DB's money equals the exchange account's to the cent
        wallet = Decimal(repr(account.wallet))
        assert cents(Decimal(10_000) + net + Decimal(funding)) == cents(wallet)
    finally:
        await adapter.close()


async def test_paper_broker_takes_the_same_path(sim: SimulatorServer, engine_db: Database) -> None:
    adapter = make_adapter(sim, "bybit")
    try:
        balance = await adapter.balance()
        paper = PaperBroker(Decimal(repr(balance.total)), {}, Decimal("0.00055"))
        price = sim.market.price("BTC")
        paper.on_price(SYMBOL, price)
        manager = await manager_for(engine_db, adapter, paper, paper=True)
        outcome = await manager.open_position(EntrySignal(SYMBOL, "short", price, 0.002, 0.004))
        assert outcome.accepted and outcome.status == "filled"
        account = next(iter(sim.market.keyring.keys.values())).account
        assert not account.orders  # nothing reached the exchange
        paper.on_price(SYMBOL, price * 1.003)  # through the stop of a short
        report = await manager.sync([SYMBOL])
        assert report.closed_positions == 1
        with engine_db.session() as s:
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.paper and position.close_reason == "stop_loss"
            expected = (Decimal(repr(price)) - Decimal(repr(price * 1.003))) * position.quantity
            assert cents(position.realized_pnl) == cents(expected)
        assert cents(Decimal(repr((await paper.balance()).total))) == cents(
            Decimal(repr(balance.total)) + position.realized_pnl - position.fees
        )
    finally:
        await adapter.close()


async def _long_closed_by_its_exchange_stop(
    sim: SimulatorServer, engine_db: Database, adapter: ExchangeAdapter, sync_first: bool = False
) -> tuple[OrderManager, EntryOutcome, Any]:
    """A live long with exchange-side TP/SL, then the market walked until one of them closed it on the exchange."""
    await adapter.set_position_mode(True)
    manager = await manager_for(engine_db, adapter, adapter, paper=False)
    price = sim.market.price("BTC")
    outcome = await manager.open_position(EntrySignal(SYMBOL, "long", price, stop_loss_frac=0.002,
                                                      take_profit_frac=0.004, label="test"))
    assert outcome.accepted, outcome
    if sync_first:
        await manager.sync([SYMBOL])
    account = next(iter(sim.market.keyring.keys.values())).account
    walk_until_flat(sim)
    return manager, outcome, account


async def test_a_position_gone_on_the_exchange_is_closed_from_its_own_fills(
    sim: SimulatorServer, engine_db: Database
) -> None:
    """Whatever happened to the incremental fills mark, a position the exchange no longer holds is settled from
    the fills since its opening."""
    adapter = make_adapter(sim, "bybit", balance=10_000.0)
    try:
        manager, outcome, account = await _long_closed_by_its_exchange_stop(sim, engine_db, adapter, sync_first=True)
        # a mark past the closing fill: the incremental read misses it
        manager.exchange_sync.fills._trades_since[SYMBOL] = 2**62
        report = await manager.sync([SYMBOL])
        assert report.closed_positions == 1
        with engine_db.session() as s:
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.status == "closed"
            assert position.close_reason in ("take_profit", "stop_loss")
            wallet = Decimal(repr(account.wallet))
            assert cents(Decimal(10_000) + position.realized_pnl - position.fees + position.funding) == cents(wallet)
    finally:
        await adapter.close()


async def test_closing_a_position_its_exchange_stop_already_closed_changes_nothing(
    sim: SimulatorServer, engine_db: Database
) -> None:
    """The pseudo twin of a Real position exits after the exchange-side stop closed the position (or an emergency
    stop closes all): no order row is written, nothing is sent and the position stays closed (it used to become
    ``closing`` again with a pending order that never left)."""
    adapter = make_adapter(sim, "bybit", balance=10_000.0)
    try:
        manager, outcome, account = await _long_closed_by_its_exchange_stop(sim, engine_db, adapter)
        assert (await manager.sync([SYMBOL])).closed_positions == 1
        orders_before = len(account.orders)
        with engine_db.session() as s:
            rows_before = s.execute(select(func.count()).select_from(Order)).scalar_one()
        assert await manager.close_position(outcome.real_position_id, "pseudo exit") == "nothing to close"
        assert await manager.close_all() == 0
        assert len(account.orders) == orders_before
        with engine_db.session() as s:
            assert s.execute(select(func.count()).select_from(Order)).scalar_one() == rows_before
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.status == "closed"
            assert position.close_reason in ("take_profit", "stop_loss")
    finally:
        await adapter.close()
