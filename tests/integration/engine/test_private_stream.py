"""Fills, orders and positions pushed by the exchange's private stream reach the DB without a REST sync; when the
stream cannot connect, the REST sync still stores them (the fallback and the check).

Live order manager against the loopback simulator (real websockets, real signing, stock ccxt.pro), real SQLite."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from cts_desktop.engine import manual
from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.private_stream import PrivateStream, StreamHandlers
from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import ExchangePosition, Fill, Order, RealPosition
from tests.helpers.waiting import until
from tests.integration.engine.conftest import LIMITS, SYMBOL, manager_for, sim_account
from tests.integration.exchanges.conftest import make_adapter

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


def stream_of(manager: OrderManager, adapter: ExchangeAdapter, ws_base: str | None = None) -> PrivateStream:
    pushed = manager.exchange_sync
    return PrivateStream(adapter, StreamHandlers(trades=pushed.apply_pushed_fills, orders=pushed.apply_pushed_orders,
                                                 positions=pushed.apply_pushed_positions),
                         retry_s=3600, ws_base=ws_base)


def subscribed(sim: SimulatorServer, exchange: str) -> bool:
    """The stream's order, execution and position subscriptions are in place at the simulator."""
    if exchange == "bybit":
        return bool(sim.private_ws.sessions) and all(len(s.topics) >= 3 for s in sim.private_ws.sessions)
    return sim.bingx_ws.connections > 0  # the listen-key connection: account events come unasked


def fills_of(db: Database, position_id: int) -> list[Fill]:
    with db.session() as s:
        order_ids = select(Order.id).where(Order.real_position_id == position_id)
        return list(s.execute(select(Fill).where(Fill.order_id.in_(order_ids))).scalars())


def position(db: Database, position_id: int) -> RealPosition:
    with db.session() as s:
        found = s.get(RealPosition, position_id)
        assert found is not None
        return found


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_fills_orders_and_positions_arrive_by_stream_without_a_sync(sim: SimulatorServer, engine_db: Database,
                                                                          exchange: str) -> None:
    adapter = make_adapter(sim, exchange)
    await adapter.set_position_mode(True)
    manager = await manager_for(engine_db, adapter, adapter, paper=False, limits=LIMITS)
    stream = stream_of(manager, adapter)
    synced = 0
    real_sync = manager.sync

    async def counted_sync(symbols: list[str]) -> object:  # counts syncs: this test must need none
        nonlocal synced
        synced += 1
        return await real_sync(symbols)

    manager.sync = counted_sync  # type: ignore[method-assign]
    stream.start()
    try:
        await until(lambda: stream.mode == "stream" and subscribed(sim, exchange), 15, "the private stream subscribed")
        price = sim.market.price("BTC")
        opened = await manager.open_position(EntrySignal(SYMBOL, "long", price, 0.05, 0.1, label="stream"))
        assert opened.accepted and opened.real_position_id is not None, opened
        pid = opened.real_position_id
        account = sim_account(sim)
        await until(lambda: len(fills_of(engine_db, pid)) == 1, 10, "the entry's fill stored from the stream")
        entry_fill = fills_of(engine_db, pid)[0]
        executed = [e for e in account.executions if e.client_id == opened.client_order_id]
        assert len(executed) == 1 and entry_fill.price == Decimal(repr(executed[0].price))
        assert entry_fill.fee == Decimal(repr(executed[0].fee)).quantize(entry_fill.fee)
        # the exchange-position row follows the pushed position (size, mark price)
        def mirrored() -> ExchangePosition | None:
            with engine_db.session() as s:
                return s.execute(select(ExchangePosition).where(ExchangePosition.status == "open")).scalars().first()
        await until(lambda: mirrored() is not None, 10, "the pushed position mirrored")
        row = mirrored()
        assert row is not None and row.quantity == position(engine_db, pid).quantity
        assert row.entry_price == Decimal(repr(executed[0].price))

        # closed by hand: the closing fill comes by stream, the position is closed with its PnL, still no sync
        assert await manual.close_position(manager, pid) == "filled"
        await until(lambda: position(engine_db, pid).status == "closed", 10, "the position closed from the stream")
        closed = position(engine_db, pid)
        exits = [e for e in account.executions if e.client_id != opened.client_order_id]
        assert len(exits) == 1
        gross = (Decimal(repr(exits[0].price)) - Decimal(repr(executed[0].price))) * closed.quantity
        assert closed.realized_pnl == gross.quantize(closed.realized_pnl)
        await until(lambda: mirrored() is None, 10, "the pushed flat position closes its mirror row")
        assert synced == 0
        assert stream.received["trades"] >= 2 and stream.received["orders"] >= 2
    finally:
        await stream.stop()
        await adapter.close()


@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_without_the_stream_the_rest_sync_stores_the_fills(sim: SimulatorServer, engine_db: Database,
                                                                 exchange: str) -> None:
    adapter = make_adapter(sim, exchange)
    await adapter.set_position_mode(True)
    manager = await manager_for(engine_db, adapter, adapter, paper=False, limits=LIMITS)
    stream = stream_of(manager, adapter, ws_base="ws://127.0.0.1:9")  # nothing listens there
    stream.start()
    try:
        await until(lambda: stream.mode == "rest", 15, "the stream given up for REST")
        assert stream.last_error
        opened = await manager.open_position(EntrySignal(SYMBOL, "short", sim.market.price("BTC"), 0.05, 0.1))
        assert opened.accepted and opened.real_position_id is not None
        assert fills_of(engine_db, opened.real_position_id) == []  # nothing pushed
        await manager.sync([SYMBOL])
        stored = fills_of(engine_db, opened.real_position_id)
        assert len(stored) == 1 and position(engine_db, opened.real_position_id).status == "open"
    finally:
        await stream.stop()
        await adapter.close()
