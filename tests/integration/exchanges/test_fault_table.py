"""Every adapter call × every kind of failure → the project error and the exact number of attempts (freqtrade's
``ccxt_exceptionhandlers`` idea, here with the real ccxt classes against the loopback simulator, no mocks).

For each call the simulator is asked which request the call sends first (a rejection of everything records it
without side effects; a call that sends requests side by side, like loading the markets, sends them all), then a
fault that fires on every such request is injected; the fault's own counter, divided by the requests of that kind
one attempt sends, is the number of attempts the adapter made. One thing below the adapter: when the server drops a
kept-alive connection, aiohttp sends an idempotent request (GET, DELETE) once more by itself — never a POST, so
never an order. Reads retry temporary failures up to the policy's attempts; setters try once; order
creation never retries blindly: after a temporary failure it looks the client id up and, only when the exchange
says "no such order", submits once more — then reports the outcome as unknown.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from cts_desktop.exchanges.adapter import ExchangeAdapter, OrderOutcomeUnknownError
from cts_desktop.exchanges.errors import (
    AuthenticationError,
    AuthProblem,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    OrderUnknownError,
    RateLimitedError,
    TemporaryError,
)
from cts_desktop.exchanges.models import OrderRequest, OrderSide, OrderType, PositionSide
from cts_desktop.exchanges.simulator import FaultKind, SimulatorServer
from tests.integration.exchanges.conftest import EXCHANGES, SYMBOL, make_adapter

ATTEMPTS = 3  # the read retry policy of these adapters
IDEMPOTENT_METHODS = ("GET", "DELETE")
TIMEOUT_MS = 200  # the client's request timeout (the timeout fault holds a request for a second)
_ids = itertools.count()


@dataclass(slots=True)
class Orders:
    """A resting limit order far from the market: what the order calls look at."""

    order_id: str
    client_id: str
    price: float


Call = Callable[[ExchangeAdapter, Orders], Awaitable[object]]


def _new_order(price: float) -> OrderRequest:
    return OrderRequest(SYMBOL, OrderSide.BUY, OrderType.LIMIT, 0.001, f"cts-fault-{next(_ids)}", price=price)


READS: dict[str, Call] = {
    "load_markets": lambda ad, _o: ad.markets(reload=True),
    "server_time": lambda ad, _o: ad.server_time(),
    "ticker": lambda ad, _o: ad.ticker(SYMBOL),
    "tickers": lambda ad, _o: ad.tickers([SYMBOL]),
    "ohlcv_latest": lambda ad, _o: ad.ohlcv(SYMBOL, "1m", limit=5),
    "ohlcv_range": lambda ad, _o: ad.ohlcv(SYMBOL, "1m", since=int(time.time() * 1000) - 600_000),
    "balance": lambda ad, _o: ad.balance(),
    "positions": lambda ad, _o: ad.positions([SYMBOL]),
    "account_config": lambda ad, _o: ad.account_config(SYMBOL),
    "order_by_client_id": lambda ad, o: ad.order_by_client_id(SYMBOL, o.client_id),
    "fetch_order": lambda ad, o: ad.fetch_order(SYMBOL, o.order_id),
    "cancel_order": lambda ad, o: ad.cancel_order(SYMBOL, order_id=o.order_id),  # idempotent: retried as a read
    "open_orders": lambda ad, _o: ad.open_orders(SYMBOL),
    "my_trades": lambda ad, _o: ad.my_trades(SYMBOL),
    "funding_history": lambda ad, _o: ad.funding_history(SYMBOL),
}
WRITES: dict[str, Call] = {
    "set_leverage": lambda ad, _o: ad.set_leverage(SYMBOL, 5),
    "set_margin_mode": lambda ad, _o: ad.set_margin_mode(SYMBOL, "cross"),
    "set_position_mode": lambda ad, _o: ad.set_position_mode(False),
    "set_position_tpsl": lambda ad, o: ad.set_position_tpsl(SYMBOL, PositionSide.LONG, o.price * 3, o.price),
}
CREATE: dict[str, Call] = {"place_order": lambda ad, o: ad.place_order(_new_order(o.price))}


@dataclass(frozen=True, slots=True)
class Failure:
    fault: dict[str, object]  # FaultInjector.add keywords
    error: type[ExchangeError]  # the project error the caller sees
    problem: AuthProblem | None = None  # for authentication errors: what the user must fix
    http_resends_idempotent: bool = False  # aiohttp sends GET/DELETE once more by itself (a dropped connection)
    signed_anew_once: bool = False  # refused for its timestamp: the clock is measured again and it is sent once more

    @property
    def temporary(self) -> bool:
        return issubclass(self.error, TemporaryError)


FAILURES = {
    "timeout": Failure({"kind": FaultKind.TIMEOUT, "seconds": 1.0}, TemporaryError),
    "http_429": Failure({"kind": FaultKind.RATE_LIMIT, "retry_after": 1}, RateLimitedError),
    "http_503": Failure({"kind": FaultKind.HTTP_5XX, "status": 503}, ExchangeUnavailableError),
    "connection_reset": Failure({"kind": FaultKind.RESET}, ExchangeUnavailableError, http_resends_idempotent=True),
    "bad_key": Failure({"kind": FaultKind.REJECT, "error": "unknown_key"}, AuthenticationError, AuthProblem.BAD_KEY),
    "nonce": Failure({"kind": FaultKind.REJECT, "error": "timestamp"}, AuthenticationError, AuthProblem.CLOCK_SKEW,
                     signed_anew_once=True),
    "insufficient_funds": Failure({"kind": FaultKind.REJECT, "error": "insufficient_balance"},
                                  InsufficientFundsError),
    "order_not_found": Failure({"kind": FaultKind.REJECT, "error": "order_not_found"}, OrderUnknownError),
}


def expected(call: str, failure: Failure) -> tuple[type[ExchangeError], int]:
    """The error and the attempts the adapter's contract promises (adapter.py's docstring; exchanges/clock.py for
    a request refused for its timestamp, which is never processed, so even an order is sent once more)."""
    if failure.signed_anew_once:
        return failure.error, 2
    if call in WRITES:
        return failure.error, 1
    if call in CREATE:
        return (OrderOutcomeUnknownError, 2) if failure.temporary else (failure.error, 1)
    return failure.error, ATTEMPTS if failure.temporary else 1


async def first_request(sim: SimulatorServer, ad: ExchangeAdapter, orders: Orders, call: Call
                        ) -> tuple[str, str, int]:
    """(method, path) of the first request the call sends — every request is answered with a rejection, so nothing
    happens — and how many requests of that kind one attempt sends."""
    sent = len(sim.requests)
    sim.faults.add("*", FaultKind.REJECT, error="bad_param", count=None)
    try:
        await call(ad, orders)
    except ExchangeError:
        pass
    finally:
        sim.faults.clear()
    requests = list(sim.requests)[sent:]
    assert requests, "the call sent no request"
    method, path = requests[0]
    return method, path, requests.count((method, path))


async def outcome(sim: SimulatorServer, ad: ExchangeAdapter, orders: Orders, call: Call,
                  failure: Failure) -> tuple[ExchangeError | None, float]:
    method, path, per_attempt = await first_request(sim, ad, orders, call)
    if failure.http_resends_idempotent and method in IDEMPOTENT_METHODS:
        per_attempt *= 2
    rule = sim.faults.add(path, count=None, method=method, **failure.fault)  # type: ignore[arg-type]
    try:
        await call(ad, orders)
    except ExchangeError as error:
        return error, rule.fired / per_attempt
    finally:
        sim.faults.clear()
    return None, rule.fired / per_attempt


@pytest.mark.slow
@pytest.mark.asyncio
@pytest.mark.parametrize("failure_name", list(FAILURES))
@pytest.mark.parametrize("exchange_id", EXCHANGES)
async def test_every_adapter_call_fails_with_the_project_error_after_the_expected_attempts(
    sim: SimulatorServer, exchange_id: str, failure_name: str
) -> None:
    failure = FAILURES[failure_name]
    async with make_adapter(sim, exchange_id, timeout_ms=TIMEOUT_MS, attempts=ATTEMPTS) as ad:
        await ad.markets()
        await ad.balance()  # ccxt's first private call also reads the account type: not part of any call below
        far = round(sim.market.price("BTC") * 0.5, 1)
        resting = await ad.place_order(_new_order(far))
        orders = Orders(resting.id, str(resting.client_id), far)
        wrong = []
        for name, call in (READS | WRITES | CREATE).items():
            error, attempts = await outcome(sim, ad, orders, call, failure)
            want_error, want_attempts = expected(name, failure)
            got = (type(error).__name__ if error else "no error", attempts)
            if got != (want_error.__name__, want_attempts):
                wrong.append(f"{name}: {got[0]} after {attempts} attempt(s), expected {want_error.__name__} after "
                             f"{want_attempts}")
            elif isinstance(error, AuthenticationError) and error.problem is not failure.problem:
                wrong.append(f"{name}: {error.problem}, expected {failure.problem}")
        assert wrong == [], "\n".join(wrong)
