"""ccxt exceptions become project errors once; reads retry with bounded backoff; non-temporary errors do not."""

from __future__ import annotations

import asyncio
import json
import random

import ccxt
import pytest

from cts_desktop.exchanges.capabilities import BINGX_CODES, BYBIT_CODES
from cts_desktop.exchanges.errors import (
    AuthenticationError,
    AuthProblem,
    DuplicateClientIdError,
    ExchangeError,
    ExchangeUnavailableError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderUnknownError,
    RateLimitedError,
    RetryPolicy,
    TemporaryError,
    exchange_code,
    retry_read,
    translate,
)


def _body(exchange: str, **body: object) -> str:
    return f"{exchange} {json.dumps(body)}"


@pytest.mark.parametrize(
    ("exc", "codes", "expected", "problem"),
    [
        (
            ccxt.AuthenticationError(_body("bybit", retCode=10003, retMsg="API key is invalid.")),
            BYBIT_CODES,
            AuthenticationError,
            AuthProblem.BAD_KEY,
        ),
        (
            ccxt.AuthenticationError(_body("bybit", retCode=10004, retMsg="Error sign")),
            BYBIT_CODES,
            AuthenticationError,
            AuthProblem.BAD_SIGNATURE,
        ),
        (
            ccxt.InvalidNonce(_body("bybit", retCode=10002, retMsg="timestamp")),
            BYBIT_CODES,
            AuthenticationError,
            AuthProblem.CLOCK_SKEW,
        ),
        (
            ccxt.PermissionDenied(_body("bybit", retCode=10010, retMsg="Unmatched IP")),
            BYBIT_CODES,
            AuthenticationError,
            AuthProblem.IP_NOT_ALLOWED,
        ),
        (
            ccxt.BadSymbol(_body("bingx", code=100421, msg="Timestamp mismatch")),
            BINGX_CODES,
            AuthenticationError,
            AuthProblem.CLOCK_SKEW,
        ),
        (
            ccxt.AuthenticationError(_body("bingx", code=100001, msg="Signature verification failed")),
            BINGX_CODES,
            AuthenticationError,
            AuthProblem.BAD_SIGNATURE,
        ),
        (
            ccxt.OperationFailed(_body("bingx", code=100410, msg="Rate limit exceeded")),
            BINGX_CODES,
            RateLimitedError,
            None,
        ),
        (
            ccxt.InsufficientFunds(_body("bybit", retCode=110007, retMsg="ab not enough")),
            BYBIT_CODES,
            InsufficientFundsError,
            None,
        ),
        (
            ccxt.InvalidOrder(_body("bybit", retCode=110072, retMsg="OrderLinkedID is duplicate")),
            BYBIT_CODES,
            DuplicateClientIdError,
            None,
        ),
        (ccxt.OrderNotFound("bybit order not found"), BYBIT_CODES, OrderUnknownError, None),
        (ccxt.InvalidOrder("bybit bad qty"), BYBIT_CODES, InvalidOrderError, None),
        (ccxt.RateLimitExceeded("bybit 429"), BYBIT_CODES, RateLimitedError, None),
        (ccxt.ExchangeNotAvailable("bybit 503"), BYBIT_CODES, ExchangeUnavailableError, None),
        (ccxt.RequestTimeout("bybit timeout"), BYBIT_CODES, TemporaryError, None),
        (ccxt.ExchangeError("bybit something else"), BYBIT_CODES, ExchangeError, None),
    ],
)
def test_translation(exc: Exception, codes: object, expected: type, problem: AuthProblem | None) -> None:
    err = translate(exc, "x", codes)  # type: ignore[arg-type]
    assert type(err) is expected
    if problem is not None:
        assert isinstance(err, AuthenticationError) and err.problem is problem
    assert translate(err) is err


def test_exchange_code_reads_both_envelopes() -> None:
    assert exchange_code(_body("bybit", retCode="10006", retMsg="x")) == "10006"
    assert exchange_code(_body("bingx", code=0, msg="")) is None
    assert exchange_code("bybit GET http://x 503 Service Unavailable") is None


def test_backoff_is_bounded_exponential_with_jitter() -> None:
    policy = RetryPolicy(attempts=6, base_delay=0.5, max_delay=4.0, jitter=0.25)
    rng = random.Random(7)
    for attempt in range(1, 7):
        raw = min(4.0, 0.5 * 2 ** (attempt - 1))
        d = policy.delay(attempt, rng)
        assert raw * 0.75 <= d <= raw * 1.25


def _run(coro: object) -> object:
    return asyncio.run(coro)  # type: ignore[arg-type]


def test_temporary_errors_are_retried_up_to_the_limit() -> None:
    calls, sleeps = [], []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ccxt.ExchangeNotAvailable("bybit 503")
        return "ok"

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    policy = RetryPolicy(attempts=4, base_delay=0.1, max_delay=1.0, jitter=0.0)
    assert _run(retry_read(flaky, what="t", policy=policy, sleep=fake_sleep)) == "ok"
    assert len(calls) == 3 and sleeps == [0.1, 0.2]

    async def always() -> str:
        calls.append(1)
        raise ccxt.RequestTimeout("bybit timeout")

    calls.clear()
    with pytest.raises(TemporaryError):
        _run(retry_read(always, what="t", policy=policy, sleep=fake_sleep))
    assert len(calls) == 4


def test_business_errors_are_not_retried_and_retry_after_is_honoured() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    async def refused() -> str:
        calls.append(1)
        raise ccxt.InsufficientFunds("bybit poor")

    async def fake_sleep(s: float) -> None:
        sleeps.append(s)

    with pytest.raises(InsufficientFundsError):
        _run(retry_read(refused, what="t", policy=RetryPolicy(), sleep=fake_sleep))
    assert calls == [1] and sleeps == []

    async def limited() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ccxt.RateLimitExceeded("bybit 429")
        return "ok"

    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0, jitter=0.0)
    _run(retry_read(limited, what="t", policy=policy, sleep=fake_sleep, retry_after_hint=lambda: 2.0))
    assert sleeps == [2.0]
