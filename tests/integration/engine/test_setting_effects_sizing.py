"""Sizing and exposure settings, each changed on one running Replay engine (the simulator in-process, real ccxt,
real SQLite): the next entry's order on the simulator — its quantity, its leverage, or its absence with the
refusal reason — changes as the setting's label says. One engine serves the whole table; between rows every
position is closed and the setting goes back, so each row is judged on its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio

from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.engine.order_types import EntryOutcome
from cts_desktop.exchanges.simulator.account import Account
from tests.helpers.waiting import until
from tests.integration.engine.test_connection_edits import (
    SYMBOL,
    entries,
    open_positions,
    open_size,
    running_engine,
    signal,
    sim_account,
)
from tests.integration.engine.test_coordinator_replay import World, make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])


@dataclass(frozen=True)
class Entry:
    """What the simulator received for one entry (None: no order reached it)."""

    outcome: EntryOutcome
    quantity: float | None
    leverage: float | None


@pytest_asyncio.fixture(params=["bybit"])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    async with make_world(tmp_path, exchange_id=request.param) as w:
        yield w


async def enter(world: World, engine: ConnectionEngine, prices: dict[str, float], direction: str = "long") -> Entry:
    """One entry through the running engine's order manager; the order the simulator got for it, if any."""
    assert engine.orders is not None
    account = sim_account(world)
    count = len(entries(account))
    outcome = await engine.orders.open_position(signal(prices, direction))
    if not outcome.accepted:
        assert len(entries(account)) == count, outcome
        return Entry(outcome, None, None)
    await until(lambda: len(entries(account)) > count, 30, "the order on the simulator")
    await until(lambda: not open_positions(world, ("opening",)), 30, "the fill recorded")
    order = max((o for o in account.orders.values() if o.client_id == outcome.client_order_id),
                key=lambda o: o.created_ms)
    return Entry(outcome, float(order.qty), float(order.leverage))


async def flat(world: World, engine: ConnectionEngine) -> None:
    assert engine.orders is not None
    await engine.orders.close_all("test")
    account = sim_account(world)
    await until(lambda: open_size(account, "Buy") == 0 and open_size(account, "Sell") == 0
                and not open_positions(world), 30, "flat")


@dataclass(frozen=True)
class Row:
    """One setting: the values it is changed to, and what the next entry shows then against the base entry."""

    changes: dict[str, object]
    shows: Callable[[Entry, Entry, Account], None]


def _qty_ratio(ratio: float) -> Callable[[Entry, Entry, Account], None]:
    def shows(base: Entry, changed: Entry, account: Account) -> None:
        assert base.quantity and changed.quantity, (base, changed)
        step = float(account.instrument("BTC").qty_step)  # each size is rounded down to the lot step once
        assert abs(changed.quantity - ratio * base.quantity) <= (1 + ratio) * step + 1e-9, (base, changed, ratio)
    return shows


def _leverage(expected: Callable[[float], float]) -> Callable[[Entry, Entry, Account], None]:
    def shows(base: Entry, changed: Entry, account: Account) -> None:
        market_max = float(account.instrument("BTC").max_leverage)
        assert base.leverage == market_max, base  # "use maximum leverage" is on by default
        assert changed.leverage == expected(market_max), (changed, market_max)
    return shows


def _refused(words: str) -> Callable[[Entry, Entry, Account], None]:
    def shows(base: Entry, changed: Entry, account: Account) -> None:
        assert changed.quantity is None and words in changed.outcome.reason, changed
    return shows


def _raised_to_minimum(base: Entry, changed: Entry, account: Account) -> None:
    inst = account.instrument("BTC")
    assert changed.quantity == float(inst.min_qty), (changed, inst)  # the budget buys less than the minimum


ROWS: dict[str, Row] = {
    "overall.base_volume_factor": Row({"overall.base_volume_factor": 2.0}, _qty_ratio(2.0)),
    "overall.loss_trigger_pct": Row({"overall.loss_trigger_pct": 10}, _qty_ratio(2.0)),  # 20 → 10 %: twice the size
    "overall.max_leverage": Row({"overall.max_leverage": 7}, _leverage(lambda m: min(m, 7.0))),
    "overall.use_max_leverage": Row({"overall.use_max_leverage": False, "overall.leverage_pct": 50},
                                    _leverage(lambda m: float(round(m * 0.5)))),
    "overall.leverage_pct": Row({"overall.use_max_leverage": False, "overall.leverage_pct": 20},
                                _leverage(lambda m: float(round(m * 0.2)))),
    # a budget below the market's minimum: raised to it while enforcement is on, skipped when off
    "overall.min_volume_enforcement": Row(
        {"overall.min_volume_enforcement": False, "overall.base_volume_factor": 0.5, "overall.positions_average": 300,
         "overall.loss_trigger_pct": 30}, _refused("minimum")),
}
TINY = {"overall.base_volume_factor": 0.5, "overall.positions_average": 300, "overall.loss_trigger_pct": 30}


async def test_each_sizing_setting_changes_the_next_order_on_the_simulator(world: World) -> None:
    engine, prices = await running_engine(world)
    account = sim_account(world)
    assert engine.orders is not None
    base = await enter(world, engine, prices)
    await flat(world, engine)
    for key, row in ROWS.items():
        before = {k: world.settings.get(k) for k in row.changes}
        world.settings.set_many(row.changes)
        changed = await enter(world, engine, prices)
        row.shows(base, changed, account)
        await flat(world, engine)
        world.settings.set_many(before)
        again = await enter(world, engine, prices)  # back: the base order again
        _qty_ratio(1.0)(base, again, account)
        assert again.leverage == base.leverage, (key, again)
        await flat(world, engine)

    # the tiny budget with enforcement on: the order is raised to the market's minimum
    world.settings.set_many(TINY)
    _raised_to_minimum(base, await enter(world, engine, prices), account)
    await flat(world, engine)


@pytest.mark.parametrize("world", ["bybit", "bingx"], indirect=True)
async def test_max_open_positions_of_the_exchange_refuses_the_next_entry(world: World) -> None:
    """Exchange › Max open positions: the connection's own exchange's limit (not the other exchange's) decides."""
    key = f"exchange.max_positions.{world.config.exchange_id}"
    other = "exchange.max_positions.bingx" if key.endswith("bybit") else "exchange.max_positions.bybit"
    engine, prices = await running_engine(world)
    world.settings.set_many({key: 1, other: 500})
    assert (await enter(world, engine, prices)).quantity
    refused = await enter(world, engine, prices)  # two per symbol and side are allowed: the exchange limit refuses
    assert refused.quantity is None and "maximum of 1 open positions" in refused.outcome.reason, refused
    world.settings.set_many({key: 500, other: 1})  # the other exchange's limit does not apply here
    assert (await enter(world, engine, prices)).quantity
    await flat(world, engine)


@pytest.mark.parametrize("world", ["bybit"], indirect=True)
async def test_other_exchanges_limit_holds_for_a_generic_connection(world: World) -> None:
    """Exchange › Max open positions (other exchanges): a connection to any other ccxt exchange — here one stored as
    OKX whose engine reaches the simulator — is held to it, not to Bybit's or BingX's."""
    world.service.update(replace(world.service.get(world.config.id), exchange_id="okx"))
    engine, prices = await running_engine(world)
    assert engine.config.exchange_id == "okx"
    world.settings.set_many({"exchange.max_positions.other": 1, "exchange.max_positions.bybit": 500,
                             "exchange.max_positions.bingx": 500})
    assert (await enter(world, engine, prices)).quantity
    refused = await enter(world, engine, prices)
    assert refused.quantity is None and "maximum of 1 open positions" in refused.outcome.reason, refused
    world.settings.set("exchange.max_positions.other", 2)
    assert (await enter(world, engine, prices)).quantity
    await flat(world, engine)


@pytest.mark.parametrize("world", ["bybit"], indirect=True)
async def test_the_preset_engine_switch_keeps_preset_entries_off_the_exchange(world: World) -> None:
    """System › Preset engine enabled: off, a Preset signal places nothing (the decision says why); on, it does."""
    engine, prices = await running_engine(world)
    account = sim_account(world)
    world.settings.set("system.preset_engine_enabled", False)
    cycles = engine.meters["orders"].cycles
    engine.send_signal(SYMBOL, signal(prices, "long", preset=True), -1, 0.0)
    await until(lambda: engine.order_loop.idle() and engine.meters["orders"].cycles >= cycles + 2, 30,
                "the order loop past the signal")
    assert entries(account) == []
    world.settings.set("system.preset_engine_enabled", True)
    engine.send_signal(SYMBOL, signal(prices, "long", preset=True), -1, 0.0)
    await until(lambda: len(entries(account)) == 1, 30, "the Preset entry on the exchange")
