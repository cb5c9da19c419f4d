"""Connection options on a running engine, on the Replay simulator (real HTTP, real ccxt, real SQLite):

* the margin type is applied on the exchange before a symbol's first order (the simulator's position list shows
  it), a change while a position is open is refused with a message and entries on that symbol wait, and once the
  symbol is flat the new type is applied before the next order — on Bybit (one mode per unified account) and BingX
  (per symbol);
* a volume factor edited while the engine runs sizes the very next order (live entries by the live factor, Preset
  entries by the Preset factor); an option the engine was built with (position mode) restarts that engine.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.events.app import ConnectionEdited
from cts_desktop.events.status import EngineState
from cts_desktop.events.trading import PriceUpdate
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.exchanges.simulator.account import Account
from cts_desktop.storage.models import RealPosition
from tests.helpers.waiting import until
from tests.integration.engine.test_coordinator_replay import World, make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])
SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture(params=["bybit", "bingx"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with make_world(tmp_path, exchange_id=request.param) as w:
        yield w


def sim_account(world: World) -> Account:
    server = world.replay.server
    assert server is not None
    return next(iter(server.market.keyring.keys.values())).account


def edit(world: World, change: object) -> ConnectionConfig:
    """Store an edit and announce it, as the application layer does when a connection is saved."""
    config = world.service.get(world.config.id)
    updated = change(config)  # type: ignore[operator]
    world.service.update(updated)
    world.bus.publish(ConnectionEdited(key=world.config.id))
    return updated


async def running_engine(world: World) -> tuple[ConnectionEngine, dict[str, float]]:
    # only the test's entries reach the exchange; two per symbol and side, so the margin type decides the second
    world.settings.set_many({"system.main_engine_enabled": False, "strategy.max_real_per_symbol_direction": 2})
    await world.coordinator.start()
    status = await world.coordinator.wait_started(180)
    assert status.engines[0].state is EngineState.RUNNING, status.engines[0]
    prices: dict[str, float] = {}
    world.bus.subscribe(PriceUpdate, lambda e: prices.__setitem__(e.symbol, e.price))
    await until(lambda: SYMBOL in prices, 60, "a price")
    return world.coordinator.engines[world.config.id], prices


def signal(prices: dict[str, float], direction: str, preset: bool = False) -> EntrySignal:
    return EntrySignal(SYMBOL, direction, prices[SYMBOL], stop_loss_frac=0.05, take_profit_frac=0.05,
                       label="test entry", preset=preset)


def entries(account: Account) -> list[float]:
    """Quantities of the opening orders the simulator received, oldest first."""
    return [o.qty for o in sorted(account.orders.values(), key=lambda o: o.created_ms)
            if not o.reduce_only and o.client_id.startswith("cts-")]


def open_positions(world: World, statuses: tuple[str, ...] = ("opening", "open", "closing")) -> list[int]:
    with world.db.session() as s:
        return list(s.execute(select(RealPosition.id).where(RealPosition.status.in_(statuses))).scalars())


def open_size(account: Account, side: str) -> float:
    return sum(p.size for p in account.positions.values() if p.base == "BTC" and p.side == side)


async def test_margin_type_is_applied_before_the_first_order_and_changed_only_when_flat(
        world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="cts.engine")
    world.service.update(replace(world.service.get(world.config.id), margin_mode="isolated"))
    account = sim_account(world)
    assert account.margin_mode("BTC") == "cross"  # the simulator account starts on cross
    engine, prices = await running_engine(world)

    engine.send_signal(SYMBOL, signal(prices, "long"), -1, 0.0)
    await until(lambda: open_size(account, "Buy") > 0, 30, "the long position on the simulator")
    assert account.margin_mode("BTC") == "isolated"
    assert await engine.adapter.margin_mode(SYMBOL) == "isolated"  # what the exchange reports
    listed = [p["info"] for p in await engine.adapter.client.fetch_positions([SYMBOL]) if float(p["contracts"] or 0)]
    assert [str(p.get("tradeMode", p.get("isolated"))) for p in listed] in (["1"], ["True"])  # its position list

    # switched to cross while the long is open: the exchange would refuse, so the entry waits, with the reason
    edit(world, lambda c: replace(c, margin_mode="cross"))
    await until(lambda: engine.config.margin_mode == "cross", 10, "the edit to reach the engine")
    before = len(entries(account))
    engine.send_signal(SYMBOL, signal(prices, "long"), -1, 0.0)
    refusal = "entry refused for BTC/USDT:USDT long: margin type cross cannot be applied to BTC/USDT:USDT while a "
    await until(lambda: refusal in caplog.text, 30, "the refused entry in the log")
    assert len(entries(account)) == before and account.margin_mode("BTC") == "isolated"

    # flat again: the next entry applies cross first
    assert engine.orders is not None
    with world.db.session() as s:
        position_id = s.execute(select(RealPosition.id).where(RealPosition.status == "open")).scalar_one()
    await engine.orders.close_position(position_id, "test")
    await until(lambda: open_size(account, "Buy") == 0 and not open_positions(world), 30, "the long closed")
    engine.send_signal(SYMBOL, signal(prices, "short"), -1, 0.0)
    await until(lambda: open_size(account, "Sell") > 0, 30, "the short position")
    assert account.margin_mode("BTC") == "cross"


@pytest.mark.parametrize("world", ["bybit"], indirect=True)
async def test_volume_factor_edits_size_the_next_order_and_position_mode_restarts(world: World) -> None:
    engine, prices = await running_engine(world)
    account = sim_account(world)

    async def entry_size(direction: str, preset: bool = False) -> float:
        count = len(entries(account))
        engine.send_signal(SYMBOL, signal(prices, direction, preset), -1, 0.0)
        await until(lambda: len(entries(account)) > count, 30, "the order on the simulator")
        await until(lambda: not open_positions(world, ("opening",)), 30, "the fill recorded")
        return entries(account)[-1]

    first = await entry_size("long")
    edit(world, lambda c: replace(c, settings=replace(c.settings, live_volume_factor=2.0, preset_volume_factor=3.0)))
    await until(lambda: engine.config.settings.live_volume_factor == 2.0, 10, "the edit to reach the engine")
    assert world.coordinator.engines[world.config.id] is engine  # applied in place: no restart
    second = await entry_size("long")
    step = float(account.instrument("BTC").qty_step)  # each size is rounded down to the lot step once
    assert abs(second - 2 * first) <= 2 * step + 1e-9, (first, second)
    # a Preset entry is sized with the Preset factor (after the longs above are closed)
    assert engine.orders is not None
    await engine.orders.close_all("test")
    await until(lambda: open_size(account, "Buy") == 0 and open_size(account, "Sell") == 0
                and not open_positions(world), 30, "flat")
    third = await entry_size("long", preset=True)
    assert abs(third - 3 * first) <= 3 * step + 1e-9, (first, third)

    # the Main gate's PF minimum: Settings › Strategy while the connection sets none, the connection's own once set
    pipeline = engine.pipelines[SYMBOL]
    assert pipeline.thresholds.main_min_avg_pf == world.settings.get("strategy.main_min_avg_pf")
    world.settings.set("strategy.main_min_avg_pf", 0.9)
    await until(lambda: pipeline.thresholds.main_min_avg_pf == 0.9, 10, "the Settings value in the gate")
    edit(world, lambda c: replace(c, settings=replace(c.settings, live_pf_min_main=1.3)))
    await until(lambda: pipeline.thresholds.main_min_avg_pf == 1.3, 10, "the connection's value in the gate")

    # the position mode is set when the engine connects: the engine restarts with it
    other_mode = "hedge" if engine.config.position_mode == "one-way" else "one-way"
    edit(world, lambda c: replace(c, position_mode=other_mode))
    await until(lambda: world.coordinator.engines.get(world.config.id) not in (None, engine), 60, "a new engine")
    restarted = world.coordinator.engines[world.config.id]
    await world.coordinator.wait_started(180)
    assert restarted.config.position_mode == other_mode and restarted.state is EngineState.RUNNING


@pytest.mark.parametrize("world", ["bybit"], indirect=True)
async def test_symbol_settings_reselect_the_running_engines_symbols_at_once(world: World) -> None:
    """Settings › Overall › Symbols reach the running engine without waiting for the symbol-update interval (an
    hour by default) and without a restart: the next selection uses them, prices flow for the new symbol."""
    engine, prices = await running_engine(world)
    assert engine.symbols == [SYMBOL]
    world.settings.set("overall.main_symbols", ["BTC", "ETH"])
    await until(lambda: engine.symbols == [SYMBOL, "ETH/USDT:USDT"], 30, "ETH selected")
    await until(lambda: "ETH/USDT:USDT" in prices, 60, "ETH prices")
    assert world.coordinator.engines[world.config.id] is engine and set(engine.pipelines) == set(engine.symbols)


@pytest.mark.parametrize("world", ["bybit"], indirect=True)
async def test_trade_mode_decides_which_pipeline_places_orders(world: World) -> None:
    """Overall › Trade mode: "main" keeps the Preset engine's entries off the exchange, "both" lets them through."""
    engine, prices = await running_engine(world)
    account = sim_account(world)
    world.settings.set("overall.trade_mode", "main")
    cycles = engine.meters["orders"].cycles
    engine.send_signal(SYMBOL, signal(prices, "long", preset=True), -1, 0.0)  # a Preset engine signal
    await until(lambda: engine.order_loop.idle() and engine.meters["orders"].cycles >= cycles + 2, 30,
                "the order loop past the signal")
    assert entries(account) == []
    world.settings.set("overall.trade_mode", "both")
    engine.send_signal(SYMBOL, signal(prices, "long", preset=True), -1, 0.0)
    await until(lambda: len(entries(account)) == 1, 30, "the Preset entry on the exchange")
