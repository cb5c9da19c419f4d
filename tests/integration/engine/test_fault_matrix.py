"""The fault matrix: while the engine trades live on the simulator, the simulator answers with 429 storms, 5xx,
timeouts, connection resets, accepted-but-response-lost orders, and the websocket drops. No order is doubled, no
fill is lost, the engine keeps running, and its success rate shows the errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from cts_desktop.events.status import EngineState
from cts_desktop.exchanges.simulator.faults import FaultKind, FaultRule
from cts_desktop.storage.models import Fill, Order
from tests.helpers.waiting import becomes_true, until
from tests.integration.engine.test_coordinator_replay import _count, make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


async def _wait_fired(rules: list[FaultRule], timeout: float) -> None:
    await becomes_true(lambda: all(r.fired >= (r.count or 1) for r in rules), timeout)


async def test_faults_never_double_an_order_nor_lose_a_fill(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        world.settings.set_many({"strategy.max_real_per_symbol_direction": 3})
        await world.coordinator.start()
        await world.coordinator.wait_started(120)
        engine = world.coordinator.engines[world.config.id]
        assert engine.state is EngineState.RUNNING
        server = world.replay.server
        assert server is not None
        await until(lambda: _count(world.db, Order) > 0, 150, "a first live order")
        faults = server.faults
        read_faults = [
            faults.add("/v5/position/list", FaultKind.RATE_LIMIT, count=6, retry_after=1),
            faults.add("/v5/execution/list", FaultKind.HTTP_5XX, count=6, status=502),
            faults.add("/v5/account/wallet-balance", FaultKind.RESET, count=4),
            faults.add("/v5/order/realtime", FaultKind.LATENCY, count=3, seconds=0.5),
        ]
        order_faults = [
            faults.add("/v5/order/create", FaultKind.RESPONSE_LOST, count=2),
            faults.add("/v5/order/create", FaultKind.RESET, count=1),
            faults.add("/v5/order/create", FaultKind.TIMEOUT, count=1, seconds=12),
        ]
        await _wait_fired(read_faults, 30)
        # the websocket drops: ccxt.pro's connections are closed under the feed
        feed = engine.feed
        assert feed is not None
        if feed._client is not None:
            for client in list(feed._client.clients.values()):
                if client.connection is not None:
                    await client.connection.close()
        updates = feed.updates
        await until(lambda: feed.updates > updates + 3, 60, "prices again after the websocket drop")
        await _wait_fired(order_faults, 150)
        assert all(r.fired for r in order_faults), [(r.kind, r.fired) for r in order_faults]
        syncs = engine.meters["sync"].cycles  # the engine goes on after the faults: two more exchange syncs
        await until(lambda: engine.meters["sync"].cycles >= syncs + 2, 60, "two syncs after the order faults")
        assert engine.state is EngineState.RUNNING, engine.last_error
        status = engine.status()
        sync_loop = next(loop for loop in status.loops if loop.name == "sync")
        assert sync_loop.errors > 0 and status.success_rate < 100.0  # the errors show
        assert engine.meters["main"].cycles > 0
        # a final sync on a quiet exchange, then the checks
        faults.clear()
        assert engine.orders is not None
        await engine.orders.sync(engine.symbols)
        account = next(iter(server.market.keyring.keys.values())).account
        sim_orders = [o.client_id for o in account.orders.values() if o.client_id.startswith("cts-")]
        assert len(sim_orders) == len(set(sim_orders)), "an order was placed twice"
        with world.db.session() as s:
            ours = set(s.execute(select(Order.client_order_id)).scalars())
        assert set(sim_orders) <= ours, "an order on the exchange is unknown to the DB"
        # the market goes on (an exchange-side TP/SL may fill between a sync and the look at the exchange): every
        # fill on the exchange is in the DB after a sync that started after it; a lost fill never gets there
        missing: set[str] = set()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            trades = await engine.adapter.my_trades("BTC/USDT:USDT")
            await engine.orders.sync(engine.symbols)
            with world.db.session() as s:
                fills = set(s.execute(select(Fill.exchange_trade_id)).scalars())
            missing = {t.id for t in trades} - fills
            if not missing:
                break
        assert not missing, f"fills on the exchange missing from the DB: {sorted(missing)}"
        await world.coordinator.stop()
