"""Request budgets of the simulator: on by default in the standalone process, per key and per IP, with each venue's
headers and answers, seen through stock ccxt (no client-side throttle) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.async_support as ccxt
import pytest
import pytest_asyncio

from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from cts_desktop.exchanges.simulator.rate_limits import BINGX, BYBIT, Budget, VenueBudgets
from tests.integration.exchanges.conftest import point_ccxt_at

ROOT = Path(__file__).resolve().parents[3]
LONG = 600_000  # windows no test outlasts: what is refused stays refused however slow the machine


def _client(venue: str, url: str, key: str, secret: str) -> Any:
    client = getattr(ccxt, venue)({"apiKey": key, "secret": secret, "enableRateLimit": False})
    point_ccxt_at(client, url)
    return client


async def _fee_rate(client: Any) -> tuple[bool, dict[str, str]]:
    """One signed Bybit read with a budget of 10/s; (served, the answer's headers)."""
    try:
        await client.privateGetV5AccountFeeRate({"category": "linear"})
        return True, dict(client.last_response_headers)
    except ccxt.RateLimitExceeded:
        return False, dict(client.last_response_headers)


@pytest.fixture(params=[True, False], ids=["default", "no-rate-limits"])
def standalone(request: pytest.FixtureRequest) -> Iterator[tuple[bool, list[dict[str, str]]]]:
    args = [sys.executable, "-m", "cts_desktop.exchanges.simulator", "--port", "0", "--speed", "0"]
    if not request.param:
        args.append("--no-rate-limits")
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        yield request.param, [json.loads(proc.stdout.readline()) for _ in range(2)]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.asyncio
async def test_standalone_limits_a_burst_by_default(standalone: tuple[bool, list[dict[str, str]]]) -> None:
    limited, lines = standalone
    bybit = lines[0]
    client = _client("bybit", bybit["url"], bybit["apiKey"], bybit["secret"])
    try:
        answers = await asyncio.gather(*(_fee_rate(client) for _ in range(40)))
    finally:
        await client.close()
    served = sum(ok for ok, _ in answers)
    if limited:
        assert 10 <= served < 40  # at least one window's worth, and not the whole burst
        headers = next(h for ok, h in answers if ok)
        assert headers["X-Bapi-Limit"] == "10"
    else:
        assert served == 40 and "X-Bapi-Limit" not in answers[0][1]


@pytest_asyncio.fixture
async def limited_sim() -> AsyncIterator[SimulatorServer]:
    """Documented budgets, but windows of 10 minutes so the test does not race the clock."""
    budgets = {
        "bybit": VenueBudgets(Budget(30, LONG, penalty_ms=LONG), Budget(30, LONG, penalty_ms=LONG),
                              Budget(10, LONG), {"/v5/position/list": Budget(50, LONG)}, shared_ip=True),
        "bingx": VenueBudgets(Budget(500, LONG), Budget(2_000, LONG), Budget(10, LONG, penalty_ms=LONG)),
    }
    server = SimulatorServer(SimulatorConfig(speed=0, rate_limits=True, rate_budgets=budgets))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.asyncio
async def test_bybit_key_budget_headers_and_refusal(limited_sim: SimulatorServer) -> None:
    key = limited_sim.market.create_account(1_000, exchange="bybit")
    other = limited_sim.market.create_account(1_000, exchange="bybit")
    client = _client("bybit", limited_sim.base_url, key.key, key.secret)
    second = _client("bybit", limited_sim.base_url, other.key, other.secret)
    try:
        statuses = []
        for _ in range(10):
            ok, headers = await _fee_rate(client)
            assert ok and headers["X-Bapi-Limit"] == "10"
            statuses.append(int(headers["X-Bapi-Limit-Status"]))
        assert statuses == list(range(9, -1, -1))
        before = limited_sim.market.wall_ms()
        ok, headers = await _fee_rate(client)
        assert not ok and headers["X-Bapi-Limit-Status"] == "0"
        assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > before  # when the window frees a request
        with pytest.raises(ccxt.RateLimitExceeded, match="10006"):
            await client.privateGetV5AccountFeeRate({"category": "linear"})
        assert (await _fee_rate(second))[0]  # another key has its own budget
        positions = await client.privateGetV5PositionList({"category": "linear"})  # and another endpoint its own
        assert positions["retCode"] == 0 and client.last_response_headers["X-Bapi-Limit"] == "50"
    finally:
        await client.close()
        await second.close()


@pytest.mark.asyncio
async def test_bybit_ip_budget_answers_403(limited_sim: SimulatorServer) -> None:
    async with aiohttp.ClientSession() as session:
        codes = []
        for _ in range(31):  # public requests count against the IP as well
            async with session.get(limited_sim.base_url + "/v5/market/time") as resp:
                codes.append(resp.status)
                text = await resp.text()
        assert codes[:30] == [200] * 30 and codes[30] == 403 and text == "access too frequent"
        async with session.get(limited_sim.base_url + "/v5/market/time") as resp:
            assert resp.status == 403  # banned: the window is not enough to come back


@pytest.mark.asyncio
async def test_bingx_key_budget_headers_and_five_minute_limit(limited_sim: SimulatorServer) -> None:
    key = limited_sim.market.create_account(1_000, exchange="bingx")
    client = _client("bingx", limited_sim.base_url, key.key, key.secret)
    try:
        remains = []
        for _ in range(10):
            await client.swapV2PrivateGetUserBalance()
            remains.append(int(client.last_response_headers["X-RateLimit-Requests-Remain"]))
        assert remains == list(range(9, -1, -1))
        now = limited_sim.market.wall_ms()
        with pytest.raises(ccxt.BaseError, match="100410"):
            await client.swapV2PrivateGetUserBalance()
        assert int(client.last_response_headers["X-RateLimit-Requests-Expire"]) >= now + LONG - 5_000
    finally:
        await client.close()


def test_documented_budgets() -> None:
    """The numbers the venues publish (see rate_limits.py for the sources)."""
    assert (BYBIT.private_ip.limit, BYBIT.private_ip.window_ms, BYBIT.private_ip.penalty_ms) == (600, 5_000, 600_000)
    assert BYBIT.for_path("/v5/order/create").limit == 10 and BYBIT.for_path("/v5/position/list").limit == 50
    assert (BINGX.public_ip.limit, BINGX.private_ip.limit, BINGX.public_ip.window_ms) == (500, 2_000, 10_000)
    assert BINGX.for_path("/openApi/swap/v2/trade/order").limit == 10
    assert BINGX.key_default.penalty_ms == 300_000


@pytest.mark.asyncio
async def test_an_injected_bybit_429_carries_the_limit_headers(sim: SimulatorServer) -> None:
    sim.faults.add("/v5/market/time", "rate_limit", retry_after=2)
    async with aiohttp.ClientSession() as session, session.get(sim.base_url + "/v5/market/time") as resp:
        body = await resp.json()
        assert resp.status == 429 and body["retCode"] == 10006 and resp.headers["Retry-After"] == "2"
        assert resp.headers["X-Bapi-Limit-Status"] == "0"
        assert int(resp.headers["X-Bapi-Limit-Reset-Timestamp"]) >= body["time"] + 2_000


@pytest.mark.asyncio
async def test_the_replay_connection_pace_stays_inside_the_venues_ip_budget() -> None:
    """The Replay connection's adapter has ccxt's throttle off (its kline weight paced a page every 100 ms for a
    server in the app's own process) and its own pace instead. 700 kline requests at once against the simulator
    with Bybit's documented per-IP budget (600 in 5 s, then a 10-minute ban): every one is answered, and in far
    less than the 70 s ccxt's weights would have spread them over."""
    from cts_desktop.exchanges.models import Credentials
    from cts_desktop.exchanges.replay_connection import loopback_adapter

    server = SimulatorServer(SimulatorConfig(speed=0, rate_limits=True))
    await server.start()
    key = server.market.create_account(1_000, exchange="bybit")
    adapter = loopback_adapter("bybit", Credentials(key.key, key.secret), server.base_url)
    try:
        await adapter.markets()
        loop = asyncio.get_running_loop()
        started = loop.time()
        pages = await asyncio.gather(*(adapter.ohlcv("BTC/USDT:USDT", "1m", limit=5) for _ in range(700)))
        elapsed = loop.time() - started
        assert all(len(page) == 5 for page in pages)
        assert elapsed < 40.0, f"700 kline pages took {elapsed:.1f} s: paced by ccxt's throttle"
    finally:
        await adapter.close()
        await server.stop()
