"""Engine integration tests: a real SQLite DB, the loopback simulator, real ccxt classes, plain asyncio loop.

The simulator fixture, the loop hook and the loopback-only network guard are the exchange tests' own.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cts_desktop.domain.sizing import VolumeSettings
from cts_desktop.engine import position_ledger as ledger
from cts_desktop.engine.market_rules import MarketCatalog
from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import RiskLimits
from cts_desktop.events.bus import EventBus
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.simulator import SimulatorServer
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


def sim_account(server: SimulatorServer) -> Any:
    return list(server.market.keyring.keys.values())[-1].account


def exchange_sides(server: SimulatorServer) -> dict[ledger.SideKey, Decimal]:
    """What the simulator's account holds per symbol and side, read from its own state."""
    out = {}
    for pos in sim_account(server).positions.values():
        if pos.size > 0:  # the simulator keeps floats; it reports them rounded to the quantity step
            step = Decimal(server.market.instruments[pos.base].qty_step)
            side = "long" if pos.side == "Buy" else "short"
            out[ledger.SideKey(f"{pos.base}/USDT:USDT", side)] = Decimal(repr(pos.size)).quantize(step)
    return out


def walk_until_flat(server: SimulatorServer, step_ms: int = 60_000, most: int = 400) -> None:
    """Step the market until the exchange-side TP/SL have closed every position of the account."""
    for _ in range(most):
        if not exchange_sides(server):
            return
        server.market.step(step_ms)


def db_sides(db: Database, connection_id: str = "c1") -> dict[ledger.SideKey, Decimal]:
    with db.session() as s:
        return {k: q for k, q in ledger.live_quantities(s, connection_id).items() if q != 0}
