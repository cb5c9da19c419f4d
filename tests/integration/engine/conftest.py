"""Engine integration tests: a real SQLite DB, the loopback simulator, real ccxt classes, plain asyncio loop.

The simulator fixture, the loop hook and the loopback-only network guard are the exchange tests' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cts_desktop.domain.sizing import VolumeSettings
from cts_desktop.engine.market_rules import MarketCatalog
from cts_desktop.engine.order_manager import OrderManager, RiskLimits
from cts_desktop.events.bus import EventBus
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.storage.db import Database, sqlite_url
from cts_desktop.storage.models import Connection
from tests.integration.exchanges.conftest import (  # noqa: F401  (fixtures and the loop hook, reused)
    _loopback_only,
    pytest_asyncio_loop_factories,
    sim,
)


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
