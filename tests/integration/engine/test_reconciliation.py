"""The DB equals the exchange (the simulator through real ccxt) per symbol and side, while running: orders whose
answer was lost are resolved by the next syncs and their fills linked, orders that never arrived are given up
after the grace, several positions of one side close together with the exchange's stop, funding of a long and
a short reaches both, and a difference no fill explains is settled once — then equal, with no more warnings."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import EntrySignal, RiskLimits
from cts_desktop.engine.pnl import cents
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.faults import FaultKind
from cts_desktop.exchanges.simulator.replay import FUNDING_INTERVAL_MS
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Alert, Fill, FundingPayment, Order, PositionAdjustment, RealPosition
from tests.integration.engine.conftest import (
    LIMITS,
    SYMBOL,
    db_sides,
    exchange_sides,
    manager_for,
    sim_account,
    walk_until_flat,
)
from tests.integration.exchanges.conftest import make_adapter

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])

ORDER_PATHS = {  # create, look-up by client id
    "bybit": (("POST", "/v5/order/create"), ("GET", "/v5/order/")),
    "bingx": (("POST", "/openApi/swap/v2/trade/order"), ("GET", "/openApi/swap/v2/trade/order")),
}
HEDGE_3 = RiskLimits(max_open_exchange=10, max_per_symbol_direction=3, cooldown_s=0, daily_loss_limit_pct=0,
                     volume=LIMITS.volume)


async def _live_manager(sim: SimulatorServer, db: Database, exchange: str, limits: RiskLimits = LIMITS
                        ) -> tuple[ExchangeAdapter, OrderManager]:
    adapter = make_adapter(sim, exchange, balance=10_000.0)
    await adapter.set_position_mode(True)
    return adapter, await manager_for(db, adapter, adapter, paper=False, limits=limits)


def _order(db: Database, client_id: str | None) -> Order:
    with db.session() as s:
        row = s.execute(select(Order).where(Order.client_order_id == client_id)).scalar_one()
        s.expunge(row)
        return row


async def _sync_until(manager: OrderManager, done: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the condition did not come true while syncing"
        await manager.sync([SYMBOL])


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_an_order_whose_answer_was_lost_is_resolved_while_running_and_its_fill_linked(
    sim: SimulatorServer, engine_db: Database, exchange: str
) -> None:
    adapter, manager = await _live_manager(sim, engine_db, exchange)
    try:
        (create_method, create), (lookup_method, lookup) = ORDER_PATHS[exchange]
        sim.faults.add(create, FaultKind.RESPONSE_LOST, count=1, method=create_method)
        sim.faults.add(lookup, FaultKind.HTTP_5XX, count=None, method=lookup_method)  # look-ups fail for now
        outcome = await manager.open_position(EntrySignal(SYMBOL, "long", sim.market.price("BTC"), 0.3, None))
        assert outcome.status == "unknown"
        assert _order(engine_db, outcome.client_order_id).status == "unknown"
        await manager.sync([SYMBOL])  # the exchange filled it: the fill arrives first, linked by its client id
        with engine_db.session() as s:
            fill = s.execute(select(Fill)).scalar_one()
            assert fill.order_id == _order(engine_db, outcome.client_order_id).id
        assert db_sides(engine_db) == exchange_sides(sim) != {}
        assert _order(engine_db, outcome.client_order_id).status == "unknown"
        sim.faults.clear()  # the next syncs (not the next start) look the order up and resolve it
        await _sync_until(manager, lambda: _order(engine_db, outcome.client_order_id).status == "filled", 20)
        row = _order(engine_db, outcome.client_order_id)
        assert row.exchange_order_id == sim_account(sim).by_client[outcome.client_order_id]
        with engine_db.session() as s:
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.status == "open"
            assert position.open_quantity == exchange_sides(sim)[ledger.SideKey(SYMBOL, "long")]
    finally:
        await adapter.close()


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_an_order_that_never_reached_the_exchange_is_given_up_after_the_grace(
    sim: SimulatorServer, engine_db: Database, exchange: str
) -> None:
    adapter, manager = await _live_manager(sim, engine_db, exchange)
    manager.inflight.grace = timedelta(seconds=2)
    try:
        (create_method, create), _ = ORDER_PATHS[exchange]
        sim.faults.add(create, FaultKind.TIMEOUT, count=2, seconds=0.05, method=create_method)
        outcome = await manager.open_position(EntrySignal(SYMBOL, "short", sim.market.price("BTC"), 0.3, None))
        assert outcome.status == "unknown" and not sim_account(sim).orders
        await _sync_until(manager, lambda: _order(engine_db, outcome.client_order_id).status == "not_sent", 20)
        with engine_db.session() as s:
            position = s.get(RealPosition, outcome.real_position_id)
            assert position is not None and position.status == "failed"
        assert db_sides(engine_db) == exchange_sides(sim) == {}
        # and the limit counts it no more: the next entry goes through
        again = await manager.open_position(EntrySignal(SYMBOL, "short", sim.market.price("BTC"), 0.3, None))
        assert again.accepted and again.status == "filled"
    finally:
        await adapter.close()


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
@pytest.mark.parametrize("funded", [False, True], ids=["no-funding", "funding-then-stop"])
async def test_three_positions_of_one_side_close_with_the_exchanges_stop_and_money_matches(
    sim: SimulatorServer, engine_db: Database, exchange: str, funded: bool
) -> None:
    """``funded``: a funding settlement falls between the last entry and the exchange's stop, with no sync between
    them — the stop's fill comes in the settlement's own second (BingX stamps fills to the second, so it reads as
    before the settlement), and the payment still reaches the three positions that paid it."""
    adapter, manager = await _live_manager(sim, engine_db, exchange, HEDGE_3)
    try:
        ids = []
        to_settlement = FUNDING_INTERVAL_MS - sim.market.processed_replay % FUNDING_INTERVAL_MS
        if funded:  # the settlement 100 s ahead: after the three entries (30 s apart), within the walk to the stop
            sim.market.step(to_settlement - 100_000)
        elif to_settlement < 3_600_000:  # none during this test, whenever it runs: past the next one, flat
            sim.market.step(to_settlement + 1_000)
        for n in range(3):
            price = sim.market.price("BTC")
            outcome = await manager.open_position(EntrySignal(SYMBOL, "long", price, 0.002 + n * 0.001, 0.004))
            assert outcome.accepted, outcome
            ids.append(outcome.real_position_id)
            await manager.sync([SYMBOL])
            assert db_sides(engine_db) == exchange_sides(sim)
            sim.market.step(30_000)
        walk_until_flat(sim)
        report = await manager.sync([SYMBOL])
        assert db_sides(engine_db) == exchange_sides(sim) == {}
        assert report.closed_positions == 3
        with engine_db.session() as s:
            positions = [s.get(RealPosition, i) for i in ids]
            assert all(p is not None and p.status == "closed" and p.exit_price for p in positions)
            net = sum((p.realized_pnl - p.fees + p.funding for p in positions if p), Decimal(0))
            funding = sum(s.execute(select(FundingPayment.amount)).scalars(), Decimal(0))
            assert not s.execute(select(PositionAdjustment)).first(), "fills explain it all: nothing settled"
        assert cents(Decimal(10_000) + net) == cents(Decimal(repr(sim_account(sim).wallet)))
        assert cents(sum((p.funding for p in positions if p), Decimal(0))) == cents(funding)
        assert (funding != 0) == funded and all(p is not None and (p.funding != 0) == funded for p in positions)
    finally:
        await adapter.close()


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_funding_of_a_long_and_a_short_reaches_both_and_the_daily_loss(
    sim: SimulatorServer, engine_db: Database, exchange: str
) -> None:
    adapter, manager = await _live_manager(sim, engine_db, exchange)
    try:
        price = sim.market.price("BTC")
        long = await manager.open_position(EntrySignal(SYMBOL, "long", price, 0.5, None))
        short = await manager.open_position(EntrySignal(SYMBOL, "short", price, 0.5, None))
        assert long.accepted and short.accepted
        to_boundary = FUNDING_INTERVAL_MS - sim.market.processed_replay % FUNDING_INTERVAL_MS
        for _ in range(2):  # two settlements
            sim.market.step(to_boundary)
            to_boundary = FUNDING_INTERVAL_MS
        executions = [e for e in sim_account(sim).executions if e.exec_type == "Funding"]
        assert len(executions) == 4, "both sides were charged twice"
        await manager.sync([SYMBOL])
        paid = {e.side: Decimal(0) for e in executions}
        for e in executions:
            paid[e.side] -= Decimal(repr(e.fee))
        with engine_db.session() as s:
            stored = sum(s.execute(select(FundingPayment.amount)).scalars(), Decimal(0))
            positions = {p.side: p for p in (s.get(RealPosition, long.real_position_id),
                                             s.get(RealPosition, short.real_position_id)) if p}
        assert cents(stored) == cents(sum(paid.values(), Decimal(0)))
        assert cents(positions["long"].funding) == cents(paid["Buy"])
        assert cents(positions["short"].funding) == cents(paid["Sell"])
        assert positions["long"].funding + positions["short"].funding == stored  # exact: nothing left over
        wallet = Decimal(repr(sim_account(sim).wallet))
        assert cents(Decimal(10_000) - positions["long"].fees - positions["short"].fees + stored) == cents(wallet)
        from datetime import UTC, datetime

        from cts_desktop.engine import order_records as rec

        with engine_db.session() as s:
            net = rec.net_result_since(s, "c1", datetime.now(UTC) - timedelta(hours=24))
        assert cents(net) == cents(stored - positions["long"].fees - positions["short"].fees)
    finally:
        await adapter.close()


async def test_a_difference_no_fill_explains_is_settled_once_and_entries_flow_again(
    sim: SimulatorServer, engine_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The exchange closes a position and its fill never reaches the app (here: the account's fill list loses
    it). The DB holds a phantom; it is settled once (alert, adjustment with the reason), entries are no longer
    refused because of it, and the following syncs are quiet."""
    adapter, manager = await _live_manager(sim, engine_db, "bybit")
    manager.exchange_sync.reconciler.settle_after_s = 0.5
    try:
        first = await manager.open_position(EntrySignal(SYMBOL, "long", sim.market.price("BTC"), 0.002, 0.004))
        await manager.sync([SYMBOL])
        walk_until_flat(sim)
        account = sim_account(sim)
        account.executions = [e for e in account.executions if e.client_id]  # the stop's fill is lost
        refused = await manager.open_position(EntrySignal(SYMBOL, "long", sim.market.price("BTC"), 0.002, 0.004))
        assert not refused.accepted and "already 1 open long" in refused.reason
        caplog.set_level(logging.WARNING, logger="cts.engine.orders")
        await _sync_until(manager, lambda: not db_sides(engine_db), 20)
        settled = [r for r in caplog.records if "settled a difference" in r.getMessage()]
        assert len(settled) == 1 and "closed without a fill" in settled[0].getMessage()
        with engine_db.session() as s:
            position = s.get(RealPosition, first.real_position_id)
            assert position is not None and position.status == "closed" and position.close_reason == "reconciled"
            (adjustment,) = s.execute(select(PositionAdjustment)).scalars()
            assert adjustment.quantity == -position.quantity and "closed on the exchange" in adjustment.reason
            assert s.execute(select(Alert).where(Alert.source == "reconciliation")).scalar_one()
        caplog.clear()
        for _ in range(3):
            await manager.sync([SYMBOL])
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING], "no more warnings once settled"
        again = await manager.open_position(EntrySignal(SYMBOL, "long", sim.market.price("BTC"), 0.002, 0.004))
        assert again.accepted
        await manager.sync([SYMBOL])
        assert db_sides(engine_db) == exchange_sides(sim) != {}
    finally:
        await adapter.close()
