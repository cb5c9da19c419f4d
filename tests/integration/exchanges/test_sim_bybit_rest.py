"""Bybit REST of the simulator through stock ccxt (URLs pointed at 127.0.0.1): amend, closed PnL, instrument and
position fields as the real venue prints them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.auth import ApiKey
from tests.integration.exchanges.conftest import stock_client

SYMBOL = "BTC/USDT:USDT"


@pytest_asyncio.fixture
async def bybit(sim: SimulatorServer) -> AsyncIterator[tuple[Any, ApiKey]]:
    client, key = stock_client(sim, "bybit")
    try:
        yield client, key
    finally:
        await client.close()


@pytest_asyncio.fixture
async def small(sim: SimulatorServer) -> AsyncIterator[tuple[Any, ApiKey]]:
    """An account of 200 USDT: a cross position's liquidation price is within reach."""
    client, key = stock_client(sim, "bybit", 200)
    try:
        yield client, key
    finally:
        await client.close()


@pytest.mark.asyncio
async def test_edit_order_moves_a_resting_limit(sim: SimulatorServer, bybit: tuple[Any, ApiKey]) -> None:
    client, key = bybit
    last = sim.market.price("BTC")
    placed = await client.create_order(SYMBOL, "limit", "buy", 0.01, round(last * 0.9, 1),
                                       params={"orderLinkId": "amend-1"})
    edited = await client.edit_order(placed["id"], SYMBOL, "limit", "buy", 0.02, round(last * 0.95, 1))
    assert edited["id"] == placed["id"]
    order = key.account.orders[placed["id"]]
    assert (order.qty, order.price, order.status.value) == (0.02, round(last * 0.95, 1), "New")
    fetched = await client.fetch_open_order(placed["id"], SYMBOL)
    assert (fetched["amount"], fetched["price"]) == (0.02, round(last * 0.95, 1))


@pytest.mark.asyncio
async def test_edit_through_the_market_fills_and_a_filled_order_cannot_be_edited(
    sim: SimulatorServer, bybit: tuple[Any, ApiKey]
) -> None:
    client, key = bybit
    last = sim.market.price("BTC")
    placed = await client.create_order(SYMBOL, "limit", "buy", 0.01, round(last * 0.9, 1))
    await client.edit_order(placed["id"], SYMBOL, "limit", "buy", 0.01, round(last * 1.01, 1))
    order = key.account.orders[placed["id"]]
    assert order.status.value == "Filled" and key.account.position("BTC", 0).size == pytest.approx(0.01)
    with pytest.raises(ccxt.OrderNotFound, match="110001"):
        await client.edit_order(placed["id"], SYMBOL, "limit", "buy", 0.01, round(last * 0.9, 1))
    with pytest.raises(ccxt.InvalidOrder, match="110003"):  # amended prices pass the same checks as new ones
        resting = await client.create_order(SYMBOL, "limit", "buy", 0.01, round(last * 0.9, 1))
        await client.edit_order(resting["id"], SYMBOL, "limit", "buy", 0.01, round(last * 1.5, 1))


@pytest.mark.asyncio
async def test_closed_pnl_after_a_round_trip(sim: SimulatorServer, bybit: tuple[Any, ApiKey]) -> None:
    client, key = bybit
    await client.create_order(SYMBOL, "market", "buy", 0.05)
    entry = sim.market.price("BTC")
    sim.market.step(3_600_000)
    exit_price = sim.market.price("BTC")
    closing = await client.create_order(SYMBOL, "market", "sell", 0.05, params={"reduceOnly": True})
    raw = await client.privateGetV5PositionClosedPnl({"category": "linear", "symbol": "BTCUSDT"})
    rows = raw["result"]["list"]
    assert len(rows) == 1 and rows[0]["orderId"] == closing["id"]
    close_fill = key.account.executions[-1]
    assert float(rows[0]["avgEntryPrice"]) == pytest.approx(entry, rel=1e-9)
    assert float(rows[0]["avgExitPrice"]) == pytest.approx(exit_price, rel=1e-9)
    assert float(rows[0]["closedSize"]) == 0.05 and rows[0]["side"] == "Sell"
    assert float(rows[0]["closedPnl"]) == pytest.approx((exit_price - entry) * 0.05 - close_fill.fee, abs=1e-6)
    history = await client.fetch_positions_history([SYMBOL])  # ccxt reads the same endpoint
    assert history[0]["realizedPnl"] == pytest.approx(float(rows[0]["closedPnl"]))


@pytest.mark.asyncio
async def test_instrument_and_position_fields_as_the_venue_prints_them(
    sim: SimulatorServer, small: tuple[Any, ApiKey]
) -> None:
    client, key = small
    info = await client.publicGetV5MarketInstrumentsInfo({"category": "linear", "symbol": "BTCUSDT"})
    btc = info["result"]["list"][0]
    assert btc["priceScale"] == "2" and btc["priceFilter"]["maxPrice"] == "1999999.80"  # as the recorded BTCUSDT
    await client.create_order(SYMBOL, "market", "buy", 0.01)
    raw = await client.privateGetV5PositionList({"category": "linear", "symbol": "BTCUSDT"})
    pos = raw["result"]["list"][0]
    # live position/list (ccxt's recording) says mmrSysUpdatedTime; the docs' example "mmrSysUpdateTime" is a typo
    assert "mmrSysUpdatedTime" in pos and "mmrSysUpdateTime" not in pos and "sessionAvgPrice" in pos
    account = key.account
    sim_pos = account.position("BTC", 0)
    entry, size, leverage = sim_pos.entry, sim_pos.size, account.leverage_of("BTC")
    free = account.available(sim.market.prices())
    expected_cross = entry - (size * entry / leverage + free - size * entry * 0.005) / size
    assert entry * 0.5 < expected_cross < entry  # the free 200 USDT carry the position well below its entry
    assert float(pos["liqPrice"]) == pytest.approx(expected_cross, abs=0.1)
    none = await client.privateGetV5PositionList({"category": "inverse"})
    assert none["result"]["list"] == []
