"""Every order check of the simulator refuses with the venue's catalogue code and text, and places nothing.

Orders go through stock ccxt's raw signed endpoints (``privatePostV5OrderCreate``, ``swapV2PrivatePostTradeOrder``),
which send the values as given: ccxt's unified ``create_order`` would round them to the market's precision first, and
the point here is what the venue answers when a client does not.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import ccxt.async_support as ccxt
import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorServer
from cts_desktop.exchanges.simulator.auth import ApiKey
from cts_desktop.exchanges.simulator.order_checks import PRICE_BAND, OrderCheck, max_price, venue_error
from tests.integration.exchanges.conftest import point_ccxt_at


@pytest_asyncio.fixture(params=["bybit", "bingx"])
async def venue(request: pytest.FixtureRequest, sim: SimulatorServer) -> AsyncIterator[tuple[str, Any, ApiKey]]:
    key = sim.market.create_account(10_000, exchange=request.param)
    client = getattr(ccxt, request.param)({"apiKey": key.key, "secret": key.secret, "enableRateLimit": False})
    point_ccxt_at(client, sim.base_url)
    try:
        yield request.param, client, key
    finally:
        await client.close()


async def _place(venue_id: str, client: Any, side: str, qty: str, price: str | None = None,
                 reduce_only: bool = False) -> tuple[int, str]:
    """Send one raw order; (code, message) of the answer (0 = accepted)."""
    try:
        if venue_id == "bybit":
            body: dict[str, Any] = {"category": "linear", "symbol": "BTCUSDT", "side": side.capitalize(),
                                    "orderType": "Limit" if price else "Market", "qty": qty,
                                    "reduceOnly": reduce_only}
            if price:
                body["price"] = price
            answer = await client.privatePostV5OrderCreate(body)
            return int(answer["retCode"]), answer["retMsg"]
        params = {"symbol": "BTC-USDT", "side": side.upper(), "positionSide": "BOTH",
                  "type": "LIMIT" if price else "MARKET", "quantity": qty, "reduceOnly": str(reduce_only).lower()}
        if price:
            params["price"] = price
        answer = await client.swapV2PrivatePostTradeOrder(params)
        return int(answer["code"]), answer["msg"]
    except ccxt.ExchangeError as exc:  # ccxt raises on a non-zero code: the body is in its message
        body_text = str(exc).split(" ", 1)[1]
        parsed = json.loads(body_text)
        code = parsed.get("retCode", parsed.get("code"))
        return int(code), parsed.get("retMsg", parsed.get("msg"))


def _cases(sim: SimulatorServer) -> dict[OrderCheck, tuple[str, str, str | None, bool]]:
    """One breach per check on BTC (tick 0.10, step 0.001, min 0.001, max 1190, market max 119, min value 5)."""
    last = sim.market.price("BTC")
    inst = sim.market.instruments["BTC"]
    passive = f"{round(last * 0.9, 1):.1f}"
    return {
        OrderCheck.QTY_STEP: ("buy", "0.0015", passive, False),
        OrderCheck.QTY_MIN: ("buy", "0.0005", passive, False),
        OrderCheck.QTY_MAX: ("buy", "120", None, False),  # above the market-order maximum
        OrderCheck.PRICE_TICK: ("buy", "0.01", f"{round(last * 0.9, 1) + 0.05:.2f}", False),
        OrderCheck.PRICE_RANGE: ("sell", "0.01", f"{max_price(inst) + 1000:.1f}", False),
        OrderCheck.PRICE_BAND: ("buy", "0.01", f"{round(last * (1 + PRICE_BAND) * 1.01, 1):.1f}", False),
        OrderCheck.REDUCE_ONLY_NO_POSITION: ("sell", "0.01", None, True),
        OrderCheck.NOTIONAL_MIN: ("buy", "0.001", f"{round(4 / 0.001 / 10, 1) * 10:.1f}", False),  # 0.001 × 4000 < 5
    }


@pytest.mark.asyncio
@pytest.mark.parametrize("check", list(OrderCheck), ids=lambda c: c.value)
async def test_each_breach_is_refused_with_the_catalogue_answer(
    sim: SimulatorServer, venue: tuple[str, Any, ApiKey], check: OrderCheck
) -> None:
    venue_id, client, key = venue
    await client.load_markets()
    side, qty, price, reduce_only = _cases(sim)[check]
    answer = await _place(venue_id, client, side, qty, price, reduce_only)
    assert answer == venue_error(venue_id, check)
    assert key.account.orders == {} and key.account.executions == []  # nothing placed, nothing truncated and filled


@pytest.mark.asyncio
async def test_orders_inside_every_rule_are_accepted(sim: SimulatorServer, venue: tuple[str, Any, ApiKey]) -> None:
    venue_id, client, key = venue
    await client.load_markets()
    last = sim.market.price("BTC")
    passive = f"{round(last * 0.9, 1):.1f}"
    assert (await _place(venue_id, client, "buy", "0.002", passive))[0] == 0
    band_edge = f"{int(last * (1 + PRICE_BAND) * 10) / 10:.1f}"  # marketable, inside the band: fills
    assert (await _place(venue_id, client, "buy", "0.003", band_edge))[0] == 0
    assert (await _place(venue_id, client, "sell", "0.003", None, reduce_only=True))[0] == 0
    assert sorted(o.qty for o in key.account.orders.values()) == [0.002, 0.003, 0.003]
