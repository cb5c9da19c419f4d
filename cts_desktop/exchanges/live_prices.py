"""Live prices: ccxt.pro websockets where the exchange has them, REST polling otherwise — automatically.

:class:`LivePriceFeed` calls ``on_price(symbol, last, timestamp_ms)`` for every update. It starts on the
websocket (``watch_tickers``/``watch_ticker``); when that fails (not supported, refused, dropped) it logs why and
switches to polling the adapter's ``tickers()`` every ``poll_interval_s``, and it tries the websocket again after
``ws_retry_s``. ``mode`` tells which transport is live now.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.stream_task import StreamTask

log = logging.getLogger(__name__)

PriceCallback = Callable[[str, float, int], None]


class LivePriceFeed(StreamTask):
    def __init__(
        self,
        adapter: ExchangeAdapter,
        symbols: list[str],
        on_price: PriceCallback,
        *,
        poll_interval_s: float = 1.0,
        use_websocket: bool = True,
        ws_retry_s: float = 300.0,
        ws_base: str | None = None,
    ) -> None:
        super().__init__(f"{adapter.exchange_id} prices")
        self.adapter = adapter
        self.symbols = list(symbols)
        self.on_price = on_price
        self.poll_interval_s = poll_interval_s
        self.use_websocket = use_websocket and adapter.caps.websocket
        self.ws_retry_s = ws_retry_s
        self.ws_base = ws_base
        self.updates = 0

    def _emit(self, symbol: str, last: Any, ts: Any) -> None:
        if last is None:
            return
        self.updates += 1
        self.on_price(symbol, float(last), int(ts or self.adapter.clock.now_ms()))  # the exchange's time, as ts

    async def _run(self) -> None:
        while True:
            if self.use_websocket:
                try:
                    await self._websocket()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "%s websocket prices unavailable (%s: %s); polling REST every %.1f s",
                        self.adapter.exchange_id,
                        type(exc).__name__,
                        str(exc)[:120],
                        self.poll_interval_s,
                    )
                    await self._close()
            await self._poll(self.ws_retry_s if self.use_websocket else None)

    async def _websocket(self) -> None:
        client = self._client = await self.adapter.stream_client(self.ws_base)
        await client.load_markets()
        self.mode = "websocket"
        multi = bool(client.has.get("watchTickers"))
        while True:
            if multi:
                tickers = await client.watch_tickers(self.symbols)
                for symbol, t in tickers.items():
                    self._emit(symbol, t.get("last"), t.get("timestamp"))
            else:
                for symbol in self.symbols:
                    t = await client.watch_ticker(symbol)
                    self._emit(symbol, t.get("last"), t.get("timestamp"))

    async def _poll(self, duration_s: float | None) -> None:
        self.mode = "polling"
        started = time.monotonic()
        while duration_s is None or time.monotonic() - started < duration_s:
            try:
                tickers = await self.adapter.tickers(self.symbols)
                for symbol, t in tickers.items():
                    self._emit(symbol, t.last, t.timestamp)
            except Exception as exc:  # keep polling through temporary trouble; the adapter already retried
                log.warning("%s price poll failed: %s", self.adapter.exchange_id, type(exc).__name__)
            await asyncio.sleep(self.poll_interval_s)
