"""Project exchange errors, the one translation from ccxt exceptions, and the read-retry policy.

Callers never see ccxt exceptions: every adapter call raises one of the classes below. The split follows what
the caller can do about it:

* :class:`TemporaryError` (and its :class:`RateLimitedError`, :class:`ExchangeUnavailableError`) — try again
  later; reads are retried here with bounded exponential backoff and jitter;
* :class:`AuthenticationError` — fix the keys / whitelist / clock (``problem`` says which);
* :class:`InsufficientFundsError`, :class:`InvalidOrderError`, :class:`OrderUnknownError` — business outcome;
* :class:`ExchangeError` — anything else the exchange refused; not retried.

Order creation is never retried here: see ``orders.py`` (look up by client id first).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class AuthProblem(Enum):
    BAD_KEY = "bad_key"
    BAD_SIGNATURE = "bad_signature"
    IP_NOT_ALLOWED = "ip_not_allowed"
    CLOCK_SKEW = "clock_skew"
    PERMISSION = "permission"


class ExchangeError(Exception):
    """Base of all project exchange errors. ``code`` is the exchange's own code when it sent one."""

    retryable = False

    def __init__(self, message: str, *, code: str | None = None, exchange_id: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.exchange_id = exchange_id


class TemporaryError(ExchangeError):
    """Network trouble, timeouts, 5xx: the same request may succeed later (its outcome may be unknown)."""

    retryable = True


class RateLimitedError(TemporaryError):
    """HTTP 429 or the exchange's rate-limit code; ``retry_after`` in seconds when the exchange said so."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: str | None) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class ExchangeUnavailableError(TemporaryError):
    """Exchange down, maintenance, connection reset/refused. ``unreachable``: no TCP connection at all."""

    def __init__(self, message: str, *, unreachable: bool = False, **kw: str | None) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.unreachable = unreachable


class AuthenticationError(ExchangeError):
    def __init__(self, message: str, *, problem: AuthProblem = AuthProblem.BAD_KEY, **kw: str | None) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.problem = problem


class InsufficientFundsError(ExchangeError):
    pass


class InvalidOrderError(ExchangeError):
    pass


class DuplicateClientIdError(InvalidOrderError):
    """The exchange already has an order with this client id (so a retried create was in fact placed)."""


class OrderUnknownError(ExchangeError):
    pass


# Exchange codes whose ccxt class is too coarse (or wrong) for what the user must do.
CodeMap = Mapping[str, tuple[type[ExchangeError], AuthProblem | None]]


def exchange_code(message: str) -> str | None:
    """The exchange's own error code from a ccxt message ('<id> {json body}')."""
    start = message.find("{")
    if start < 0:
        return None
    try:
        body = json.loads(message[start:])
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for key in ("retCode", "code", "ret_code"):
        if key in body and str(body[key]) not in ("0", ""):
            return str(body[key])
    return None


def translate(exc: BaseException, exchange_id: str = "", codes: CodeMap | None = None) -> ExchangeError:
    """Map any exception from a ccxt call to a project error (idempotent for project errors)."""
    if isinstance(exc, ExchangeError):
        return exc
    from cts_desktop.exchanges import ccxt_lean

    ccxt = ccxt_lean.load("ccxt")  # already imported by the time a ccxt call failed

    text = str(exc) or type(exc).__name__
    code = exchange_code(text)
    kw: dict[str, str | None] = {"code": code, "exchange_id": exchange_id}
    if code and codes and code in codes:
        cls, problem = codes[code]
        if cls is AuthenticationError:
            return AuthenticationError(text, problem=problem or AuthProblem.BAD_KEY, **kw)
        return cls(text, **kw)
    if isinstance(exc, ccxt.InvalidNonce):
        return AuthenticationError(text, problem=AuthProblem.CLOCK_SKEW, **kw)
    if isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection):
        return RateLimitedError(text, **kw)
    if isinstance(exc, ccxt.RequestTimeout):
        return TemporaryError(text, **kw)
    if isinstance(exc, ccxt.ExchangeNotAvailable | ccxt.OnMaintenance):
        cause = exc.__cause__
        unreachable = _is_connect_failure(cause)
        return ExchangeUnavailableError(text, unreachable=unreachable, **kw)
    if isinstance(exc, ccxt.NetworkError | ccxt.OperationFailed):
        return TemporaryError(text, **kw)
    if isinstance(exc, ccxt.PermissionDenied | ccxt.AccountSuspended):
        return AuthenticationError(text, problem=AuthProblem.PERMISSION, **kw)
    if isinstance(exc, ccxt.AuthenticationError):
        return AuthenticationError(text, problem=AuthProblem.BAD_KEY, **kw)
    if isinstance(exc, ccxt.InsufficientFunds):
        return InsufficientFundsError(text, **kw)
    if isinstance(exc, ccxt.OrderNotFound):
        return OrderUnknownError(text, **kw)
    if isinstance(exc, ccxt.DuplicateOrderId):
        return DuplicateClientIdError(text, **kw)
    if isinstance(exc, ccxt.InvalidOrder):
        return InvalidOrderError(text, **kw)
    if isinstance(exc, asyncio.TimeoutError | ConnectionError | OSError):
        return TemporaryError(text, **kw)
    return ExchangeError(text, **kw)


def _is_connect_failure(cause: BaseException | None) -> bool:
    import socket

    import aiohttp

    return isinstance(cause, aiohttp.ClientConnectorError | socket.gaierror | ConnectionRefusedError)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter for reads: delay_n = min(cap, base·2^(n-1)) · (1 ± jitter)."""

    attempts: int = 4
    base_delay: float = 0.25
    max_delay: float = 8.0
    jitter: float = 0.25

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        raw = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        r = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, raw * (1 + r))


async def retry_read(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    policy: RetryPolicy,
    exchange_id: str = "",
    codes: CodeMap | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    logger: logging.Logger | None = None,
    retry_after_hint: Callable[[], float | None] | None = None,
) -> T:
    """Run an idempotent read, retrying temporary failures; raise the translated error otherwise."""
    logger = logger or log
    for attempt in range(1, policy.attempts + 1):
        try:
            return await call()
        except Exception as exc:
            err = translate(exc, exchange_id, codes)
            if not err.retryable or attempt == policy.attempts:
                raise err from exc
            delay = policy.delay(attempt)
            if isinstance(err, RateLimitedError):
                if err.retry_after is None and retry_after_hint is not None:
                    err.retry_after = retry_after_hint()
                if err.retry_after:
                    delay = max(delay, min(err.retry_after, policy.max_delay))
                logger.warning(
                    "%s %s rate-limited (429), backing off %.2f s (attempt %d)", exchange_id, what, delay, attempt
                )
            else:
                logger.warning(
                    "%s %s failed temporarily (%s), retry in %.2f s (attempt %d)",
                    exchange_id,
                    what,
                    type(err).__name__,
                    delay,
                    attempt,
                )
            await sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
