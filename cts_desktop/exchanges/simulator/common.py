"""Helpers shared by the two exchange dialects: decimal formatting and the dialect interface."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Protocol

from aiohttp import web

from cts_desktop.exchanges.simulator.auth import ApiKey, AuthFailure
from cts_desktop.exchanges.simulator.market import SimMarket


def wall_ms() -> int:
    return int(time.time() * 1000)


def decimals_of(step: str) -> int:
    exp = Decimal(step).normalize().as_tuple().exponent
    return max(0, -int(exp))


def fmt(value: float | None, step: str | None = None, empty: str = "") -> str:
    """Decimal string like the exchanges print (fixed decimals of the step, or trimmed)."""
    if value is None:
        return empty
    if step is not None:
        return f"{value:.{decimals_of(step)}f}"
    text = f"{value:.10f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def to_float(value: object, default: float | None = None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(str(value))
    except ValueError:
        return default


class Dialect(Protocol):
    """One exchange's REST surface over the shared :class:`SimMarket`."""

    name: str

    def owns(self, path: str) -> bool: ...

    async def handle(self, request: web.Request, market: SimMarket) -> web.Response: ...

    def auth_error(self, failure: AuthFailure) -> web.Response: ...

    def rate_limited(self, retry_after: int) -> web.Response: ...


AuthResult = ApiKey | AuthFailure
