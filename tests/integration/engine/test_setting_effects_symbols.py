"""Symbol settings on one running Replay engine (the simulator in-process, real ccxt, real SQLite): with "Use main
symbols" off the engine trades the top *Number of symbols* of the *Quote asset*'s swaps in the *Symbol order* —
each change re-selects at once (no restart), and the symbols traded equal the ranking computed here from the
simulator's own market state (its 24 h turnover and change, the σ of its 1-minute closes over the volatility
period).
"""

from __future__ import annotations

import logging
import statistics
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from alembic import command

from cts_desktop.domain.settings_schema.removed import REMOVED_CHOICES, REMOVED_SETTINGS
from cts_desktop.events.bus import EventBus
from cts_desktop.events.status import EngineState
from cts_desktop.exchanges.simulator.market import SimMarket as Market
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.migrate import alembic_config
from cts_desktop.storage.models import Setting
from cts_desktop.storage.settings_store import SettingsStore
from tests.helpers.waiting import until
from tests.integration.engine.test_coordinator_replay import make_world

MINUTE_MS = 60_000


def unified(base: str) -> str:
    return f"{base}/USDT:USDT"


def by_turnover(market: Market, bases: list[str]) -> list[str]:
    return sorted(bases, key=lambda b: (-market.stats_24h(b).turnover, unified(b)))


def by_change(market: Market, bases: list[str]) -> list[str]:
    def change(b: str) -> float:
        st = market.stats_24h(b)
        return abs(st.last / st.open - 1)
    return sorted(bases, key=lambda b: (-change(b), unified(b)))


def by_volatility(hours: int) -> Callable[[Market, list[str]], list[str]]:
    def rank(market: Market, bases: list[str]) -> list[str]:
        def sigma(b: str) -> float:
            bars = market.klines(b, MINUTE_MS, None, None, hours * 60)
            returns = [y.close / x.close - 1 for x, y in pairwise(bars)]
            return statistics.stdev(returns) if len(returns) > 1 else 0.0
        return sorted(bases, key=lambda b: (-sigma(b), unified(b)))
    return rank


@pytest.mark.asyncio(loop_factories=["asyncio"])
async def test_symbol_settings_choose_what_the_running_engine_trades(tmp_path: Path) -> None:
    async with make_world(tmp_path) as world:
        world.settings.set_many({
            "overall.use_main_symbols": False, "overall.forced_symbols": [], "overall.symbol_count": 2,
            "overall.symbol_order_type": "alphabetical", "overall.prehistoric_days": 1,
            "system.main_engine_enabled": False,
        })
        await world.coordinator.start()
        status = await world.coordinator.wait_started(180)
        assert status.engines[0].state is EngineState.RUNNING, status.engines[0]
        engine = world.coordinator.engines[world.config.id]
        server = world.replay.server
        assert server is not None
        market = server.market
        bases = sorted(b for b, inst in market.instruments.items() if inst.quote == "USDT")
        assert len(bases) >= 3
        assert engine.symbols == [unified(b) for b in bases[:2]]

        def ranked(rank: Callable[[Market, list[str]], list[str]], count: int, ordered: bool) -> Callable[[], bool]:
            # the simulator's market moves meanwhile: the ranking is taken again at each look, and the engine's
            # choice is right when it equals one the market had since the setting changed (two symbols close in
            # rank can swap between the engine's selection and a later look; it selects again only on a change)
            seen: list[list[str]] = []

            def check() -> bool:
                now = [unified(b) for b in rank(market, bases)[:count]]
                if not ordered:
                    now.sort()
                if now not in seen:
                    seen.append(now)
                return (engine.symbols if ordered else sorted(engine.symbols)) in seen
            return check

        def trades(rank: Callable[[Market, list[str]], list[str]], count: int) -> Callable[[], bool]:
            return ranked(rank, count, ordered=False)

        world.settings.set("overall.symbol_count", 3)  # Number of symbols
        await until(trades(lambda m, b: sorted(b), 3), 60, "three symbols")
        world.settings.set("overall.symbol_count", 2)
        await until(trades(lambda m, b: sorted(b), 2), 60, "two symbols again")
        for order, rank in (("volume_24h", by_turnover), ("price_change_24h", by_change)):  # Symbol order
            world.settings.set("overall.symbol_order_type", order)
            await until(trades(rank, 2), 60, f"the top two by {order}")
        # by volatility, every symbol in its rank (the selection keeps the ranking's order)
        world.settings.set_many({"overall.symbol_order_type": "volatility", "system.volatility_period_hours": 1,
                                 "overall.symbol_count": 3})
        for hours in (1, 24, 1):  # Volatility calculation period
            world.settings.set("system.volatility_period_hours", hours)
            await until(ranked(by_volatility(hours), len(bases), ordered=True), 60,
                        f"the symbols ranked by volatility over {hours} h")
        world.settings.set("overall.symbol_count", 2)
        world.settings.set("overall.quote_asset", "USDC")  # the simulator lists no USDC swaps
        await until(lambda: engine.symbols == [], 60, "no USDC symbol to trade")
        world.settings.set("overall.quote_asset", "USDT")
        await until(lambda: len(engine.symbols) == 2, 60, "the USDT symbols again")
        assert world.coordinator.engines[world.config.id] is engine  # all of it without a restart


@pytest.mark.asyncio(loop_factories=["asyncio"])
async def test_the_symbol_update_interval_is_the_wait_between_two_selections(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """System › Symbol update interval: the engine says in its log how long it waits for the next selection (the
    choices are 15 min and more: the waits themselves are longer than a test)."""
    caplog.set_level(logging.INFO, logger="cts.engine")
    async with make_world(tmp_path) as world:
        world.settings.set_many({"system.main_engine_enabled": False, "system.symbol_update_interval_min": 60})
        await world.coordinator.start()
        await world.coordinator.wait_started(180)
        await until(lambda: "next symbol update in 60 min" in caplog.text, 30, "the first wait")
        world.settings.set("system.symbol_update_interval_min", 15)  # a symbol setting: selected again at once
        await until(lambda: "next symbol update in 15 min" in caplog.text, 30, "the shorter wait")


def test_a_removed_symbol_order_goes_back_to_the_default(tmp_path: Path) -> None:
    """"Market cap" and "24h trades" ranked by volume (no exchange reports either): migration 0008 drops a stored
    one, so the page shows what the engine did — 24h volume; it drops the removed Preset engine interval too."""
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    try:
        config = alembic_config()
        with db.engine.begin() as conn:
            config.attributes["connection"] = conn
            config.attributes["schema"] = db.schema
            command.upgrade(config, "0007")
        with db.session() as s:
            s.add(Setting(key="overall.symbol_order_type", value='"market_cap"'))
            s.add(Setting(key="system.preset_engine_interval_ms", value="250"))
        db.migrate()
        store = SettingsStore(db, EventBus())
        store.load()
        assert store.get("overall.symbol_order_type") == "volume_24h"
        assert ("overall.symbol_order_type", "market_cap") in REMOVED_CHOICES
        with db.session() as s:
            assert s.get(Setting, "system.preset_engine_interval_ms") is None
        assert "system.preset_engine_interval_ms" in REMOVED_SETTINGS
    finally:
        db.dispose()
