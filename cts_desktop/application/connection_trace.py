"""A live trace of a connection test, for the Connections tab's expandable log (no Qt here).

:class:`TracingConnectionService` is the connections service whose adapters report, while the test runs, each test
step as it starts and every HTTP request ccxt sends (method, path, outcome, duration). Only the URL *path* and the
exception class are reported: query strings (BingX signs there), headers (keys), bodies and exchange error texts
never reach the trace, so nothing secret can show up in the log or a screenshot. The official, timestamped result
log of :func:`~cts_desktop.exchanges.connection_test.run_connection_test` is unchanged and stored as before.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionService
from cts_desktop.exchanges.errors import RetryPolicy
from cts_desktop.exchanges.models import Credentials

Emit = Callable[[str], None]

# adapter methods the test calls → what the trace says when each starts
STEPS = {
    "measure_clock": "server time: asking for the exchange clock",
    "ticker": "public price: reading the BTC perpetual price",
    "balance": "signed balance: reading the USDT balance with the key",
    "account_config": "account config: reading position mode, margin mode and leverage",
}


def stamp() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


class TracingConnectionService(ConnectionService):
    """Same store, same keys, same rules; adapters made here report to ``emit`` (called from the test's thread)."""

    def __init__(self, service: ConnectionService, emit: Emit, keys: Credentials | None = None) -> None:
        super().__init__(service.store, service.secrets)
        self.emit = emit
        self.keys = keys  # given: these keys instead of the stored ones (the Replay simulator's)

    def credentials(self, connection_id: str) -> Credentials | None:
        return self.keys if self.keys is not None else super().credentials(connection_id)

    def make_adapter(
        self, config: ConnectionConfig, *, api_url: str | None = None, retry: RetryPolicy | None = None
    ) -> ExchangeAdapter:
        adapter = super().make_adapter(config, api_url=api_url, retry=retry)
        self.emit(f"{stamp()} connecting to {config.exchange_id}"
                  + (" (testnet)" if config.is_testnet else "") + (" via " + _host(api_url) if api_url else ""))
        trace_requests(adapter, self.emit)
        for name, text in STEPS.items():
            setattr(adapter, name, _announce(getattr(adapter, name), text, self.emit))
        return adapter


def trace_requests(adapter: ExchangeAdapter, emit: Emit) -> None:
    """Wrap the ccxt client's ``fetch`` (outside the connection's limiter) to report each HTTP request."""
    client = adapter.client
    inner = client.fetch

    async def traced(*args: Any, **kwargs: Any) -> Any:
        url = str(args[0] if args else kwargs.get("url", ""))
        method = str(args[1] if len(args) > 1 else kwargs.get("method", "GET"))
        path = urlsplit(url).path or "/"
        started = time.perf_counter()
        try:
            value = await inner(*args, **kwargs)
        except Exception as exc:
            emit(f"{stamp()}   {method} {path} → {type(exc).__name__} ({_ms(started)} ms)")
            raise
        emit(f"{stamp()}   {method} {path} → answered ({_ms(started)} ms)")
        return value

    client.fetch = traced


def _announce(fn: Callable[..., Awaitable[Any]], text: str, emit: Emit) -> Callable[..., Awaitable[Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        emit(f"{stamp()} {text}…")
        return await fn(*args, **kwargs)

    return wrapper


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url
