"""Live prices: ccxt.pro websockets against the simulator's Bybit and BingX streams; REST polling when the
websocket cannot be reached."""

from __future__ import annotations

import pytest

from cts_desktop.exchanges.live_prices import LivePriceFeed
from cts_desktop.exchanges.simulator import SimulatorServer
from tests.helpers.waiting import until
from tests.integration.exchanges.conftest import SYMBOL, make_adapter


async def _collect(feed: LivePriceFeed, got: list[tuple[str, float]], n: int, timeout: float = 15) -> None:
    feed.start()
    await until(lambda: len(got) >= n, timeout, f"{n} prices")


@pytest.mark.asyncio
async def test_bybit_prices_arrive_by_websocket(sim: SimulatorServer) -> None:
    got: list[tuple[str, float]] = []
    async with make_adapter(sim, "bybit") as ad:
        feed = LivePriceFeed(ad, [SYMBOL, "ETH/USDT:USDT"], lambda s, p, t: got.append((s, p)), poll_interval_s=0.1)
        try:
            await _collect(feed, got, 2)
            assert feed.mode == "websocket"
            assert sim.public_ws.connections == 1
            first = dict(got)
            assert first[SYMBOL] == pytest.approx(sim.market.price("BTC"))
            sim.market.step(3_600_000)
            target = sim.market.price("BTC")
            await until(lambda: got[-1][1] == pytest.approx(target) or dict(got[-2:]).get(SYMBOL)
                        == pytest.approx(target), 10, "the new price by websocket")
        finally:
            await feed.stop()


@pytest.mark.asyncio
async def test_bingx_prices_arrive_by_websocket(sim: SimulatorServer) -> None:
    got: list[tuple[str, float]] = []
    async with make_adapter(sim, "bingx") as ad:
        feed = LivePriceFeed(ad, [SYMBOL], lambda s, p, t: got.append((s, p)), poll_interval_s=0.05)
        try:
            await _collect(feed, got, 1)
            assert feed.mode == "websocket"
            assert got[-1][1] == pytest.approx(sim.market.price("BTC"))
            sim.market.step(3_600_000)
            target = sim.market.price("BTC")
            await until(lambda: got[-1][1] == pytest.approx(target), 10, "the new price by websocket")
        finally:
            await feed.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange", ["bybit", "bingx"])
async def test_prices_fall_back_to_rest_polling_without_the_websocket(sim: SimulatorServer, exchange: str) -> None:
    got: list[tuple[str, float]] = []
    async with make_adapter(sim, exchange) as ad:
        feed = LivePriceFeed(ad, [SYMBOL], lambda s, p, t: got.append((s, p)), poll_interval_s=0.05,
                             ws_base="ws://127.0.0.1:9")  # nothing listens there
        try:
            await _collect(feed, got, 2)
            assert feed.mode == "polling"
            sim.market.step(3_600_000)
            target = sim.market.price("BTC")
            await until(lambda: got[-1][1] == pytest.approx(target), 10, "the new price by polling")
        finally:
            await feed.stop()
