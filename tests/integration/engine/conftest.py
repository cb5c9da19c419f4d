"""Engine integration tests: a real SQLite DB, the loopback simulator, real ccxt classes, plain asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from cts_desktop.domain.sizing import VolumeSettings
from cts_desktop.engine.events import EventBus
from cts_desktop.engine.market_rules import MarketCatalog
from cts_desktop.engine.order_manager import OrderManager, RiskLimits
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Connection


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    server = SimulatorServer(SimulatorConfig(speed=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def engine_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(sqlite_url(tmp_path / "cts.sqlite3"))
    db.migrate()
    with db.session() as s:
        s.add(Connection(id="c1", name="Replay test", exchange="bybit", kind="replay"))
    try:
        yield db
    finally:
        db.dispose()


SYMBOL = "BTC/USDT:USDT"
LIMITS = RiskLimits(max_open_exchange=10, max_per_symbol_direction=1, cooldown_s=0, daily_loss_limit_pct=0,
                    volume=VolumeSettings(positions_average=20, risk_percent=20))


async def manager_for(
    db: Database, adapter: ExchangeAdapter, broker: object, paper: bool, limits: RiskLimits = LIMITS
) -> OrderManager:
    """The order manager of connection ``c1`` as the engine builds it, over ``broker`` (the adapter or paper)."""
    markets = await adapter.markets()
    catalog = MarketCatalog(adapter.client, markets)
    return OrderManager("c1", db, broker, EventBus(), paper=paper,  # type: ignore[arg-type]
                        market_rules=catalog.rules, amount_to_precision=catalog.amount,
                        price_to_precision=catalog.price, limits=lambda: limits)
