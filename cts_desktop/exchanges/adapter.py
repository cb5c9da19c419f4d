"""The exchange adapter: the only way the product talks to an exchange (over ``ccxt.async_support``).

Contract, in one place:

* every public method is a coroutine on the app's asyncio loop; none blocks;
* results are the plain value objects of ``models.py`` (ccxt unified structures underneath); errors are the
  project errors of ``errors.py`` — never a ccxt exception;
* reads retry temporary failures (bounded exponential backoff + jitter, 429 honours Retry-After and is logged);
* :meth:`place_order` is never retried blindly: a timeout / lost response / network error is followed by a
  look-up by client id; only a definite "not found" allows one re-submission with the *same* client id, which
  the exchange refuses if it already has it;
* ccxt is imported on first use (it costs ~0.8 s); its weighted throttle is on, and the per-exchange limits of
  the capability table (configurable per connection) are enforced on top by ``limiter.py``; markets are cached
  for ``market_ttl_s``.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from cts_desktop.exchanges import ccxt_lean
from cts_desktop.exchanges.capabilities import Capabilities, RateLimit, capabilities_for
from cts_desktop.exchanges.clock import ClockReading, ExchangeClock, install
from cts_desktop.exchanges.errors import (
    DuplicateClientIdError,
    ExchangeError,
    InvalidOrderError,
    OrderUnknownError,
    RateLimitedError,
    RetryPolicy,
    TemporaryError,
    retry_read,
    translate,
)
from cts_desktop.exchanges.limiter import RequestLimiter
from cts_desktop.exchanges.models import (
    AccountConfig,
    Balance,
    Credentials,
    FundingPayment,
    MarketInfo,
    Order,
    OrderRequest,
    OrderType,
    Position,
    PositionSide,
    Ticker,
    Trade,
)
from cts_desktop.exchanges.venue import NotFound

T = TypeVar("T")
log = logging.getLogger(__name__)


class OrderOutcomeUnknownError(TemporaryError):
    """The create request failed in transit and the look-up by client id could not answer either.

    Repeat :meth:`ExchangeAdapter.place_order` with the same request: it looks the order up first.
    """


MAX_TRADE_PAGES = 50  # requests for one range of own fills (Capabilities.my_trades_page)


def _trade_key(trade: Trade) -> str:
    return f"{trade.id}:{trade.order_id}:{trade.timestamp}:{trade.price}"


class ExchangeAdapter:
    def __init__(
        self,
        exchange_id: str,
        credentials: Credentials | None = None,
        *,
        api_url: str | None = None,
        rate_limit: RateLimit | None = None,
        retry: RetryPolicy | None = None,
        timeout_ms: int = 10_000,
        market_ttl_s: float = 3600.0,
        sandbox: bool = False,
        logger: logging.Logger | None = None,
        ccxt_throttle: bool = True,
    ) -> None:
        self.exchange_id = exchange_id
        self.caps: Capabilities = capabilities_for(exchange_id).with_rate_limit(rate_limit)
        self.api_url = api_url
        self.retry = retry or RetryPolicy()
        self.timeout_ms = timeout_ms
        self.market_ttl_s = market_ttl_s
        self.sandbox = sandbox
        self.log = logger or log
        self._credentials = credentials
        self.ccxt_throttle = ccxt_throttle  # off only for loopback benchmarks: the real venues need it
        self._client: Any = None
        self._markets_at = 0.0
        self._markets: dict[str, MarketInfo] = {}
        self._markets_lock = asyncio.Lock()
        self.limiter = RequestLimiter(self.caps.rate_limit)
        self._unknown_outcome: set[str] = set()
        # the exchange's clock: measured from its server time, applied to every signed timestamp (clock.py)
        self.clock = ExchangeClock(exchange_id, self.server_time, logger=self.log)

    # ---- client lifecycle -----------------------------------------------------------------------------------
    @staticmethod
    async def import_library(name: str = "ccxt.async_support") -> Any:
        """Import (a part of) ccxt in a worker thread — ~0.6 s of module loading that would otherwise stall the
        event loop on the first request; later imports find it loaded."""
        return await asyncio.to_thread(ccxt_lean.load, name)

    @property
    def client(self) -> Any:
        """The ccxt instance (created and ccxt imported on first use)."""
        if self._client is None:
            ccxt_async = ccxt_lean.load("ccxt.async_support")
            self._client = self._configured(getattr(ccxt_async, self.exchange_id))
        return self._client

    async def stream_client(self, ws_base: str | None = None) -> Any:
        """A new ccxt.pro instance of this exchange with the adapter's keys, options, clock and limiter (its
        websockets pointed at ``ws_base`` or the simulator's host when the adapter is); the caller closes it.
        Raises RuntimeError when ccxt.pro has no class for the exchange."""
        ccxt_pro = await self.import_library("ccxt.pro")
        cls = getattr(ccxt_pro, self.exchange_id, None)
        if cls is None:
            raise RuntimeError("ccxt.pro has no websocket class for this exchange")
        return self._configured(cls, ws_base)

    def _configured(self, cls: Any, ws_base: str | None = None) -> Any:
        config: dict[str, Any] = {
            "enableRateLimit": self.ccxt_throttle,  # ccxt's weighted throttle, its own calibrated rateLimit
            "timeout": self.timeout_ms,
            "options": copy.deepcopy(self.caps.ccxt_options),
        }
        if self._credentials is not None:
            config["apiKey"] = self._credentials.api_key
            config["secret"] = self._credentials.secret
            if self._credentials.password:
                config["password"] = self._credentials.password
        client = cls(config)
        for flag in self.caps.ccxt_has_off:
            client.has[flag] = False
        if self.sandbox:
            client.set_sandbox_mode(True)
        if self.api_url:  # websockets on the same host, at the venue's own paths (not below the REST suffix)
            point_at(client, self.api_url + self.caps.api_url_suffix, ws_base or ws_root(self.api_url))
        self._limit_http(client)
        install(client, self.clock, exchange_id=self.exchange_id, codes=self.caps.error_codes,
                sign=self.caps.nonce_is_timestamp)
        return client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def __aenter__(self) -> ExchangeAdapter:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- plumbing -------------------------------------------------------------------------------------------
    def _limit_http(self, client: Any) -> None:
        """Every HTTP request ccxt sends (one call may send several) passes the connection's limiter — before ccxt
        signs it (``fetch2`` signs, then ``fetch`` sends): a request signed first and then queued here behind a
        burst carried a timestamp older than the exchange's receive window by the time it left (Bybit answers
        such a request with an invalid-timestamp error; seen with concurrent private calls on the simulator)."""
        raw_fetch2 = client.fetch2

        async def limited_fetch2(*args: Any, **kwargs: Any) -> Any:
            async with self.limiter.slot():
                return await raw_fetch2(*args, **kwargs)

        client.fetch2 = limited_fetch2

    async def _read(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        return await retry_read(
            fn,
            what=what,
            policy=self.retry,
            exchange_id=self.exchange_id,
            codes=self.caps.error_codes,
            logger=self.log,
            retry_after_hint=self._retry_after,
        )

    def _retry_after(self) -> float | None:
        """Seconds from the last response's Retry-After header (ccxt keeps the headers of the last call)."""
        headers = getattr(self._client, "last_response_headers", None) or {}
        value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    async def _write(self, fn: Callable[[], Awaitable[T]]) -> T:
        """A setter: one attempt; the exchange's "not modified" answer counts as success."""
        try:
            return await fn()
        except Exception as exc:
            err = translate(exc, self.exchange_id, self.caps.error_codes)
            if err.code in self.caps.noop_codes:
                return None  # type: ignore[return-value]
            raise err from exc

    # ---- market data ----------------------------------------------------------------------------------------
    async def markets(self, reload: bool = False) -> dict[str, MarketInfo]:
        """USDT-settled linear swaps by unified symbol; cached for ``market_ttl_s``."""
        async with self._markets_lock:
            fresh = time.monotonic() - self._markets_at < self.market_ttl_s
            if self._markets and fresh and not reload:
                return self._markets
            raw = await self._read("load_markets", lambda: self.client.load_markets(reload=True))
            self._markets = {s: MarketInfo.from_ccxt(m) for s, m in raw.items() if m.get("swap") and m.get("linear")}
            self._markets_at = time.monotonic()
            return self._markets

    async def server_time(self) -> int:
        return int(await self._read("fetch_time", lambda: self.client.fetch_time()))

    async def measure_clock(self) -> ClockReading:
        """Measure the exchange clock's offset now (it is measured on its own before the first request and then
        every few minutes; the connection test shows it first)."""
        return await self.clock.measure()

    async def ticker(self, symbol: str) -> Ticker:
        await self.markets()
        return Ticker.from_ccxt(await self._read("fetch_ticker", lambda: self.client.fetch_ticker(symbol)))

    async def tickers(self, symbols: list[str] | None = None) -> dict[str, Ticker]:
        await self.markets()
        raw = await self._read("fetch_tickers", lambda: self.client.fetch_tickers(symbols))
        return {s: Ticker.from_ccxt(t) for s, t in raw.items()}

    async def ohlcv(
        self,
        symbol: str,
        timeframe: str = "5m",
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> list[list[float]]:
        """Candles [ts, o, h, l, c, v] oldest first, paginated by the exchange's page size.

        Without ``since`` it returns the latest ``limit`` candles (one page at most).
        """
        await self.markets()
        page = self.caps.ohlcv_limit
        ex = self.client
        if since is None:
            n = min(limit or page, page)
            return list(await self._read("fetch_ohlcv", lambda: ex.fetch_ohlcv(symbol, timeframe, None, n)))
        step = ex.parse_timeframe(timeframe) * 1000
        out: list[list[float]] = []
        cursor = since
        while limit is None or len(out) < limit:
            want = page if limit is None else min(page, limit - len(out))
            start = cursor
            batch = await self._read("fetch_ohlcv", lambda s=start, w=want: ex.fetch_ohlcv(symbol, timeframe, s, w))
            batch = [c for c in batch if c[0] >= cursor and (until is None or c[0] < until)]
            if not batch:
                break
            out.extend(batch)
            cursor = int(batch[-1][0]) + step
            if len(batch) < want or (until is not None and cursor >= until):
                break
        return out

    # ---- account --------------------------------------------------------------------------------------------
    async def balance(self, asset: str = "USDT") -> Balance:
        raw = await self._read("fetch_balance", lambda: self.client.fetch_balance())
        entry = raw.get(asset) or {}
        return Balance(
            asset, float(entry.get("total") or 0), float(entry.get("free") or 0), float(entry.get("used") or 0)
        )

    async def positions(self, symbols: list[str] | None = None) -> list[Position]:
        """Open positions only (size > 0)."""
        await self.markets()
        raw = await self._read("fetch_positions", lambda: self.client.fetch_positions(symbols))
        return [Position.from_ccxt(p) for p in raw if float(p.get("contracts") or 0) > 0]

    async def set_leverage(self, symbol: str, leverage: float) -> None:
        await self.markets()
        lev = int(leverage) if float(leverage).is_integer() else leverage
        await self._write(lambda: self.client.set_leverage(lev, symbol, dict(self.caps.set_leverage_params)))

    async def set_margin_mode(self, symbol: str, mode: str) -> None:
        """``mode``: "cross" or "isolated" (account-wide on a Bybit unified account)."""
        await self.markets()
        await self._write(lambda: self.client.set_margin_mode(mode, symbol))

    async def margin_mode(self, symbol: str) -> str:
        """The symbol's margin mode as the exchange reports it: "cross", "isolated" or "unknown" (not readable)."""
        await self.markets()
        ex = self.client
        if not ex.has.get("fetchMarginMode"):
            return "unknown"
        raw = await self._read("fetch_margin_mode", lambda: ex.fetch_margin_mode(symbol))
        mode = str(raw.get("marginMode") or "unknown").lower()
        return "cross" if mode in ("cross", "crossed") else mode

    async def set_position_mode(self, hedged: bool, symbol: str | None = None) -> None:
        await self.markets()
        await self._write(lambda: self.client.set_position_mode(hedged, symbol))

    async def account_config(self, symbol: str) -> AccountConfig:
        """Position mode, margin mode and the symbol's max leverage, as the exchange reports them."""
        markets = await self.markets()
        ex = self.client
        mode = "unknown"
        if ex.has.get("fetchPositionMode"):
            raw = await self._read("fetch_position_mode", lambda: ex.fetch_position_mode(symbol))
            mode = "hedge" if raw.get("hedged") else "one-way"
        else:
            raw_pos = await self._read("fetch_positions", lambda: ex.fetch_positions([symbol]))
            if raw_pos:
                mode = "hedge" if any(p.get("hedged") for p in raw_pos) else "one-way"
        margin = "unknown"
        if ex.has.get("fetchMarginMode"):
            raw_mm = await self._read("fetch_margin_mode", lambda: ex.fetch_margin_mode(symbol))
            margin = str(raw_mm.get("marginMode") or "unknown")
        info = markets.get(symbol)
        return AccountConfig(mode, margin, info.max_leverage if info else None)

    # ---- orders ---------------------------------------------------------------------------------------------
    def _order_params(self, req: OrderRequest) -> dict[str, Any]:
        params: dict[str, Any] = {self.caps.client_order_id_param: req.client_id, **req.extra}
        if req.reduce_only:
            params["reduceOnly"] = True
        if req.hedged:
            params["hedged"] = True
        if req.take_profit is not None:
            params["takeProfit"] = {"triggerPrice": req.take_profit}
        if req.stop_loss is not None:
            params["stopLoss"] = {"triggerPrice": req.stop_loss}
        return params

    async def place_order(self, req: OrderRequest) -> Order:
        """Create an order idempotently (see the module docstring); returns its state after creation."""
        if not req.client_id:
            raise ValueError("an order needs a client id")
        await self.markets()
        if req.client_id in self._unknown_outcome:
            existing, _ = await self._lookup_after_failure(req)
            if existing is not None:
                self._unknown_outcome.discard(req.client_id)
                return existing
        for attempt in (1, 2):
            try:
                created = await self._creator(req)()
            except Exception as exc:
                err = translate(exc, self.exchange_id, self.caps.error_codes)
                if isinstance(err, DuplicateClientIdError):
                    self.log.info("%s order %s already exists: using it", self.exchange_id, req.client_id)
                    self._unknown_outcome.discard(req.client_id)
                    return await self.order_by_client_id(req.symbol, req.client_id)
                if not isinstance(err, TemporaryError):
                    raise err from exc
                self._unknown_outcome.add(req.client_id)
                self.log.warning(
                    "%s create %s: outcome unknown (%s); looking it up by client id",
                    self.exchange_id,
                    req.client_id,
                    type(err).__name__,
                )
                existing, definite = await self._lookup_after_failure(req)
                if existing is not None:
                    self._unknown_outcome.discard(req.client_id)
                    return existing
                if not definite or attempt == 2:
                    raise OrderOutcomeUnknownError(str(err), code=err.code, exchange_id=self.exchange_id) from exc
                if isinstance(err, RateLimitedError):
                    await asyncio.sleep(min(err.retry_after or self.retry.base_delay, self.retry.max_delay))
                self.log.info(
                    "%s order %s definitely not placed: submitting once more (same client id)",
                    self.exchange_id,
                    req.client_id,
                )
                continue
            self._unknown_outcome.discard(req.client_id)
            try:
                return await self.order_by_client_id(req.symbol, req.client_id)
            except ExchangeError:
                return Order.from_ccxt(created)
        raise AssertionError("unreachable")  # pragma: no cover

    def _creator(self, req: OrderRequest) -> Callable[[], Awaitable[Any]]:
        price = req.price if req.order_type is OrderType.LIMIT else None
        params = self._order_params(req)
        return lambda: self.client.create_order(
            req.symbol, req.order_type.value, req.side.value, req.amount, price, params
        )

    async def _lookup_after_failure(self, req: OrderRequest) -> tuple[Order | None, bool]:
        """(order, definite): (None, True) only when the exchange answered that no such order exists."""
        try:
            return await self.order_by_client_id(req.symbol, req.client_id), True
        except OrderUnknownError:
            return None, True
        except ExchangeError as err:
            self.log.warning("%s look-up of %s failed: %s", self.exchange_id, req.client_id, type(err).__name__)
            return None, False

    async def set_position_tpsl(
        self,
        symbol: str,
        side: PositionSide,
        take_profit: float | None,
        stop_loss: float | None,
        *,
        hedged: bool = False,
    ) -> None:
        """Replace the exchange-side TP/SL of the open ``side`` position (None clears a level). One attempt:
        the caller re-reads positions / open orders after a temporary error before trying again."""
        await self.markets()
        await self._write(
            lambda: self.caps.venue.set_position_tpsl(self.client, symbol, side, take_profit, stop_loss, hedged)
        )

    async def order_by_client_id(self, symbol: str, client_id: str) -> Order:
        await self.markets()

        async def lookup() -> dict[str, Any]:
            try:
                return await self.caps.venue.find_by_client_id(self.client, symbol, client_id)
            except NotFound as exc:
                raise OrderUnknownError(f"no order with client id {client_id}", exchange_id=self.exchange_id) from exc

        return Order.from_ccxt(await self._read("fetch_order_by_client_id", lookup))

    async def fetch_order(self, symbol: str, order_id: str) -> Order:
        await self.markets()
        params = dict(self.caps.fetch_order_params)
        raw = await self._read("fetch_order", lambda: self.client.fetch_order(order_id, symbol, params))
        return Order.from_ccxt(raw)

    async def cancel_order(self, symbol: str, order_id: str | None = None, client_id: str | None = None) -> None:
        """Cancel by exchange id or client id. Cancelling is idempotent, so it is retried like a read."""
        if not order_id and not client_id:
            raise ValueError("order_id or client_id is required")
        await self.markets()
        params = {self.caps.cancel_client_id_param: client_id} if client_id and not order_id else {}
        try:
            await self._read("cancel_order", lambda: self.client.cancel_order(order_id, symbol, params))
        except (InvalidOrderError, OrderUnknownError):
            # A retried cancel whose first response was lost meets "already cancelled": check, then accept.
            order = await (
                self.order_by_client_id(symbol, client_id) if client_id else self.fetch_order(symbol, str(order_id))
            )
            if order.status != "canceled":
                raise

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        await self.markets()
        raw = await self._read("fetch_open_orders", lambda: self.client.fetch_open_orders(symbol))
        return [Order.from_ccxt(o) for o in raw]

    async def my_trades(self, symbol: str, since: int | None = None, limit: int | None = None) -> list[Trade]:
        """Own fills, oldest first. A long ``since`` is walked in the exchange's history window (7 days on
        Bybit and BingX), one window at a time; within a window, pages are read back from the newest while they
        come full (Bybit answers the newest 50–100 fills: a sync that missed more than a page since its mark, or
        a look-back from an old position's opening, never saw the older fills)."""
        await self.markets()
        window = self.caps.my_trades_window_ms
        now = self.clock.now_ms()
        if since is None:
            trades = await self._trades_page(symbol, None, None)
        elif window is None or now - since < window:
            trades = await self._trades_between(symbol, since, None)
        else:
            seen: dict[str, Trade] = {}
            start = since
            while start <= now:
                end = min(start + window - 1, now)
                for trade in await self._trades_between(symbol, start, end):
                    seen[_trade_key(trade)] = trade
                start = end + 1
            trades = list(seen.values())
        trades.sort(key=lambda t: (t.timestamp or 0, t.id))  # fills of the same millisecond: the same order each read
        return trades[-limit:] if limit else trades

    async def _trades_page(self, symbol: str, since: int | None, until: int | None) -> list[Trade]:
        ex = self.client
        params = {} if until is None else {"until": until}
        raw = await self._read("fetch_my_trades",
                               lambda: ex.fetch_my_trades(symbol, since, self.caps.my_trades_page, params))
        return [Trade.from_ccxt(t) for t in raw]

    async def _trades_between(self, symbol: str, since: int, until: int | None) -> list[Trade]:
        """Every fill in [since, until] (None: up to now). Where the exchange pages its answer (Bybit: the newest
        100), a full page means fills were cut, so the range is halved and each half read again until pages come
        back short (at most :data:`MAX_TRADE_PAGES` requests; the log says what was left unread)."""
        page_size = self.caps.my_trades_page
        seen: dict[str, Trade] = {}
        pending: list[tuple[int, int | None]] = [(since, until)]
        requests = 0
        while pending:
            start, end = pending.pop()
            if requests >= MAX_TRADE_PAGES:
                log.warning("%s: own fills from %d to %s not read (more than %d pages)", symbol, start, end,
                            MAX_TRADE_PAGES)
                continue
            requests += 1
            page = await self._trades_page(symbol, start, end)
            for trade in page:
                seen[_trade_key(trade)] = trade
            stamps = [t.timestamp for t in page if t.timestamp is not None]
            if page_size is None or len(page) < page_size or not stamps:
                continue
            high = end if end is not None else max(stamps)  # the open end stays open: newer fills may come
            if high - start > 1:
                middle = (start + high) // 2
                pending += [(start, middle), (middle + 1, end)]
        return list(seen.values())

    async def funding_rates(self, symbol: str, since: int, until: int) -> list[tuple[int, float]]:
        """The market's funding settlements in [since, until]: (time, rate) — public, no account needed."""
        await self.markets()
        raw = await self._read("fetch_funding_rate_history", lambda: self.client.fetch_funding_rate_history(
            symbol, since, None, {"until": until}))
        return [(int(r["timestamp"]), float(r["fundingRate"])) for r in raw
                if r.get("timestamp") is not None and r.get("fundingRate") is not None]

    async def funding_history(self, symbol: str, since: int | None = None) -> list[FundingPayment]:
        """Funding settlements of the account for ``symbol``; ``amount`` < 0 means paid."""
        await self.markets()
        raw = await self._read("fetch_funding_history", lambda: self.client.fetch_funding_history(symbol, since))
        payments = [FundingPayment.from_ccxt(f) for f in raw]
        if self.caps.funding_paid_positive:
            payments = [replace(p, amount=-p.amount) for p in payments]
        return payments


def ws_root(api_url: str) -> str:
    """The websocket root of a REST root on the same host (``http://h:p`` → ``ws://h:p``)."""
    return api_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)


def point_at(client: Any, base_url: str, ws_base: str | None = None) -> None:
    """Send every REST call of a ccxt instance to ``base_url`` (the loopback simulator).

    ccxt.pro instances also carry websocket URLs under ``urls['api']['ws']``: with ``ws_base`` their host is
    replaced (path kept), so a test or the Replay connection can never reach the real exchange by websocket.
    """
    api = client.urls.get("api")
    if not isinstance(api, dict):
        client.urls["api"] = base_url
        return
    rewritten: dict[str, Any] = {}
    for name, value in api.items():
        if name == "ws":
            rewritten[name] = _rewrite_ws(value, ws_base or base_url.replace("http://", "ws://", 1))
        else:
            rewritten[name] = base_url
    client.urls["api"] = rewritten


def _rewrite_ws(value: Any, ws_base: str) -> Any:
    if isinstance(value, dict):
        return {k: _rewrite_ws(v, ws_base) for k, v in value.items()}
    if isinstance(value, str) and value.startswith(("wss://", "ws://")):
        rest = value.split("://", 1)[1]
        path = rest[rest.find("/") :] if "/" in rest else ""
        return ws_base.rstrip("/") + path
    return value
