"""A simulated day of live trading on the Replay connection (hedge mode, up to 3 positions per symbol and side)
with no kill and no fault: at every simulated minute the market stands still while the engine reconciles, and the
DB's live quantity per symbol and side must equal the simulator account's position — with nothing settled: the
fills explain every change, the positions closed by the exchange's own stops included."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cts_desktop.events.status import EngineState
from cts_desktop.storage.models import Fill, Order, PositionAdjustment, RealPosition
from tests.helpers.waiting import until
from tests.integration.engine.conftest import db_sides, exchange_sides
from tests.integration.engine.test_coordinator_replay import _count, make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])

SIMULATED_MINUTES = 24 * 60  # the issue asks for at least six hours; a day trades more


async def test_db_equals_the_exchange_at_every_simulated_minute_for_a_day(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        world.settings.set_many({"strategy.max_real_per_symbol_direction": 3,
                                 "overall.main_symbols": ["BTC", "ETH", "SOL"]})
        world.service.store.save(replace(world.service.get(world.config.id), position_mode="hedge"))
        await world.coordinator.start()
        await world.coordinator.wait_started(120)
        engine = world.coordinator.engines[world.config.id]
        assert engine.state is EngineState.RUNNING and engine.orders is not None
        server = world.replay.server
        assert server is not None
        market = server.market
        await until(lambda: _count(world.db, Order) > 0, 150, "a first live order")
        began = time.monotonic()
        market.clock.set_speed(0)  # from here the market moves one simulated minute at a time
        server.public_ws.interval_s = 0.02  # and each minute's price reaches the engine at once
        # ccxt's own throttle (calibrated for the real venues' limits) only makes 360 reconciliations on loopback
        # wait; the connection's limiter stays on
        engine.adapter.client.enableRateLimit = False
        feed = engine.feed
        assert feed is not None
        account = list(market.keyring.keys.values())[-1].account
        checked = busy = crowded = 0
        mismatches = []
        for minute in range(SIMULATED_MINUTES):
            market.step(60_000)
            await _next_price(feed)  # the engine sees the minute's price and may trade on it
            orders_before = len(account.orders)
            await engine.orders.sync(engine.symbols)
            if len(account.orders) != orders_before or engine.orders.inflight.sending or _unresolved(world):
                busy += 1  # an order went out during this reconciliation: the next one sees its fill
                continue
            checked += 1
            ours, theirs = db_sides(world.db, world.config.id), exchange_sides(server)
            if ours != theirs:
                mismatches.append((minute, ours, theirs))
            crowded = max(crowded, _most_positions_in_one_side(world))
        with world.db.session() as s:
            settled = s.execute(select(PositionAdjustment.reason)).scalars().all()
            fills = _count(world.db, Fill)
        print(f"{SIMULATED_MINUTES} simulated minutes in {time.monotonic() - began:.0f} s: {checked} checked, "
              f"{busy} busy, {fills} fills, {_count(world.db, Order)} orders, at most {crowded} positions in one "
              f"exchange position, mismatches {mismatches[:3]}")
        assert not mismatches, mismatches[:5]
        assert checked >= SIMULATED_MINUTES * 0.8, (checked, busy)
        assert fills >= 4, "the run traded"
        assert not settled, settled


def _unresolved(world) -> bool:  # type: ignore[no-untyped-def]
    return _count(world.db, Order, Order.status.in_(("pending", "unknown"))) > 0



async def _next_price(feed) -> None:  # type: ignore[no-untyped-def]
    pushed = feed.updates
    await until(lambda: feed.updates > pushed, 10, "the next price from the feed", interval=0.005)


def _most_positions_in_one_side(world) -> int:  # type: ignore[no-untyped-def]
    with world.db.session() as s:
        rows = s.execute(select(RealPosition.symbol, RealPosition.side, func.count()).where(
            RealPosition.status.in_(("open", "closing"))).group_by(RealPosition.symbol, RealPosition.side)).all()
    return max((n for _, _, n in rows), default=0)
