"""Exchange integration tests: the loopback simulator in-process and real ccxt classes pointed at it.

These tests are pure asyncio (no Qt), so they run on a plain asyncio loop instead of the suite's qasync loop.
Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import pytest_asyncio

from cts_desktop.exchanges.adapter import ExchangeAdapter, point_at, ws_root
from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.errors import RetryPolicy
from cts_desktop.exchanges.models import Credentials
from cts_desktop.exchanges.simulator import SimulatorConfig, SimulatorServer
from cts_desktop.exchanges.simulator.auth import ApiKey


@pytest.fixture(autouse=True)
def _loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Name resolution outside 127.0.0.1 fails: no test can reach a real exchange, even by mistake."""
    real = socket.getaddrinfo

    def guarded(host: object, *args: object, **kwargs: object) -> object:
        if host not in ("127.0.0.1", "localhost", b"127.0.0.1", None):
            raise OSError(f"test network guard: {host!r} is not loopback")
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Callable[[], object]]:
    return {"asyncio": asyncio.new_event_loop}


@pytest_asyncio.fixture
async def sim() -> AsyncIterator[SimulatorServer]:
    """A stepped (speed 0) simulator: the market moves only when a test calls ``sim.market.step``."""
    server = SimulatorServer(SimulatorConfig(speed=0))
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def point_ccxt_at(exchange: object, base_url: str) -> None:
    """Override every API root of a ccxt exchange with the simulator (BingX roots end in /openApi)."""
    api = exchange.urls["api"]  # type: ignore[attr-defined]
    suffix = "/openApi" if exchange.id == "bingx" else ""  # type: ignore[attr-defined]
    exchange.urls["api"] = {name: base_url + suffix for name in api}  # type: ignore[attr-defined]


def stock_client(sim: SimulatorServer, exchange: str, balance: float = 10_000.0, *,
                 streams: bool = False) -> tuple[Any, ApiKey]:
    """Stock ccxt (ccxt.pro with ``streams``) on a fresh simulator account — its REST roots and, for ccxt.pro, its
    websockets pointed at the simulator, nothing else changed; the caller closes it."""
    import ccxt.async_support as ccxt_rest
    import ccxt.pro as ccxt_pro

    key = sim.market.create_account(balance, exchange=exchange)
    client = getattr(ccxt_pro if streams else ccxt_rest, exchange)(
        {"apiKey": key.key, "secret": key.secret, "enableRateLimit": False})
    if streams:
        point_at(client, sim.base_url + ("/openApi" if exchange == "bingx" else ""), ws_root(sim.base_url))
    else:
        point_ccxt_at(client, sim.base_url)
    if exchange == "bingx":
        client.options["defaultType"] = "swap"
    return client, key


EXCHANGES = ["bybit", "bingx"]
SYMBOL = "BTC/USDT:USDT"


def make_adapter(
    sim: SimulatorServer,
    exchange_id: str,
    *,
    balance: float = 10_000.0,
    api_key: str | None = None,
    secret: str | None = None,
    timeout_ms: int = 3_000,
    attempts: int = 3,
    ccxt_throttle: bool = False,
) -> ExchangeAdapter:
    """An adapter on a fresh simulator account; fast limits and backoff so tests stay quick.

    ccxt's own calibrated throttle (0.1–1 s per weighted call, sized for the real venues' limits) is off unless a
    test asks for it: on the loopback simulator it only made every test wait. The project's limiter
    (``rate_limit``) stays on; the app's connections keep ccxt's throttle on as well (its Replay connection paces
    itself inside the venue's budget instead: ``replay_connection.loopback_adapter``)."""
    key = sim.market.create_account(balance, exchange=exchange_id)
    creds = Credentials(api_key if api_key is not None else key.key, secret if secret is not None else key.secret)
    return ExchangeAdapter(
        exchange_id,
        creds,
        api_url=sim.base_url,
        rate_limit=RateLimit(1000, 600_000, 8),
        retry=RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05, jitter=0.1),
        timeout_ms=timeout_ms,
        ccxt_throttle=ccxt_throttle,
    )


@pytest_asyncio.fixture(params=EXCHANGES)
async def adapter(request: pytest.FixtureRequest, sim: SimulatorServer) -> AsyncIterator[ExchangeAdapter]:
    ad = make_adapter(sim, request.param)
    try:
        yield ad
    finally:
        await ad.close()
