"""The connection test (DOMAIN Part 2 §8.3 [PROPOSE]): what the user runs before a connection may trade.

Steps, each one timestamped log line with its duration: server time and clock offset → public BTC perpetual
price → signed balance (total / free / used) → account configuration (position mode, margin mode, max leverage
for BTC) → number of markets. The first failing step ends the test with one plain message that says what to do;
wrong key, wrong secret, IP not whitelisted, skewed clock and no network each have their own. A clock that is off
is measured in the first step and corrected in every signed request (``clock.py``): the test passes and its first
line says how far off the clock is. Nothing secret is ever written to the log.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeVar

from cts_desktop.events.status import describe_offset as clock_phrase
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.errors import (
    AuthenticationError,
    AuthProblem,
    ExchangeError,
    ExchangeUnavailableError,
    RateLimitedError,
    TemporaryError,
    translate,
)
from cts_desktop.exchanges.models import AccountConfig, Balance

T = TypeVar("T")


class ConnectionTestStatus(Enum):
    PASSED = "passed"
    FAILED = "failed"


class ConnectionProblem(Enum):
    BAD_KEY = "bad_key"
    BAD_SECRET = "bad_secret"
    IP_NOT_WHITELISTED = "ip_not_whitelisted"
    CLOCK_SKEW = "clock_skew"
    NETWORK_DOWN = "network_down"
    EXCHANGE_UNAVAILABLE = "exchange_unavailable"
    RATE_LIMITED = "rate_limited"
    PERMISSION = "permission"
    OTHER = "other"


@dataclass(frozen=True)
class ConnectionTestLine:
    at_ms: int
    step: str
    ok: bool
    duration_ms: float
    message: str

    def text(self) -> str:
        stamp = datetime.fromtimestamp(self.at_ms / 1000, tz=UTC).strftime("%H:%M:%S.%f")[:-3]
        mark = "ok" if self.ok else "FAILED"
        return f"{stamp} {self.step}: {mark} ({self.duration_ms:.0f} ms) — {self.message}"


@dataclass
class ConnectionTestResult:
    """What the connections service stores as ``last_test_*``."""

    exchange_id: str
    status: ConnectionTestStatus
    tested_at_ms: int
    message: str
    problem: ConnectionProblem | None = None
    balance: Balance | None = None
    clock_offset_ms: float | None = None
    btc_price: float | None = None
    account: AccountConfig | None = None
    market_count: int | None = None
    log: list[ConnectionTestLine] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.status is ConnectionTestStatus.PASSED

    def log_text(self) -> str:
        return "\n".join(line.text() for line in self.log)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["problem"] = self.problem.value if self.problem else None
        return data


def explain(err: ExchangeError, exchange: str, clock_offset_ms: float | None) -> tuple[ConnectionProblem, str]:
    """The plain message for a failure (never contains the key, the secret or the raw exchange body)."""
    if isinstance(err, AuthenticationError):
        if err.problem is AuthProblem.BAD_SIGNATURE:
            return ConnectionProblem.BAD_SECRET, (
                f"{exchange} rejected the request signature: the API secret does not match the key. "
                "Paste the secret again (it is shown only once when the key is created)."
            )
        if err.problem is AuthProblem.IP_NOT_ALLOWED:
            return ConnectionProblem.IP_NOT_WHITELISTED, (
                f"This API key only works from other IP addresses. Add this computer's public IP address to the "
                f"key's whitelist on {exchange}, or remove the IP restriction."
            )
        if err.problem is AuthProblem.CLOCK_SKEW:
            offset = f" by {abs(clock_offset_ms) / 1000:.1f} s" if clock_offset_ms is not None else ""
            return ConnectionProblem.CLOCK_SKEW, (
                f"This computer's clock is off{offset} from {exchange}'s, so signed requests are refused. "
                "Turn on automatic time synchronisation in the system settings and test again."
            )
        if err.problem is AuthProblem.PERMISSION:
            return ConnectionProblem.PERMISSION, (
                f"The API key lacks a permission this app needs on {exchange} "
                "(read account, contract trading). Edit the key's permissions."
            )
        return ConnectionProblem.BAD_KEY, (
            f"{exchange} does not know this API key. Check that the whole key was copied and that it was created "
            "for the live exchange, not its testnet or demo."
        )
    if isinstance(err, ExchangeUnavailableError) and err.unreachable:
        return ConnectionProblem.NETWORK_DOWN, (
            f"Cannot reach {exchange}: this computer has no working internet connection, or a firewall/DNS "
            "blocks the exchange."
        )
    if isinstance(err, RateLimitedError):
        return (
            ConnectionProblem.RATE_LIMITED,
            f"{exchange} is limiting requests from this key or IP. Wait a minute and retry.",
        )
    if isinstance(err, TemporaryError):
        return ConnectionProblem.EXCHANGE_UNAVAILABLE, (
            f"{exchange} is not answering properly right now (timeout, maintenance or overload). Try again later."
        )
    return ConnectionProblem.OTHER, f"{exchange} refused the request ({type(err).__name__}, code {err.code or 'none'})."


async def run_connection_test(
    adapter: ExchangeAdapter,
    *,
    quote: str = "USDT",
    overall_timeout_s: float = 30.0,
    warn_clock_offset_ms: float = 1000.0,
) -> ConnectionTestResult:
    name = adapter.exchange_id.capitalize() if adapter.exchange_id != "bingx" else "BingX"
    result = ConnectionTestResult(adapter.exchange_id, ConnectionTestStatus.FAILED, _now_ms(), "")
    symbol = f"BTC/{quote}:{quote}"

    async def step(label: str, fn: Callable[[], Awaitable[T]], describe: Callable[[T], str]) -> T:
        started = time.perf_counter()
        at = _now_ms()
        try:
            value = await fn()
        except Exception as exc:
            err = translate(exc, adapter.exchange_id, adapter.caps.error_codes)
            problem, message = explain(err, name, result.clock_offset_ms)
            result.log.append(ConnectionTestLine(at, label, False, (time.perf_counter() - started) * 1000, message))
            result.problem, result.message = problem, message
            raise _Stop from exc
        result.log.append(ConnectionTestLine(at, label, True, (time.perf_counter() - started) * 1000, describe(value)))
        return value

    async def server_time() -> float:
        result.clock_offset_ms = float((await adapter.measure_clock()).offset_ms)
        return result.clock_offset_ms

    def describe_offset(offset: float) -> str:
        text = f"server time answered, clock offset {offset:+.0f} ms"
        if abs(offset) <= warn_clock_offset_ms:
            return text
        return (f"{text}: this computer's clock is {clock_phrase(round(offset))} (signed requests are corrected; "
                "enable time synchronisation)")

    async def body() -> None:
        await step("server time", server_time, describe_offset)
        ticker = await step("public price", lambda: adapter.ticker(symbol), lambda t: f"{symbol} last {t.last:,.2f}")
        result.btc_price = ticker.last
        result.balance = await step(
            "signed balance",
            lambda: adapter.balance(quote),
            lambda b: f"{quote} total {b.total:,.2f}, free {b.free:,.2f}, used {b.used:,.2f}",
        )
        result.account = await step(
            "account config",
            lambda: adapter.account_config(symbol),
            lambda a: (
                f"position mode {a.position_mode}, margin mode {a.margin_mode}, "
                f"max leverage {a.max_leverage or '?'}x for {symbol}"
            ),
        )
        markets = await step("markets", adapter.markets, lambda m: f"{len(m)} {quote} perpetual markets")
        result.market_count = len(markets)

    try:
        await asyncio.wait_for(body(), overall_timeout_s)
    except _Stop:
        return result
    except TimeoutError:
        result.problem = ConnectionProblem.EXCHANGE_UNAVAILABLE
        result.message = f"The test did not finish within {overall_timeout_s:.0f} s: {name} is too slow to answer."
        result.log.append(ConnectionTestLine(_now_ms(), "overall", False, overall_timeout_s * 1000, result.message))
        return result
    result.status = ConnectionTestStatus.PASSED
    assert result.balance is not None
    result.message = f"Connection successful. Balance: {result.balance.total:,.2f} {quote}."
    return result


class _Stop(Exception):
    """Internal: a step failed and already recorded why."""


def _now_ms() -> int:
    return int(time.time() * 1000)
