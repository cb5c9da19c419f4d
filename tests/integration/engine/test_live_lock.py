"""The live-trading lock over the real services (SQLite, the in-process simulator as a Bybit exchange): a database
edit alone never makes an engine trade live, a connection without keys or without a test passed with its keys starts
no engine, and only the user's confirmation (window switch or command line) writes the grant that lets it trade live
— which every way of switching live off takes away again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select, text

from cts_desktop.application.application import Application
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionConfig, ConnectionRuleError
from cts_desktop.services import AppOptions, Services
from cts_desktop.storage.models import Alert
from cts_desktop.trading import Trading
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])

QUICK = {"overall.prehistoric_days": 1, "overall.use_main_symbols": True, "overall.main_symbols": ["BTC"],
         "overall.forced_symbols": []}


@dataclass
class World:
    services: Services
    app: Application
    trading: Trading
    sim_url: str
    bybit: ConnectionConfig

    def sql(self, statement: str) -> None:
        """What anyone with write access to the database can do, bypassing the app."""
        with self.services.db.session() as session:
            session.execute(text(statement))

    def alerts(self) -> list[str]:
        assert self.services.writer.flush(10)
        with self.services.db.session() as session:
            return [a.message for a in session.execute(select(Alert).order_by(Alert.id)).scalars()]

    async def start(self) -> None:
        coordinator = self.trading.coordinator
        await coordinator.stop()
        await coordinator.start()

    def engine_paper(self) -> bool | None:
        engine = self.trading.coordinator.engines.get(self.bybit.id)
        return None if engine is None else engine.paper


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    services = Services(AppOptions(data_dir=tmp_path, console_log=False))
    services.settings.set_many(QUICK)
    services.start(asyncio.get_running_loop())
    app = Application(services)
    trading = await app.load_trading()
    sim_url = await trading.replay.start()
    creds = trading.replay.credentials()
    service = trading.connections
    replay = service.get(REPLAY_CONNECTION_ID)
    service.update(replace(replay, is_active=False))  # only the exchange connection under test trades
    bybit = service.create("Sim Bybit", "bybit", check_exchange=False)
    service.set_credentials(bybit.id, creds.api_key, creds.secret)

    async def adapters(config: ConnectionConfig) -> ExchangeAdapter:  # the exchange is the loopback simulator
        return service.make_adapter(config, api_url=sim_url)

    trading.coordinator.adapters = adapters
    try:
        yield World(services, app, trading, sim_url, service.get(bybit.id))
    finally:
        await trading.coordinator.stop()
        await services.stop_monitoring()
        await services.stop_trading()
        await services.bus.drain()
        services.close()


async def test_a_database_edit_alone_never_trades_live(world: World) -> None:
    bybit = world.bybit
    # keys, but never tested: enabled, active and live by SQL, with a "passed" test row — no engine at all
    world.sql(f"UPDATE connections SET is_enabled = true, is_active = true, is_live_trade = true, "
              f"last_test_ok = true, last_test_at = CURRENT_TIMESTAMP WHERE id = '{bybit.id}'")
    await world.start()
    assert world.engine_paper() is None
    assert any("Sim Bybit not started: no connection test passed" in m for m in world.alerts())

    # a real test passes (recorded beside the keys), but the live flag is still only a database edit: paper
    result = await world.trading.connections.test(bybit.id, api_url=world.sim_url)
    assert result.passed, result.message
    world.sql(f"UPDATE connections SET is_live_trade = true WHERE id = '{bybit.id}'")
    await world.start()
    assert world.engine_paper() is True
    assert any("live trading is switched on in the database but not confirmed" in m and "PAPER" in m
               for m in world.alerts())

    # the user's confirmation in the window writes the grant: live
    with pytest.raises(ConnectionRuleError):
        await world.app.dashboard.switches.set_live_trade(bybit.id, True, "sim bybit")  # the name, exactly
    await world.app.dashboard.switches.set_live_trade(bybit.id, True, "Sim Bybit")
    await until(lambda: world.engine_paper() is False, 30, "the engine restarted live")

    # switched off in the window: the grant is gone, so setting the flag again by SQL trades on paper
    await world.app.dashboard.switches.set_live_trade(bybit.id, False)
    world.sql(f"UPDATE connections SET is_live_trade = true WHERE id = '{bybit.id}'")
    await world.start()
    assert world.engine_paper() is True

    # confirmed again, then the emergency stop clears it: a later SQL edit does not bring live trading back
    await world.app.dashboard.switches.set_live_trade(bybit.id, True, "Sim Bybit")
    await until(lambda: world.engine_paper() is False, 30, "the engine restarted live")
    await world.trading.coordinator.emergency_stop()
    world.sql(f"UPDATE connections SET is_live_trade = true WHERE id = '{bybit.id}'")
    await world.start()
    assert world.engine_paper() is True

    # new keys: the old test and any grant name other keys — no engine until a new test passes
    world.trading.connections.set_credentials(bybit.id, "other-key-0123456789", "other-secret-0123456789")
    world.sql(f"UPDATE connections SET is_enabled = true, is_live_trade = true, last_test_ok = true, "
              f"last_test_at = CURRENT_TIMESTAMP WHERE id = '{bybit.id}'")
    await world.start()
    assert world.engine_paper() is None


async def test_a_grant_is_bound_to_its_connection_and_its_keys(world: World) -> None:
    bybit = world.bybit
    trading = world.trading
    assert (await trading.connections.test(bybit.id, api_url=world.sim_url)).passed
    creds = trading.connections.credentials(bybit.id)
    assert creds is not None
    await world.app.dashboard.switches.set_live_trade(bybit.id, True, "Sim Bybit")
    lock = trading.live_lock
    assert lock.check(bybit.id, creds).valid
    assert not lock.check("another-connection", creds).valid  # (its grant names Sim Bybit)
    other = replace(creds, api_key="changed-key-0123456789")
    assert "keys changed" in lock.check(bybit.id, other).reason
    # a grant copied to another connection's entry in the store does not hold there
    from cts_desktop.storage.secrets import SecretRef

    stored = world.services.secrets.get(SecretRef.connection(bybit.id, "live_grant"))
    assert stored is not None
    world.services.secrets.set(SecretRef.connection("copy", "live_grant"), stored)
    assert "another connection" in lock.check("copy", creds).reason


async def test_a_connection_without_keys_starts_no_engine(world: World) -> None:
    keyless = world.trading.connections.create("Keyless", "bybit", check_exchange=False)
    world.sql(f"UPDATE connections SET is_enabled = true, is_active = true, is_live_trade = true, "
              f"last_test_ok = true, last_test_at = CURRENT_TIMESTAMP WHERE id = '{keyless.id}'")
    await world.start()
    assert keyless.id not in world.trading.coordinator.engines
    await until(lambda: any("Keyless not started: it has no API keys" in m for m in world.alerts()), 10,
                "the alert that says why")
    # the Replay connection (the simulator, no money) needs neither keys, a test nor a grant
    replay = world.trading.connections.get(REPLAY_CONNECTION_ID)
    world.trading.connections.update(replace(replay, is_active=True, is_live_trade=True))
    await world.start()
    engine = world.trading.coordinator.engines.get(REPLAY_CONNECTION_ID)
    assert engine is not None and engine.paper is False
