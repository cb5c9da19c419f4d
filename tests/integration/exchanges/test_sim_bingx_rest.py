"""The simulator's BingX REST as the venue (issue 21): cancelReplace (ccxt ``edit_order``), ticker/price, the create
answer's fields and types, the 1 s duplicate-id window and the timestamp window both ways — each refusal with the
catalogue's code and text. Stock ccxt, its base URL changed only."""

from __future__ import annotations

from typing import Any

import pytest

from cts_desktop.exchanges.simulator import SimulatorServer
from tests.integration.exchanges.conftest import stock_client

SYMBOL = "BTC/USDT:USDT"
CREATE_FIELDS = {"symbol", "orderId", "side", "positionSide", "type", "clientOrderID", "workingType"}


async def _ccxt(sim: SimulatorServer) -> Any:
    ex, _ = stock_client(sim, "bingx")
    await ex.load_markets()
    return ex


def _account(sim: SimulatorServer, ex: Any) -> Any:
    return sim.market.keyring.keys[ex.apiKey].account


def _below(sim: SimulatorServer, fraction: float) -> float:
    return round(sim.market.price("BTC") * fraction, 1)


@pytest.mark.asyncio
async def test_edit_order_cancels_the_old_order_and_places_the_new_one(sim: SimulatorServer) -> None:
    ex = await _ccxt(sim)
    try:
        old = await ex.create_order(SYMBOL, "limit", "buy", 0.01, _below(sim, 0.9), {"clientOrderId": "ed-1"})
        new_price = _below(sim, 0.8)
        edited = await ex.edit_order(old["id"], SYMBOL, "limit", "buy", 0.02, new_price)
        orders = _account(sim, ex).orders
        assert orders[old["id"]].status.value == "Cancelled"
        placed = orders[edited["id"]]
        assert (placed.price, placed.qty, placed.status.value) == (new_price, 0.02, "New")
        assert [o["id"] for o in await ex.fetch_open_orders(SYMBOL)] == [edited["id"]]
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_cancel_replace_of_a_filled_order_is_refused_and_places_nothing(sim: SimulatorServer) -> None:
    import ccxt.async_support as ccxt

    ex = await _ccxt(sim)
    try:
        filled = await ex.create_order(SYMBOL, "market", "buy", 0.01)
        with pytest.raises(ccxt.BaseError) as refused:
            await ex.edit_order(filled["id"], SYMBOL, "limit", "buy", 0.01, _below(sim, 0.9))
        assert "80018" in str(refused.value) and "Order already filled" in str(refused.value)
        assert len(_account(sim, ex).orders) == 1
        # ALLOW_FAILURE: the cancel fails, the new order is placed anyway, as the answer says
        answer = await ex.swapV1PrivatePostTradeCancelReplace({
            "symbol": "BTC-USDT", "cancelOrderId": filled["id"], "cancelReplaceMode": "ALLOW_FAILURE",
            "side": "BUY", "positionSide": "BOTH", "type": "LIMIT", "quantity": 0.01, "price": _below(sim, 0.9),
        })
        data = answer["data"]
        assert (data["cancelResult"], data["cancelMsg"], data["replaceResult"]) == (
            "false", "Order already filled", "true")
        assert str(data["newOrderResponse"]["orderId"]) in _account(sim, ex).orders
        with pytest.raises(ccxt.BaseError) as bad_mode:  # an unknown mode: refused, nothing cancelled or placed
            await ex.swapV1PrivatePostTradeCancelReplace({
                "symbol": "BTC-USDT", "cancelOrderId": data["newOrderResponse"]["orderId"],
                "cancelReplaceMode": "SOMETIMES", "side": "BUY", "positionSide": "BOTH", "type": "LIMIT",
                "quantity": 0.01, "price": _below(sim, 0.9)})
        assert "80014" in str(bad_mode.value) and "Invalid parameter" in str(bad_mode.value)
        assert len(_account(sim, ex).orders) == 2 and len(_account(sim, ex).open_orders()) == 1
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_ticker_price_and_an_unknown_symbol(sim: SimulatorServer) -> None:
    import ccxt.async_support as ccxt

    ex = await _ccxt(sim)
    try:
        answer = await ex.swapV1PublicGetTickerPrice({"symbol": "BTC-USDT"})
        assert answer["data"]["symbol"] == "BTC-USDT"
        assert float(answer["data"]["price"]) == pytest.approx(sim.market.price("BTC"))
        everything = await ex.swapV1PublicGetTickerPrice()
        assert {row["symbol"] for row in everything["data"]} >= {"BTC-USDT", "ETH-USDT", "SOL-USDT"}
        with pytest.raises(ccxt.BaseError) as refused:
            await ex.swapV1PublicGetTickerPrice({"symbol": "NOPE-USDT"})
        assert "109425" in str(refused.value)
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_the_create_answer_names_the_order_only(sim: SimulatorServer) -> None:
    ex = await _ccxt(sim)
    try:
        answer = await ex.swapV2PrivatePostTradeOrder({
            "symbol": "BTC-USDT", "side": "BUY", "positionSide": "BOTH", "type": "MARKET", "quantity": 0.01,
            "clientOrderID": "cr-1",
        })
        order = answer["data"]["order"]
        assert set(order) == CREATE_FIELDS
        assert isinstance(order["orderId"], int) and order["clientOrderID"] == "cr-1"
        assert str(order["orderId"]) in _account(sim, ex).orders
        unified = await ex.create_order(SYMBOL, "market", "buy", 0.01)
        assert unified["filled"] is None and unified["average"] is None  # no fill data in the answer, as live
    finally:
        await ex.close()


@pytest.mark.asyncio
async def test_a_duplicate_client_id_is_refused_within_one_second_only(sim: SimulatorServer) -> None:
    import ccxt.async_support as ccxt

    ex = await _ccxt(sim)
    try:
        await ex.create_order(SYMBOL, "limit", "buy", 0.01, _below(sim, 0.9), {"clientOrderId": "dup-1"})
        with pytest.raises(ccxt.BaseError) as refused:
            await ex.create_order(SYMBOL, "limit", "buy", 0.01, _below(sim, 0.9), {"clientOrderId": "dup-1"})
        assert "109201" in str(refused.value)
        assert "The same order number can only be submitted once within 1 second" in str(refused.value)
        assert len(_account(sim, ex).orders) == 1
        sim.set_clock_offset(1_500)  # the venue's clock 1.5 s on (ccxt's timestamps stay inside the window)
        again = await ex.create_order(SYMBOL, "limit", "buy", 0.01, _below(sim, 0.9), {"clientOrderId": "dup-1"})
        assert len(_account(sim, ex).orders) == 2 and again["clientOrderId"] == "dup-1"
    finally:
        await ex.close()


@pytest.mark.asyncio
@pytest.mark.parametrize("venue_offset_ms", [-3_000, 6_000], ids=["3s-ahead", "6s-late"])
async def test_a_timestamp_outside_the_window_is_refused_either_way(
    sim: SimulatorServer, venue_offset_ms: int
) -> None:
    """recvWindow 5 s: a request stamped 3 s ahead of the venue's clock, or 6 s behind it, is refused (100421)."""
    import ccxt.async_support as ccxt

    ex = await _ccxt(sim)
    try:
        await ex.fetch_balance()
        sim.set_clock_offset(venue_offset_ms)
        with pytest.raises(ccxt.BaseError) as refused:
            await ex.fetch_balance()
        assert "100421" in str(refused.value) and "Timestamp mismatch" in str(refused.value)
    finally:
        await ex.close()
