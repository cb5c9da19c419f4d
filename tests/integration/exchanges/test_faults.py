"""Injected faults map to the right project error and retry behaviour (real ccxt, loopback simulator)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from cts_desktop.exchanges.adapter import ExchangeAdapter, OrderOutcomeUnknownError
from cts_desktop.exchanges.errors import (
    AuthenticationError,
    AuthProblem,
    ExchangeUnavailableError,
    RateLimitedError,
    TemporaryError,
)
from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType
from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from tests.helpers.waiting import until
from tests.integration.exchanges.conftest import EXCHANGES, SYMBOL, make_adapter

TICKER_PATH = {"bybit": "/v5/market/tickers", "bingx": "/openApi/swap/v2/quote/ticker"}
CREATE_PATH = {"bybit": "/v5/order/create", "bingx": "/openApi/swap/v2/trade/order"}
LOOKUP_PATH = {"bybit": "/v5/order/realtime", "bingx": "/openApi/swap/v2/trade/order"}


def _orders_with(sim: SimulatorServer, adapter: ExchangeAdapter, client_id: str) -> int:
    account = sim.market.keyring.keys[adapter._credentials.api_key].account  # type: ignore[union-attr]
    return sum(1 for o in account.orders.values() if o.client_id == client_id)


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
@pytest.mark.parametrize("kind", ["http_5xx", "reset", "rate_limit"])
async def test_one_transient_fault_on_a_read_is_retried(sim: SimulatorServer, exchange_id: str, kind: str) -> None:
    async with make_adapter(sim, exchange_id) as ad:
        await ad.markets()
        sim.faults.add(TICKER_PATH[exchange_id], kind, count=1, retry_after=0)
        before = sim.path_counts[TICKER_PATH[exchange_id]]
        ticker = await ad.ticker(SYMBOL)
        assert ticker.last == pytest.approx(sim.market.price("BTC"))
        assert sim.path_counts[TICKER_PATH[exchange_id]] - before == 2


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
@pytest.mark.parametrize(
    ("kind", "error"),
    [("http_5xx", ExchangeUnavailableError), ("reset", ExchangeUnavailableError), ("rate_limit", RateLimitedError)],
)
async def test_persistent_fault_gives_up_after_the_policy(
    sim: SimulatorServer, exchange_id: str, kind: str, error: type[Exception]
) -> None:
    async with make_adapter(sim, exchange_id, attempts=3) as ad:
        await ad.markets()
        sim.faults.add(TICKER_PATH[exchange_id], kind, count=None, retry_after=0)
        before = sim.path_counts[TICKER_PATH[exchange_id]]
        with pytest.raises(error):
            await ad.ticker(SYMBOL)
        seen = sim.path_counts[TICKER_PATH[exchange_id]] - before
        # aiohttp itself re-sends a GET once when a pooled keep-alive connection was reset
        assert seen == 3 if kind != "reset" else 3 <= seen <= 6


@pytest.mark.asyncio
async def test_rate_limit_honours_retry_after_and_is_logged(
    sim: SimulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_adapter(sim, "bybit") as ad:
        await ad.markets()
        ad.retry = type(ad.retry)(attempts=3, base_delay=0.01, max_delay=2.0, jitter=0.0)
        sim.faults.add(TICKER_PATH["bybit"], "rate_limit", count=1, retry_after=1)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            await ad.ticker(SYMBOL)
        assert time.monotonic() - started >= 0.95
        assert any("rate-limited (429)" in r.getMessage() for r in caplog.records)


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_timeout_and_latency(sim: SimulatorServer, exchange_id: str) -> None:
    async with make_adapter(sim, exchange_id, timeout_ms=400, attempts=2) as ad:
        await ad.markets()
        sim.faults.add(TICKER_PATH[exchange_id], "latency", count=1, seconds=0.2)
        started = time.monotonic()
        await ad.ticker(SYMBOL)
        assert time.monotonic() - started >= 0.2
        sim.faults.add(TICKER_PATH[exchange_id], "timeout", count=None, seconds=2)
        with pytest.raises(TemporaryError):
            await ad.ticker(SYMBOL)


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_accepted_but_response_lost_is_found_by_client_id(sim: SimulatorServer, exchange_id: str) -> None:
    async with make_adapter(sim, exchange_id) as ad:
        await ad.markets()
        sim.faults.add(CREATE_PATH[exchange_id], "response_lost", count=1, method="POST")
        order = await ad.place_order(OrderRequest(SYMBOL, OrderSide.BUY, OrderType.MARKET, 0.01, "lost-1"))
        assert order.client_id == "lost-1" and order.filled == pytest.approx(0.01)
        assert _orders_with(sim, ad, "lost-1") == 1
        assert sim.path_counts[CREATE_PATH[exchange_id]] >= 1


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_response_lost_and_lookup_down_then_engine_retry_leaves_one_order(
    sim: SimulatorServer, exchange_id: str
) -> None:
    async with make_adapter(sim, exchange_id, attempts=2) as ad:
        await ad.markets()
        request = OrderRequest(SYMBOL, OrderSide.BUY, OrderType.MARKET, 0.01, "lost-2")
        sim.faults.add(CREATE_PATH[exchange_id], "response_lost", count=1, method="POST")
        sim.faults.add(LOOKUP_PATH[exchange_id], "http_5xx", count=2, method="GET")
        with pytest.raises(OrderOutcomeUnknownError):
            await ad.place_order(request)
        order = await ad.place_order(request)  # the engine's retry: same request, same client id
        assert order.client_id == "lost-2"
        assert _orders_with(sim, ad, "lost-2") == 1
        (position,) = await ad.positions([SYMBOL])
        assert position.contracts == pytest.approx(0.01)


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_create_refused_before_reaching_the_book_is_resubmitted_once(
    sim: SimulatorServer, exchange_id: str
) -> None:
    async with make_adapter(sim, exchange_id) as ad:
        await ad.markets()
        sim.faults.add(CREATE_PATH[exchange_id], "http_5xx", count=1, method="POST")
        order = await ad.place_order(OrderRequest(SYMBOL, OrderSide.BUY, OrderType.MARKET, 0.01, "5xx-1"))
        assert order.client_id == "5xx-1"
        assert _orders_with(sim, ad, "5xx-1") == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
@pytest.mark.parametrize("case", ["bad_key", "bad_secret", "ip", "clock"])
async def test_authentication_problems_are_told_apart(sim: SimulatorServer, exchange_id: str, case: str) -> None:
    expected = {
        "bad_key": AuthProblem.BAD_KEY,
        "bad_secret": AuthProblem.BAD_SIGNATURE,
        "ip": AuthProblem.IP_NOT_ALLOWED,
        "clock": AuthProblem.CLOCK_SKEW,
    }[case]
    if case == "bad_key":
        ad = make_adapter(sim, exchange_id, api_key="not-a-key")
    elif case == "bad_secret":
        ad = make_adapter(sim, exchange_id, secret="f" * 36)
    else:
        ad = make_adapter(sim, exchange_id)
    async with ad:
        if case == "ip":
            sim.market.keyring.keys[ad._credentials.api_key].allowed_ips = ["10.1.2.3"]  # type: ignore[union-attr]
        if case == "clock":  # a signed timestamp two minutes old that no clock measurement corrects
            ad.client.nonce = lambda: int(time.time() * 1000) - 120_000
        with pytest.raises(AuthenticationError) as info:
            await ad.balance()
        assert info.value.problem is expected


CANCEL_PATH = {"bybit": "/v5/order/cancel", "bingx": "/openApi/swap/v2/trade/order"}
CANCEL_METHOD = {"bybit": "POST", "bingx": "DELETE"}


@pytest.mark.asyncio
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_cancel_whose_response_was_lost_is_confirmed_not_failed(sim: SimulatorServer, exchange_id: str) -> None:
    async with make_adapter(sim, exchange_id) as ad:
        price = round(sim.market.price("BTC") * 0.8, 1)
        await ad.place_order(OrderRequest(SYMBOL, OrderSide.BUY, OrderType.LIMIT, 0.01, "cxl-1", price))
        sim.faults.add(CANCEL_PATH[exchange_id], "response_lost", count=1, method=CANCEL_METHOD[exchange_id])
        await ad.cancel_order(SYMBOL, client_id="cxl-1")
        assert (await ad.order_by_client_id(SYMBOL, "cxl-1")).status == "canceled"
        assert sim.path_counts[CANCEL_PATH[exchange_id]] >= 2


@pytest.mark.slow
@pytest.mark.asyncio
async def test_per_key_rate_limit_backs_off_and_the_connection_limiter_avoids_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from cts_desktop.exchanges.capabilities import RateLimit

    sim = SimulatorServer(SimulatorConfig(speed=0, key_requests_per_second=4))
    await sim.start()
    try:
        async with make_adapter(sim, "bybit", attempts=4, ccxt_throttle=False) as ad:
            ad.retry = type(ad.retry)(attempts=4, base_delay=0.05, max_delay=1.5, jitter=0.0)
            await ad.balance()  # ccxt's first private call also asks the account type: keep it out of the burst
            key = ad._credentials.api_key  # type: ignore[union-attr]
            await until(lambda: sim.market.requests_in_window(key) == 0, 5, "a fresh per-key rate window")
            with caplog.at_level(logging.WARNING):
                balances = await asyncio.gather(*(ad.balance() for _ in range(8)))
            assert all(b.total == 10_000 for b in balances)
            assert any("rate-limited (429)" in r.getMessage() for r in caplog.records)
        caplog.clear()
        async with make_adapter(sim, "bybit", attempts=1, ccxt_throttle=False) as paced:
            # half the exchange's budget: requests admitted a second apart may still arrive closer together on a
            # loaded machine (the exchange counts arrivals, the limiter admissions)
            paced.limiter = type(paced.limiter)(RateLimit(per_second=2, per_minute=1000, concurrent=2))
            await asyncio.gather(*(paced.balance() for _ in range(8)))  # one attempt only: a 429 would raise
            assert sim.path_counts["/v5/account/wallet-balance"] >= 17
            assert paced.limiter.waited_s > 0
    finally:
        await sim.stop()


@pytest.mark.slow
@pytest.mark.asyncio
async def test_requests_queued_behind_the_limiter_are_signed_when_they_leave() -> None:
    """A burst of private calls waits in the connection's limiter longer than Bybit's 5-s receive window: each
    request is signed when its turn comes, so none reaches the exchange with a stale timestamp."""
    from cts_desktop.exchanges.capabilities import RateLimit

    sim = SimulatorServer(SimulatorConfig(speed=0))
    await sim.start()
    try:
        async with make_adapter(sim, "bybit", attempts=1, ccxt_throttle=False) as ad:
            await ad.balance()  # ccxt's first private call also asks the account type
            ad.limiter = type(ad.limiter)(RateLimit(per_second=1, per_minute=1000, concurrent=1))
            started = asyncio.get_running_loop().time()
            balances = await asyncio.gather(*(ad.balance() for _ in range(8)))  # one attempt: a stale one raises
            assert asyncio.get_running_loop().time() - started > 6.0  # the last waited past the window
            assert all(b.total == 10_000 for b in balances)
    finally:
        await sim.stop()
