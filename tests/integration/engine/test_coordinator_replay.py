"""End to end on the Replay connection (the simulator in-process, real ccxt, real SQLite): prices flow, indications
fire, sets fill, with lowered gates sets reach Real, live orders reach the simulator, and the DB's money equals the
simulator account's to the cent. Pause stops entries but keeps tracking; emergency stop cancels orders."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from cts_desktop.engine.coordinator import GlobalTradeEngineCoordinator
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.lease import LeaseKeeper
from cts_desktop.events.bus import EventBus
from cts_desktop.events.status import EngineState
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionService
from cts_desktop.exchanges.replay_connection import ReplayOptions, ReplayRuntime
from cts_desktop.storage.connections_store import KeyringConnectionSecrets, SqlConnectionStore
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import ConfigSet, CycleMetric, Fill, FundingPayment, Order, RealPosition
from cts_desktop.storage.secrets import SecretStore
from cts_desktop.storage.settings_store import SettingsStore
from cts_desktop.storage.writer import BatchedWriter
from tests.helpers.waiting import until
from tests.integration.conftest import PG_URL

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])

FAST_GATES = {
    "overall.use_main_symbols": True, "overall.main_symbols": ["BTC"], "overall.forced_symbols": [],
    "overall.prehistoric_days": 2, "overall.market_timeframe_s": 1,
    "strategy.phase1_count": 5, "strategy.phase1_min_win_rate": 0, "strategy.phase2_count": 20,
    "strategy.phase2_min_win_rate": 0, "strategy.phase2_min_win_loss_ratio": 0.5,
    "strategy.production_pause_win_rate": 0, "strategy.production_resume_win_rate": 0,
    "strategy.production_max_drawdown_pct": 100,
    "strategy.main_min_avg_pf": 0.1, "strategy.real_min_avg_pf": 0.1, "strategy.exchange_min_avg_pf": 0.1,
    "strategy.main_window": 5, "strategy.real_window": 5, "strategy.exchange_window": 5,
    "strategy.max_drawdown_time_hours": 72, "strategy.real_cooldown_s": 0, "strategy.daily_loss_limit_pct": 0,
    "strategy.max_real_per_symbol_direction": 1,
    "indications.activity.enabled": False, "indications.active.enabled": False,
    "indications.direction.range_min": 3, "indications.direction.range_max": 6,
    "indications.move.range_min": 3, "indications.move.range_max": 6,
    "strategy.tp_factors": [2, 4, 8], "strategy.sl_ratios": [0.5, 1.0], "strategy.trailing_starts": [0.6],
    "strategy.trailing_stops": [0.2],
    "system.exchange_sync_interval_s": 1, "system.persist_interval_ms": 500,
    # pseudo results without fees: about half the sets have a positive expectancy, so Real sets appear fast
    # (the orders themselves still pay the simulator's taker fee)
    "overall.default_taker_fee": 0,
}


@dataclass
class World:
    db: Database
    writer: BatchedWriter
    settings: SettingsStore
    bus: EventBus
    service: ConnectionService
    replay: ReplayRuntime
    coordinator: GlobalTradeEngineCoordinator
    config: ConnectionConfig


class _Secrets:
    """The replay runtime's (connection, field) secrets over the keyring store."""

    def __init__(self, store: SecretStore) -> None:
        self.inner = KeyringConnectionSecrets(store)

    def get(self, connection_id: str, field: str) -> str | None:
        return self.inner.get(connection_id, field)

    def set(self, connection_id: str, field: str, value: str) -> None:
        self.inner.set(connection_id, field, value)

    def delete(self, connection_id: str, field: str) -> None:
        self.inner.delete(connection_id, field)


@contextlib.asynccontextmanager
async def make_world(tmp_path: Path, live: bool = True, db: Database | None = None,
                     exchange_id: str = "bybit") -> AsyncIterator[World]:
    db = db or Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    writer = BatchedWriter(db, flush_interval=0.2)
    writer.start()
    bus = EventBus()
    settings = SettingsStore(db, bus)
    settings.load()
    settings.set_many(FAST_GATES)
    secrets = SecretStore()
    store = SqlConnectionStore(db)
    service = ConnectionService(store, KeyringConnectionSecrets(secrets))
    replay = ReplayRuntime(_Secrets(secrets), ReplayOptions(exchange_id=exchange_id, balance=10_000.0, speed=600.0))
    config = replay.ensure_connection(store)
    config = replace(config, is_live_trade=live)  # the simulator moves no real money
    store.save(config)
    await replay.start()

    async def adapters(_config: ConnectionConfig):  # type: ignore[no-untyped-def]
        return replay.adapter()

    coordinator = GlobalTradeEngineCoordinator(EngineDeps(db, writer, settings, bus), service, adapters,
                                               LeaseKeeper(db))
    try:
        yield World(db, writer, settings, bus, service, replay, coordinator, config)
    finally:
        await coordinator.stop()
        await replay.stop()
        writer.stop()
        db.dispose()


@pytest_asyncio.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def world(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[World]:
    db = None
    if request.param == "postgres":
        db = Database(PG_URL, schema=request.getfixturevalue("pg_schema"))
    async with make_world(tmp_path, db=db) as w:
        yield w


def _count(db: Database, model: type, *where: object) -> int:
    with db.session() as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


async def test_replay_end_to_end(world: World) -> None:
    await world.coordinator.start()
    status = await world.coordinator.wait_started(120)
    assert status.state is EngineState.RUNNING, status
    assert status.engines[0].state is EngineState.RUNNING, status.engines[0]
    engine = world.coordinator.engines[world.config.id]
    assert engine.symbols == ["BTC/USDT:USDT"]
    assert not engine.paper
    # prices flow and the pipeline tracks sets
    await until(lambda: engine.meters["main"].cycles > 5, 30, "prices")
    await until(lambda: _count(world.db, Order) > 0, 150, "a live order")
    await until(lambda: _count(world.db, ConfigSet) > 0, 10, "set statistics in the DB")
    # pause: no new entries, tracking goes on
    world.coordinator.pause()
    order_cycles = engine.meters["orders"].cycles  # the cycle under way may still send what it took before
    await until(lambda: engine.meters["orders"].cycles >= order_cycles + 2, 30, "an order cycle after the pause")
    orders_paused = _count(world.db, Order, Order.reduce_only.is_(False))
    cycles, order_cycles = engine.meters["main"].cycles, engine.meters["orders"].cycles
    await until(lambda: engine.meters["main"].cycles >= cycles + 5 and engine.meters["orders"].cycles
                >= order_cycles + 5, 60, "prices and order cycles going on while paused")
    assert _count(world.db, Order, Order.reduce_only.is_(False)) == orders_paused
    world.coordinator.resume()
    assert engine.state is EngineState.RUNNING
    # emergency stop: cancels open orders, clears live flags, stops
    await world.coordinator.emergency_stop(close_positions=True)
    assert world.coordinator.state is EngineState.STOPPED
    assert not world.service.get(world.config.id).is_live_trade
    server = world.replay.server
    assert server is not None
    account = next(iter(server.market.keyring.keys.values())).account
    assert not [o for o in account.orders.values() if o.status.name in ("NEW", "PARTIALLY_FILLED")]
    # every order on the simulator is in the DB exactly once
    with world.db.session() as s:
        ours = s.execute(select(Order.client_order_id).where(Order.external.is_(False))).scalars().all()
        refused = set(s.execute(select(Order.client_order_id).where(
            Order.status.in_(("rejected", "not_sent")))).scalars())
        positions = s.execute(select(RealPosition)).scalars().all()
        funding = Decimal(s.execute(select(func.coalesce(func.sum(FundingPayment.amount), 0))).scalar_one())
    sim_client_ids = [o.client_id for o in account.orders.values() if o.client_id]
    assert len(ours) == len(set(ours))
    assert sorted(c for c in sim_client_ids if c.startswith("cts-")) == sorted(set(ours) - refused)
    # money: the DB's realised net + funding equals the simulator wallet's change, to the cent
    net = sum((p.realized_pnl - p.fees for p in positions), Decimal(0))
    with world.db.session() as s:
        fills = [(f.side, f.quantity, f.order_id, f.ts, f.exchange_trade_id) for f in s.execute(select(Fill)).scalars()]
        orders = [(o.client_order_id[-6:], o.side, o.reduce_only, o.status, o.quantity)
                  for o in s.execute(select(Order)).scalars()]
        diag = [*fills, *orders]
    sim_diag = [(x.side, x.qty, x.client_id[-6:], x.ts) for x in account.executions]
    print("DB positions:", [(p.id, p.side, p.status, p.opened_at, p.quantity) for p in positions])  # on failure
    print("DB fills and orders:", diag)
    print("simulator executions:", sim_diag)
    assert all(p.status in ("closed", "failed") for p in positions), (
        [(p.id, p.side, p.status, p.opened_at) for p in positions], diag, sim_diag)
    # compared unrounded (within 1/100 of a cent): rounding both sides could split a value sitting on a half cent
    drift = Decimal(10_000) + net + funding - Decimal(repr(account.wallet))
    assert abs(drift) < Decimal("0.0001"), (drift, diag, sim_diag)
    # cycle metrics: every main-loop cycle of the run is in the DB, in per-window rows, the errors counted
    assert world.writer.flush(10)
    with world.db.session() as s:
        totals = (func.sum(CycleMetric.cycles), func.sum(CycleMetric.errors), func.max(CycleMetric.max_ms))
        mine = (CycleMetric.connection_id == world.config.id, CycleMetric.loop == "main")
        stored = s.execute(select(*totals).where(*mine)).one()
    main = engine.meters["main"]
    assert (stored[0], stored[1]) == (main.cycles, main.errors) and stored[2] >= round(max(main.durations), 3) - 1e-3
