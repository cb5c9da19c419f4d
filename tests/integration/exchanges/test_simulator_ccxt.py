"""Raw ccxt classes (no adapter) against the simulator: the wire protocol works for both dialects."""

from __future__ import annotations

import pytest

from cts_desktop.exchanges.simulator import SimulatorServer
from tests.integration.exchanges.conftest import point_ccxt_at

SYMBOL = "BTC/USDT:USDT"


async def _exchange(sim: SimulatorServer, exchange_id: str, **overrides: str) -> object:
    import ccxt.async_support as ccxt

    key = sim.market.create_account(10_000, exchange=exchange_id)
    ex = getattr(ccxt, exchange_id)(
        {"apiKey": overrides.get("apiKey", key.key), "secret": overrides.get("secret", key.secret)}
    )
    point_ccxt_at(ex, sim.base_url)
    ex.options["defaultType"] = "swap"
    if exchange_id == "bybit":
        ex.options["fetchMarkets"] = {"types": ["linear"]}
    return ex


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", ["bybit", "bingx"])
async def test_market_order_round_trip(sim: SimulatorServer, exchange_id: str) -> None:
    ex = await _exchange(sim, exchange_id)
    try:
        markets = await ex.load_markets()
        assert {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"} <= set(markets)
        ticker = await ex.fetch_ticker(SYMBOL)
        assert ticker["last"] == pytest.approx(sim.market.price("BTC"))
        order = await ex.create_order(SYMBOL, "market", "buy", 0.01, None, {"clientOrderId": "rt-1"})
        assert order["clientOrderId"] == "rt-1"
        positions = [p for p in await ex.fetch_positions([SYMBOL]) if p["contracts"]]
        assert positions[0]["side"] == "long" and positions[0]["contracts"] == pytest.approx(0.01)
        balance = await ex.fetch_balance()
        fee = 0.01 * ticker["last"] * 0.00055
        assert balance["USDT"]["total"] == pytest.approx(10_000 - fee, abs=1e-6)
    finally:
        await ex.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", ["bybit", "bingx"])
async def test_wrong_secret_is_an_authentication_error(sim: SimulatorServer, exchange_id: str) -> None:
    import ccxt.async_support as ccxt

    ex = await _exchange(sim, exchange_id, secret="0" * 36)
    try:
        with pytest.raises(ccxt.AuthenticationError):
            await ex.fetch_balance()
    finally:
        await ex.close()
