"""Fault injection per endpoint: the failures a real exchange connection shows, on demand.

A rule matches a request path by substring (``"/v5/order/create"``, ``"trade/order"`` or ``"*"`` for all) and,
optionally, an HTTP method. Each rule fires ``count`` times (``None`` = until removed). Kinds:

* ``latency``        — delay the answer by ``seconds``;
* ``http_5xx``       — answer with ``status`` (default 503) and a plain body;
* ``rate_limit``     — HTTP 429 with ``Retry-After`` and the exchange's own rate-limit body;
* ``reset``          — drop the TCP connection before handling the request;
* ``timeout``        — hold the request for ``seconds`` (longer than the client's timeout) without answering;
* ``response_lost``  — handle the request (an order *is* placed) and then drop the connection;
* ``reject``         — answer with the exchange's own error for ``error``: an ``AuthFailure`` value (``unknown_key``,
  ``timestamp`` …) or a ``SimErrorKind`` value (``insufficient_balance``, ``order_not_found`` …).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class FaultKind(Enum):
    LATENCY = "latency"
    HTTP_5XX = "http_5xx"
    RATE_LIMIT = "rate_limit"
    RESET = "reset"
    TIMEOUT = "timeout"
    RESPONSE_LOST = "response_lost"
    REJECT = "reject"


@dataclass
class FaultRule:
    path: str
    kind: FaultKind
    count: int | None = 1
    seconds: float = 0.0
    status: int = 503
    retry_after: int = 1
    method: str | None = None
    error: str = ""  # for REJECT
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.count is not None and self.fired >= self.count:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return self.path == "*" or self.path in path


class FaultInjector:
    """Holds the active rules; the server asks it once per request."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, path: str, kind: FaultKind | str, **kwargs: object) -> FaultRule:
        rule = FaultRule(path=path, kind=FaultKind(kind), **kwargs)  # type: ignore[arg-type]
        self.rules.append(rule)
        return rule

    def clear(self) -> None:
        self.rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """The first matching rule (counted as fired), or None."""
        for rule in self.rules:
            if rule.matches(method, path):
                rule.fired += 1
                return rule
        return None
