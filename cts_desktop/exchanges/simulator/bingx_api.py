"""BingX USDT-M perpetual swap REST dialect (``/openApi/swap/...``).

Bodies follow the recorded responses in ``tests/data/exchange/bingx`` (``{"code":0,"msg":"","data":...}``).
Signed requests carry every parameter in the query string (POST and DELETE too), as ccxt sends them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from cts_desktop.exchanges.simulator.account import (
    Account,
    SimError,
    SimErrorKind,
    SimOrder,
)
from cts_desktop.exchanges.simulator.auth import ApiKey, AuthFailure
from cts_desktop.exchanges.simulator.bingx_bodies import BingxBodies, Params
from cts_desktop.exchanges.simulator.bingx_user_stream import ListenKeys
from cts_desktop.exchanges.simulator.common import decimals_of, fmt, to_float, wall_ms
from cts_desktop.exchanges.simulator.market import SimMarket

AUTH_ERRORS: dict[AuthFailure, tuple[int, str]] = {
    AuthFailure.MISSING_KEY: (100413, "Incorrect apiKey"),
    AuthFailure.UNKNOWN_KEY: (100413, "Incorrect apiKey"),
    AuthFailure.BAD_SIGNATURE: (100001, "Signature verification failed"),
    AuthFailure.TIMESTAMP: (100421, "Timestamp mismatch"),
    AuthFailure.IP_NOT_ALLOWED: (100419, "IP does not match IP whitelist"),
}

SIM_ERRORS: dict[SimErrorKind, tuple[int, str]] = {
    SimErrorKind.BAD_PARAM: (80014, "Invalid parameter"),
    SimErrorKind.INSUFFICIENT_BALANCE: (101204, "Insufficient margin"),
    SimErrorKind.DUPLICATE_CLIENT_ID: (109201, "The same order number can only be submitted once within 1 second"),
    SimErrorKind.ORDER_NOT_FOUND: (80016, "Order does not exist"),
    SimErrorKind.ORDER_FINISHED: (80018, "Order already filled"),
    SimErrorKind.QTY_TOO_SMALL: (101400, "The minimum order amount is not met"),
    SimErrorKind.REDUCE_ONLY_REJECTED: (101205, "No position to close"),
    SimErrorKind.LEVERAGE_NOT_MODIFIED: (0, ""),
    # "*" stands for the symbol's maximum, as the catalogue writes it
    SimErrorKind.LEVERAGE_TOO_HIGH: (
        101414,
        "The maximum leverage for this trading pair is *; please reduce the leverage",
    ),
    SimErrorKind.POSITION_MODE_NOT_MODIFIED: (0, ""),
    SimErrorKind.MARGIN_MODE_NOT_MODIFIED: (0, ""),
    SimErrorKind.POSITION_EXISTS: (101212, "Please check if you have pending orders"),
    SimErrorKind.UNKNOWN_SYMBOL: (109425, "symbol not exist, please verify it"),
    SimErrorKind.MARGIN_POSITION_EXISTS: (101212, "Please check if you have pending orders"),
}

INTERVALS = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": 86_400_000,
    "3d": 259_200_000,
    "1w": 604_800_000,
}

DETAILED = (SimErrorKind.LEVERAGE_TOO_HIGH,)  # refusals whose text names a value (the SimError message carries it)
DUPLICATE_WINDOW_MS = 1000  # the same clientOrderID is refused only within 1 s of the first
TYPES = {"MARKET": "Market", "LIMIT": "Limit"}
CONDITIONAL = {"STOP_MARKET": "StopLoss", "TAKE_PROFIT_MARKET": "TakeProfit"}


def envelope(data: Any, code: int = 0, msg: str = "") -> web.Response:
    return web.json_response({"code": code, "msg": msg, "data": data})


class BingxDialect(BingxBodies):
    name = "bingx"

    def __init__(self, now: Callable[[], int] = wall_ms) -> None:
        self.now = now  # the venue's clock (server time, error stamps, the receive-window check)
        self.listen_keys = ListenKeys(now)
        self.after_signed: Callable[[], None] = lambda: None  # told after each signed request (the user stream)
        self.public: dict[tuple[str, str], Callable[[Params, SimMarket], Any]] = {
            ("GET", "/openApi/swap/v2/server/time"): self.server_time,
            ("GET", "/openApi/swap/v2/quote/contracts"): self.contracts,
            ("GET", "/openApi/cswap/v1/market/contracts"): lambda p, m: [],
            ("GET", "/openApi/spot/v1/common/symbols"): lambda p, m: {"symbols": []},
            ("GET", "/openApi/swap/v2/quote/ticker"): self.ticker,
            ("GET", "/openApi/swap/v3/quote/klines"): self.klines,
            ("GET", "/openApi/swap/v2/quote/premiumIndex"): self.premium_index,
            ("GET", "/openApi/swap/v2/quote/fundingRate"): self.funding_rates,
            ("GET", "/openApi/swap/v1/ticker/price"): self.ticker_price,
        }
        # handlers that need the key itself (the listen key belongs to it) and answer outside the envelope
        self.keyed: dict[tuple[str, str], Callable[[Params, ApiKey], web.Response]] = {
            ("POST", "/openApi/user/auth/userDataStream"): self.create_listen_key,
            ("PUT", "/openApi/user/auth/userDataStream"): self.extend_listen_key,
            ("DELETE", "/openApi/user/auth/userDataStream"): self.delete_listen_key,
        }
        self.private: dict[tuple[str, str], Callable[[Params, SimMarket, Account], Any]] = {
            ("GET", "/openApi/wallets/v1/capital/config/getall"): self.coins,
            ("GET", "/openApi/swap/v3/user/balance"): self.balance,
            ("GET", "/openApi/swap/v2/user/balance"): self.balance,
            ("GET", "/openApi/swap/v2/user/positions"): self.positions,
            ("GET", "/openApi/swap/v2/trade/leverage"): self.get_leverage,
            ("POST", "/openApi/swap/v2/trade/leverage"): self.set_leverage,
            ("GET", "/openApi/swap/v2/trade/marginType"): self.get_margin_type,
            ("POST", "/openApi/swap/v2/trade/marginType"): self.set_margin_type,
            ("GET", "/openApi/swap/v1/positionSide/dual"): self.get_dual,
            ("POST", "/openApi/swap/v1/positionSide/dual"): self.set_dual,
            ("POST", "/openApi/swap/v2/trade/order"): self.create_order,
            ("DELETE", "/openApi/swap/v2/trade/order"): self.cancel_order,
            ("GET", "/openApi/swap/v2/trade/order"): self.get_order,
            ("GET", "/openApi/swap/v2/trade/openOrders"): self.open_orders,
            ("GET", "/openApi/swap/v2/trade/allOrders"): self.all_orders,
            ("GET", "/openApi/swap/v2/trade/allFillOrders"): self.fills,
            ("GET", "/openApi/swap/v2/user/income"): self.income,
            ("POST", "/openApi/swap/v1/trade/cancelReplace"): self.cancel_replace,
        }

    def owns(self, path: str) -> bool:
        return path.startswith("/openApi/")

    def auth_error(self, failure: AuthFailure) -> web.Response:
        code, msg = AUTH_ERRORS[failure]
        return web.json_response({"code": code, "msg": msg, "timestamp": self.now()})

    def business_error(self, kind: SimErrorKind, detail: str = "") -> web.Response:
        """The venue's refusal for ``kind``; ``detail`` fills the catalogue text's "*" (a symbol's maximum)."""
        code, msg = SIM_ERRORS[kind]
        return envelope({}, code, msg.replace("*", detail or "*")) if code else envelope({})

    def rate_limited(self, retry_after: int) -> web.Response:
        return web.json_response(
            {"code": 100410, "msg": "Rate limit exceeded", "data": {}},
            status=429,
            headers={
                "Retry-After": str(retry_after),
                "X-RateLimit-Requests-Remain": "0",
                "X-RateLimit-Requests-Expire": str(retry_after * 1000),
            },
        )

    async def handle(self, request: web.Request, market: SimMarket) -> web.Response:
        key = (request.method, request.path)
        params: Params = dict(request.query)
        try:
            if key in self.public:
                market.advance()
                return envelope(self.public[key](params, market))
            if key not in self.private and key not in self.keyed:
                return web.json_response({"code": 100400, "msg": f"unknown path {request.path}"}, status=404)
            auth = market.keyring.check_bingx(
                request.headers.get("X-BX-APIKEY"),
                request.rel_url.raw_query_string,
                params,
                self.now(),
                request.remote,
            )
            if isinstance(auth, AuthFailure):
                return self.auth_error(auth)
            if market.over_limit(auth):
                return self.rate_limited(1)
            market.advance()
            if key in self.keyed:
                return self.keyed[key](params, auth)
            try:
                return envelope(self.private[key](params, market, auth.account))
            finally:
                self.after_signed()
        except SimError as exc:
            return self.business_error(exc.kind, exc.message if exc.kind in DETAILED else "")

    # ---- public -------------------------------------------------------------------------------------------
    def server_time(self, params: Params, market: SimMarket) -> dict[str, int]:
        return {"serverTime": self.now()}

    def contracts(self, params: Params, market: SimMarket) -> list[dict[str, Any]]:
        out = []
        for inst in market.instruments.values():
            out.append(
                {
                    "contractId": str(100 + len(out)),
                    "symbol": inst.bingx_symbol,
                    "size": "0",
                    "quantityPrecision": decimals_of(inst.qty_step),
                    "pricePrecision": decimals_of(inst.tick_size),
                    "feeRate": market.config.taker_fee,
                    "makerFeeRate": market.config.maker_fee,
                    "takerFeeRate": market.config.taker_fee,
                    "tradeMinLimit": 0,
                    "tradeMinQuantity": float(inst.min_qty),
                    "tradeMinUSDT": float(inst.min_notional),
                    "maxLongLeverage": int(float(inst.max_leverage)),
                    "maxShortLeverage": int(float(inst.max_leverage)),
                    "currency": inst.quote,
                    "asset": inst.base,
                    "status": 1,
                    "apiStateOpen": "true",
                    "apiStateClose": "true",
                    "ensureTrigger": True,
                    "triggerFeeRate": fmt(market.config.maker_fee),
                }
            )
        return out

    def ticker(self, params: Params, market: SimMarket) -> Any:
        rows = []
        for base, inst in market.instruments.items():
            if params.get("symbol") and params["symbol"] != inst.bingx_symbol:
                continue
            st = market.stats_24h(base)
            tick = inst.tick_size
            now = market.now()
            rows.append(
                {
                    "symbol": inst.bingx_symbol,
                    "priceChange": fmt(st.last - st.open, tick),
                    "priceChangePercent": f"{(st.last / st.open - 1) * 100:.2f}",
                    "lastPrice": fmt(st.last, tick),
                    "lastQty": "1",
                    "highPrice": fmt(st.high, tick),
                    "lowPrice": fmt(st.low, tick),
                    "volume": f"{st.volume:.4f}",
                    "quoteVolume": f"{st.turnover:.2f}",
                    "openPrice": fmt(st.open, tick),
                    "openTime": now - 86_400_000,
                    "closeTime": now,
                    "askPrice": fmt(st.last, tick),
                    "askQty": "1",
                    "bidPrice": fmt(st.last - float(tick), tick),
                    "bidQty": "1",
                }
            )
        if params.get("symbol"):
            if not rows:
                raise SimError(SimErrorKind.UNKNOWN_SYMBOL, "symbol not exist")
            return rows[0]
        return rows

    def klines(self, params: Params, market: SimMarket) -> list[dict[str, Any]]:
        base = _base_of(market, params.get("symbol", ""))
        interval = INTERVALS.get(params.get("interval", ""))
        if interval is None:
            raise SimError(SimErrorKind.BAD_PARAM, "interval invalid")
        limit = min(int(params.get("limit", "500")), 1440)
        start = int(params["startTime"]) if params.get("startTime") else None
        end = int(params["endTime"]) if params.get("endTime") else None
        tick = market.instruments[base].tick_size
        bars = market.klines(base, interval, start, end, limit)
        return [
            {
                "open": fmt(b.open, tick),
                "close": fmt(b.close, tick),
                "high": fmt(b.high, tick),
                "low": fmt(b.low, tick),
                "volume": f"{b.volume:.2f}",
                "time": b.ts,
            }
            for b in reversed(bars)
        ]

    def premium_index(self, params: Params, market: SimMarket) -> Any:
        rows = []
        for base, inst in market.instruments.items():
            if params.get("symbol") and params["symbol"] != inst.bingx_symbol:
                continue
            tick = inst.tick_size
            rows.append(
                {
                    "symbol": inst.bingx_symbol,
                    "markPrice": fmt(market.price(base), tick),
                    "indexPrice": fmt(market.price(base), tick),
                    "lastFundingRate": f"{market.funding_rate(base):.8f}",
                    "nextFundingTime": market.next_funding_ms(),
                    "fundingIntervalHours": 8,
                }
            )
        return rows[0] if params.get("symbol") and rows else rows

    def funding_rates(self, params: Params, market: SimMarket) -> list[dict[str, Any]]:
        """The settlements charged so far (their exchange time), newest first as BingX answers."""
        base = _base_of(market, params["symbol"])
        start, end = int(params.get("startTime", 0)), int(params.get("endTime", 2**62))
        rows = [
            {"symbol": market.instruments[b].bingx_symbol, "fundingRate": f"{rate:.8f}", "fundingTime": ts}
            for ts, b, rate in reversed(market.settlements)
            if b == base and start <= ts <= end
        ]
        return rows[: int(params.get("limit", "100"))]

    def ticker_price(self, params: Params, market: SimMarket) -> Any:
        rows = [
            {"symbol": inst.bingx_symbol, "price": fmt(market.price(base), inst.tick_size), "time": market.now()}
            for base, inst in market.instruments.items()
            if not params.get("symbol") or params["symbol"] == inst.bingx_symbol
        ]
        if params.get("symbol"):
            if not rows:
                raise SimError(SimErrorKind.UNKNOWN_SYMBOL, "symbol not exist")
            return rows[0]
        return rows

    # ---- user-data stream ---------------------------------------------------------------------------------
    def create_listen_key(self, params: Params, key: ApiKey) -> web.Response:
        return web.json_response({"listenKey": self.listen_keys.create(key)})

    def extend_listen_key(self, params: Params, key: ApiKey) -> web.Response:
        """200 with an empty body when extended; 404 for a key that does not exist (expired, deleted, another's)."""
        return web.Response(status=200 if self.listen_keys.extend(params.get("listenKey", ""), key) else 404)

    def delete_listen_key(self, params: Params, key: ApiKey) -> web.Response:
        return web.Response(status=200 if self.listen_keys.delete(params.get("listenKey", ""), key) else 404)

    # ---- account ------------------------------------------------------------------------------------------
    def coins(self, params: Params, market: SimMarket, acc: Account) -> list[dict[str, Any]]:
        return [{"coin": c, "name": c, "networkList": []} for c in ("USDT", *market.instruments)]

    def balance(self, params: Params, market: SimMarket, acc: Account) -> list[dict[str, Any]]:
        prices = market.prices()
        upl = acc.unrealised(prices)
        return [
            {
                "userId": "1",
                "asset": "USDT",
                "balance": fmt(acc.wallet),
                "equity": fmt(acc.wallet + upl),
                "unrealizedProfit": fmt(upl),
                "realisedProfit": fmt(acc.cum_realised),
                "availableMargin": fmt(acc.available(prices)),
                "usedMargin": fmt(acc.position_margin()),
                "freezedMargin": fmt(acc.order_margin()),
                "shortUid": "1",
            }
        ]

    def positions(self, params: Params, market: SimMarket, acc: Account) -> list[dict[str, Any]]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        return [
            self._position(p, market, acc)
            for p in acc.positions.values()
            if p.size > 0 and (base is None or p.base == base)
        ]

    def get_leverage(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        lev, top = int(acc.leverage_of(base)), int(float(market.instruments[base].max_leverage))
        return {"longLeverage": lev, "shortLeverage": lev, "maxLongLeverage": top, "maxShortLeverage": top}

    def set_leverage(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        lev = to_float(params.get("leverage"))
        if lev is None:
            raise SimError(SimErrorKind.BAD_PARAM, "leverage required")
        try:
            acc.set_leverage(base, lev)
        except SimError as exc:
            if exc.kind is SimErrorKind.LEVERAGE_TOO_HIGH:
                top = int(float(market.instruments[base].max_leverage))
                raise SimError(SimErrorKind.LEVERAGE_TOO_HIGH, str(top)) from exc
            if exc.kind is not SimErrorKind.LEVERAGE_NOT_MODIFIED:  # BingX accepts an unchanged value
                raise
        return {"leverage": int(lev), "symbol": params.get("symbol")}

    def get_margin_type(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        return {"marginType": "ISOLATED" if acc.isolated.get(base) else "CROSSED", "symbol": params.get("symbol")}

    def set_margin_type(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        mode = params.get("marginType", "").upper()
        if mode not in ("ISOLATED", "CROSSED"):
            raise SimError(SimErrorKind.BAD_PARAM, "marginType invalid")
        try:
            acc.set_isolated(base, mode == "ISOLATED")
        except SimError as exc:
            if exc.kind is not SimErrorKind.MARGIN_MODE_NOT_MODIFIED:
                raise
        return {}

    def get_dual(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        return {"dualSidePosition": "true" if acc.hedge_mode else "false"}

    def set_dual(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        hedge = str(params.get("dualSidePosition")).lower() == "true"
        try:
            acc.set_hedge_mode(hedge)
        except SimError as exc:
            if exc.kind is not SimErrorKind.POSITION_MODE_NOT_MODIFIED:
                raise
        return {"dualSidePosition": "true" if hedge else "false"}

    # ---- orders -------------------------------------------------------------------------------------------
    def create_order(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        if params.get("type", "").upper() in CONDITIONAL:
            return self._create_conditional(params, market, acc)
        base = _base_of(market, params.get("symbol", ""))
        side = {"BUY": "Buy", "SELL": "Sell"}.get(params.get("side", "").upper())
        otype = TYPES.get(params.get("type", "").upper())
        qty = to_float(params.get("quantity"))
        if side is None or otype is None or qty is None:
            raise SimError(SimErrorKind.BAD_PARAM, "side, type and quantity are required")
        pside = params.get("positionSide", "BOTH").upper()
        idx = {"BOTH": 0, "LONG": 1, "SHORT": 2}.get(pside)
        if idx is None:
            raise SimError(SimErrorKind.BAD_PARAM, "positionSide invalid")
        order = SimOrder(
            order_id="",
            client_id=params.get("clientOrderID") or params.get("clientOrderId") or "",
            base=base,
            side=side,
            order_type=otype,
            qty=qty,
            price=to_float(params.get("price")) if otype == "Limit" else None,
            position_idx=idx,
            reduce_only=str(params.get("reduceOnly", "")).lower() == "true",
            created_ms=market.now(),
            take_profit=_stop_price(params.get("takeProfit")),
            stop_loss=_stop_price(params.get("stopLoss")),
        )
        self._free_client_id(acc, order.client_id, market)
        acc.place(order, market.price(base), market.now(), market.prices())
        return {"order": self._created(order, market)}

    def _create_conditional(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        """STOP_MARKET / TAKE_PROFIT_MARKET: a reduce-only market order armed at ``stopPrice``.

        With ``closePosition=true`` it closes whatever the position holds when it triggers.
        """
        base = _base_of(market, params.get("symbol", ""))
        side = {"BUY": "Buy", "SELL": "Sell"}.get(params.get("side", "").upper())
        idx = {"BOTH": 0, "LONG": 1, "SHORT": 2}.get(params.get("positionSide", "BOTH").upper())
        stop = to_float(params.get("stopPrice"))
        if side is None or idx is None or stop is None:
            raise SimError(SimErrorKind.BAD_PARAM, "side, positionSide and stopPrice are required")
        close_all = str(params.get("closePosition", "")).lower() == "true"
        qty = acc.position(base, idx).size if close_all else to_float(params.get("quantity"))
        if not qty:
            raise SimError(SimErrorKind.REDUCE_ONLY_REJECTED, "no position to close")
        order = SimOrder(
            order_id="",
            client_id=params.get("clientOrderID") or params.get("clientOrderId") or "",
            base=base,
            side=side,
            order_type="Market",
            qty=qty,
            price=None,
            position_idx=idx,
            reduce_only=True,
            created_ms=market.now(),
            trigger_price=stop,
            stop_order_type=CONDITIONAL[params["type"].upper()],
        )
        self._free_client_id(acc, order.client_id, market)
        acc.place(order, market.price(base), market.now(), market.prices())
        return {"order": self._created(order, market)}

    @staticmethod
    def _free_client_id(acc: Account, client_id: str, market: SimMarket) -> None:
        """A clientOrderID is refused again only within 1 s of its first use; after that it may name a new order
        (a look-up by it then finds the newest)."""
        if not client_id or client_id not in acc.by_client:
            return
        first = acc.orders[acc.by_client[client_id]]
        if market.now() - first.created_ms < DUPLICATE_WINDOW_MS:
            raise SimError(SimErrorKind.DUPLICATE_CLIENT_ID, "duplicate clientOrderID within 1 s")
        del acc.by_client[client_id]

    def cancel_replace(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        """Cancel ``cancelOrderId`` / ``cancelClientOrderID`` and place the new order from the same parameters.

        ``cancelReplaceMode`` STOP_ON_FAILURE (default) places nothing when the cancel fails; ALLOW_FAILURE places
        the new order regardless."""
        mode = params.get("cancelReplaceMode", "STOP_ON_FAILURE").upper()
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise SimError(SimErrorKind.BAD_PARAM, "cancelReplaceMode invalid")
        cancel_ok, cancel_msg, cancelled = True, "", None
        try:
            cancelled = acc.cancel(
                params.get("cancelOrderId") or None, params.get("cancelClientOrderID") or None, market.now()
            )
        except SimError as exc:
            cancel_ok, cancel_msg = False, SIM_ERRORS[exc.kind][1]
            if mode == "STOP_ON_FAILURE":
                raise
        new_params = {k: v for k, v in params.items() if not k.startswith("cancel")}
        replace_ok, replace_msg, created = True, "", None
        try:
            created = self.create_order(new_params, market, acc)["order"]
        except SimError as exc:
            replace_ok, replace_msg = False, SIM_ERRORS[exc.kind][1]
        return {
            "cancelResult": "true" if cancel_ok else "false",
            "cancelMsg": cancel_msg,
            "cancelResponse": self._cancel_response(cancelled, market) if cancelled else {},
            "replaceResult": "true" if replace_ok else "false",
            "replaceMsg": replace_msg,
            "newOrderResponse": self._new_order_response(created, new_params) if created else {},
        }

    def cancel_order(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        order = acc.cancel(
            params.get("orderId") or None, params.get("clientOrderID") or params.get("clientOrderId"), market.now()
        )
        return {"order": self._order(order, market)}

    def get_order(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        order = acc.find(params.get("orderId") or None, params.get("clientOrderId") or params.get("clientOrderID"))
        return {"order": self._order(order, market)}

    def open_orders(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        return {"orders": [self._order(o, market) for o in acc.open_orders(base)]}

    def all_orders(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        orders = sorted(
            (o for o in acc.orders.values() if base is None or o.base == base), key=lambda o: o.created_ms, reverse=True
        )
        return {"orders": [self._order(o, market) for o in orders[: int(params.get("limit", "500"))]]}

    def fills(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        start = int(params["startTs"]) if params.get("startTs") else None
        end = int(params["endTs"]) if params.get("endTs") else None
        rows = [
            e
            for e in acc.executions
            if e.exec_type == "Trade"
            and (base is None or e.base == base)
            and (start is None or e.ts >= start)
            and (end is None or e.ts <= end)
        ]
        return {"fill_orders": [self._fill(e, market) for e in rows]}

    def income(self, params: Params, market: SimMarket, acc: Account) -> list[dict[str, Any]]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        wanted = params.get("incomeType")
        rows = []
        for e in reversed(acc.executions):
            if base is not None and e.base != base:
                continue
            kind = "FUNDING_FEE" if e.exec_type == "Funding" else "TRADING_FEE"
            if wanted and wanted != kind:
                continue
            rows.append(
                {
                    "symbol": market.instruments[e.base].bingx_symbol,
                    "incomeType": kind,
                    "income": fmt(-e.fee),
                    "asset": "USDT",
                    "info": "Funding Fee" if kind == "FUNDING_FEE" else "Trading Fee",
                    "time": str(e.ts),
                    "tranId": e.exec_id,
                    "tradeId": e.order_id,
                }
            )
        return rows[: int(params.get("limit", "100"))]


def _stop_price(raw: str | None) -> float | None:
    """BingX attaches TP/SL as a JSON string ``{"type": ..., "stopPrice": ...}``."""
    if not raw:
        return None
    try:
        return to_float(json.loads(raw).get("stopPrice"))
    except (ValueError, AttributeError):
        raise SimError(SimErrorKind.BAD_PARAM, "takeProfit/stopLoss must be a JSON object") from None


def _base_of(market: SimMarket, symbol: str) -> str:
    for base, inst in market.instruments.items():
        if inst.bingx_symbol == symbol:
            return base
    raise SimError(SimErrorKind.UNKNOWN_SYMBOL, f"{symbol} not exist")
