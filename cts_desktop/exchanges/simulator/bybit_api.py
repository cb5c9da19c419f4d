"""Bybit V5 REST dialect (``/v5/...``): linear USDT perpetuals on a unified trading account.

Bodies follow the recorded responses in ``tests/data/exchange/bybit`` (retCode/retMsg/result/retExtInfo/time, all
numbers as strings). Business errors answer HTTP 200 with a non-zero ``retCode``, as Bybit does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from cts_desktop.exchanges.simulator.account import (
    Account,
    OrderChange,
    SimError,
    SimErrorKind,
    SimOrder,
)
from cts_desktop.exchanges.simulator.auth import AuthFailure
from cts_desktop.exchanges.simulator.bybit_bodies import BybitBodies
from cts_desktop.exchanges.simulator.common import fmt, to_float, wall_ms
from cts_desktop.exchanges.simulator.market import SimMarket
from cts_desktop.exchanges.simulator.order_checks import OrderCheckError, max_price, venue_error

AUTH_ERRORS: dict[AuthFailure, tuple[int, str]] = {
    AuthFailure.MISSING_KEY: (10003, "API key is invalid."),
    AuthFailure.UNKNOWN_KEY: (10003, "API key is invalid."),
    AuthFailure.BAD_SIGNATURE: (10004, "Error sign, please check your signature generation algorithm."),
    AuthFailure.TIMESTAMP: (
        10002,
        "invalid request, please check your server timestamp or recv_window param",
    ),
    AuthFailure.IP_NOT_ALLOWED: (10010, "Unmatched IP, please check your API key's bound IP addresses."),
}

SIM_ERRORS: dict[SimErrorKind, tuple[int, str]] = {
    SimErrorKind.BAD_PARAM: (10001, "Request parameter error"),
    SimErrorKind.INSUFFICIENT_BALANCE: (110007, "ab not enough for new order"),
    SimErrorKind.DUPLICATE_CLIENT_ID: (110072, "OrderLinkedID is duplicate"),
    SimErrorKind.ORDER_NOT_FOUND: (110001, "Order does not exist"),
    SimErrorKind.ORDER_FINISHED: (110008, "The order has been completed or cancelled."),
    SimErrorKind.QTY_TOO_SMALL: (110094, "Order notional value below the lower limit"),
    SimErrorKind.REDUCE_ONLY_REJECTED: (110017, "orderQty will be truncated to zero"),
    SimErrorKind.LEVERAGE_NOT_MODIFIED: (110043, "Set leverage has not been modified."),
    SimErrorKind.LEVERAGE_TOO_HIGH: (10001, "leverage invalid"),
    SimErrorKind.POSITION_MODE_NOT_MODIFIED: (110025, "Position mode has not been modified."),
    SimErrorKind.MARGIN_MODE_NOT_MODIFIED: (110026, "Cross/isolated margin mode has not been modified."),
    SimErrorKind.POSITION_EXISTS: (110024, "You have an existing position, so the position mode cannot be switched."),
    SimErrorKind.UNKNOWN_SYMBOL: (10001, "params error: symbol invalid"),
    # /v5/account/set-margin-mode answers a refused switch with 3400045 (its reasons name the open positions/orders)
    SimErrorKind.MARGIN_POSITION_EXISTS: (3400045, "Set margin mode failed"),
}

INTERVALS = {
    "1": 60_000,
    "3": 180_000,
    "5": 300_000,
    "15": 900_000,
    "30": 1_800_000,
    "60": 3_600_000,
    "120": 7_200_000,
    "240": 14_400_000,
    "360": 21_600_000,
    "720": 43_200_000,
    "D": 86_400_000,
    "W": 604_800_000,
}

Params = dict[str, str]


class BybitDialect(BybitBodies):
    name = "bybit"

    def __init__(self, now: Callable[[], int] = wall_ms) -> None:
        self.now = now  # the venue's clock (server time, envelope stamps, the receive-window check)
        self.public: dict[str, Callable[[Params, SimMarket], Any]] = {
            "/v5/market/time": self.time,
            "/v5/market/instruments-info": self.instruments,
            "/v5/market/tickers": self.tickers,
            "/v5/market/kline": self.kline,
            "/v5/market/funding/history": self.funding_history_public,
        }
        self.private: dict[str, Callable[[Params, SimMarket, Account], Any]] = {
            "/v5/user/query-api": self.query_api,
            "/v5/account/info": self.account_info,
            "/v5/asset/coin/query-info": self.coin_info,
            "/v5/account/wallet-balance": self.wallet_balance,
            "/v5/account/fee-rate": self.fee_rate,
            "/v5/position/list": self.position_list,
            "/v5/position/set-leverage": self.set_leverage,
            "/v5/account/set-margin-mode": self.set_margin_mode,
            "/v5/position/switch-isolated": self.switch_isolated,
            "/v5/position/switch-mode": self.switch_mode,
            "/v5/position/trading-stop": self.trading_stop,
            "/v5/order/create": self.order_create,
            "/v5/order/cancel": self.order_cancel,
            "/v5/order/amend": self.order_amend,
            "/v5/position/closed-pnl": self.closed_pnl,
            "/v5/order/realtime": self.order_realtime,
            "/v5/order/history": self.order_history,
            "/v5/execution/list": self.execution_list,
        }

    def owns(self, path: str) -> bool:
        return path.startswith("/v5/")

    def envelope(self, result: Any, code: int = 0, msg: str = "OK") -> web.Response:
        body = {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": {}, "time": self.now()}
        return web.json_response(body)

    def auth_error(self, failure: AuthFailure) -> web.Response:
        code, msg = AUTH_ERRORS[failure]
        return self.envelope({}, code, msg)

    def business_error(self, kind: SimErrorKind) -> web.Response:
        code, msg = SIM_ERRORS[kind]
        return self.envelope({}, code, msg)

    def refusal(self, exc: SimError) -> web.Response:
        """The venue's answer to a rejection: an order check's own code and text, else the kind's."""
        if isinstance(exc, OrderCheckError):
            code, msg = venue_error("bybit", exc.check)
            return self.envelope({}, code, msg)
        return self.business_error(exc.kind)

    def rate_limited(self, retry_after: int) -> web.Response:
        body = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}, "time": self.now()}
        headers = {  # as every signed answer (the limiter replaces them with the endpoint's own figures)
            "Retry-After": str(retry_after),
            "X-Bapi-Limit": "10",
            "X-Bapi-Limit-Status": "0",
            "X-Bapi-Limit-Reset-Timestamp": str(self.now() + retry_after * 1000),
        }
        return web.json_response(body, status=429, headers=headers)

    async def handle(self, request: web.Request, market: SimMarket) -> web.Response:
        path = request.path
        if path in self.public:
            market.advance()
            try:
                return self.envelope(self.public[path](dict(request.query), market))
            except SimError as exc:
                return self.business_error(exc.kind)
        if path not in self.private:
            return web.json_response({"retCode": 10001, "retMsg": f"unknown path {path}"}, status=404)
        raw = await request.text() if request.method == "POST" else request.rel_url.raw_query_string
        auth = market.keyring.check_bybit(dict(request.headers), raw, self.now(), request.remote)
        if isinstance(auth, AuthFailure):
            return self.auth_error(auth)
        if market.over_limit(auth):
            return self.rate_limited(1)
        params: Params = (
            {k: v for k, v in json.loads(raw or "{}").items()} if request.method == "POST" else dict(request.query)
        )
        market.advance()
        try:
            result = self.private[path](params, market, auth.account)
        except SimError as exc:
            return self.refusal(exc)
        if isinstance(result, web.Response):
            return result
        return self.envelope(result)

    # ---- public -------------------------------------------------------------------------------------------
    def time(self, params: Params, market: SimMarket) -> dict[str, str]:
        now = self.now()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def instruments(self, params: Params, market: SimMarket) -> dict[str, Any]:
        category = params.get("category", "linear")
        items = []
        if category == "linear":
            for inst in market.instruments.values():
                if params.get("symbol") and params["symbol"] != inst.bybit_symbol:
                    continue
                items.append(
                    {
                        "symbol": inst.bybit_symbol,
                        "contractType": "LinearPerpetual",
                        "status": "Trading",
                        "baseCoin": inst.base,
                        "quoteCoin": inst.quote,
                        "launchTime": str(inst.launch_time),
                        "deliveryTime": "0",
                        "deliveryFeeRate": "",
                        "priceScale": str(len(inst.tick_size.partition(".")[2])),  # "0.10" prints 2 decimals
                        "leverageFilter": {
                            "minLeverage": "1",
                            "maxLeverage": f"{float(inst.max_leverage):.2f}",
                            "leverageStep": "0.01",
                        },
                        "priceFilter": {
                            "minPrice": inst.tick_size,
                            "maxPrice": f"{max_price(inst):.{len(inst.tick_size.partition('.')[2])}f}",
                            "tickSize": inst.tick_size,
                        },
                        "lotSizeFilter": {
                            "maxOrderQty": inst.max_qty,
                            "minOrderQty": inst.min_qty,
                            "qtyStep": inst.qty_step,
                            "postOnlyMaxOrderQty": inst.max_qty,
                            "maxMktOrderQty": inst.max_market_qty,
                            "minNotionalValue": inst.min_notional,
                        },
                        "unifiedMarginTrade": True,
                        "fundingInterval": 480,  # minutes, a number (the docs' and JKorf's recorded body)
                        "settleCoin": inst.quote,
                        "copyTrading": "both",
                        "upperFundingRate": "0.005",
                        "lowerFundingRate": "-0.005",
                        "isPreListing": False,
                        "preListingInfo": None,
                        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
                        "displayName": "",
                    }
                )
        return {"category": category, "list": items, "nextPageCursor": ""}

    def tickers(self, params: Params, market: SimMarket) -> dict[str, Any]:
        items = []
        for base, inst in market.instruments.items():
            if params.get("symbol") and params["symbol"] != inst.bybit_symbol:
                continue
            if params.get("category", "linear") != "linear":
                continue
            st = market.stats_24h(base)
            tick = inst.tick_size
            half = float(tick)
            items.append(
                {
                    "symbol": inst.bybit_symbol,
                    "lastPrice": fmt(st.last, tick),
                    "indexPrice": fmt(st.last, tick),
                    "markPrice": fmt(st.last, tick),
                    "prevPrice24h": fmt(st.open, tick),
                    "price24hPcnt": f"{(st.last / st.open - 1):.6f}",
                    "highPrice24h": fmt(st.high, tick),
                    "lowPrice24h": fmt(st.low, tick),
                    "prevPrice1h": fmt(st.prev_1h, tick),
                    "openInterest": "0",
                    "openInterestValue": "0",
                    "turnover24h": f"{st.turnover:.4f}",
                    "volume24h": f"{st.volume:.4f}",
                    "fundingRate": f"{market.funding_rate(base):.8f}",
                    "nextFundingTime": str(market.next_funding_ms()),
                    "predictedDeliveryPrice": "",
                    "basisRate": "",
                    "deliveryFeeRate": "",
                    "deliveryTime": "0",
                    "ask1Size": "1",
                    "bid1Price": fmt(st.last - half, tick),
                    "ask1Price": fmt(st.last, tick),
                    "bid1Size": "1",
                    "basis": "",
                }
            )
        return {"category": params.get("category", "linear"), "list": items}

    def kline(self, params: Params, market: SimMarket) -> dict[str, Any]:
        symbol = params.get("symbol", "")
        base = _base_of(market, symbol)
        interval = INTERVALS.get(params.get("interval", ""))
        if interval is None:
            raise SimError(SimErrorKind.BAD_PARAM, "Invalid period!")
        limit = min(int(params.get("limit", "200")), 1000)
        start = int(params["start"]) if params.get("start") else None
        end = int(params["end"]) if params.get("end") else None
        bars = market.klines(base, interval, start, end, limit)
        tick = market.instruments[base].tick_size
        rows = [
            [
                str(b.ts),
                fmt(b.open, tick),
                fmt(b.high, tick),
                fmt(b.low, tick),
                fmt(b.close, tick),
                f"{b.volume:.3f}",
                f"{b.volume * (b.high + b.low) / 2:.4f}",
            ]
            for b in reversed(bars)
        ]
        return {"symbol": symbol, "category": "linear", "list": rows}

    def funding_history_public(self, params: Params, market: SimMarket) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        inst = market.instruments[base]
        return {
            "category": "linear",
            "list": [
                {
                    "symbol": inst.bybit_symbol,
                    "fundingRate": f"{market.funding_rate(base):.8f}",
                    "fundingRateTimestamp": str(market.next_funding_ms() - 8 * 3600 * 1000),
                }
            ],
        }

    # ---- account ------------------------------------------------------------------------------------------
    def query_api(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        return {
            "id": "1",
            "note": "simulator",
            "apiKey": "",
            "readOnly": 0,
            "secret": "",
            "permissions": {
                "ContractTrade": ["Order", "Position"],
                "Spot": [],
                "Wallet": [],
                "Options": [],
                "Derivatives": [],
                "CopyTrading": [],
                "BlockTrade": [],
                "Exchange": [],
                "NFT": [],
                "Affiliate": [],
            },
            "ips": ["*"],
            "type": 1,
            "deadlineDay": -1,
            "expiredAt": "",
            "createdAt": "",
            "unified": 0,
            "uta": 1,
            "userID": 1,
            "inviterID": 0,
            "vipLevel": "No VIP",
            "mktMakerLevel": "0",
            "affiliateID": 0,
            "rsaPublicKey": "",
            "isMaster": True,
            "parentUid": "0",
            "kycLevel": "LEVEL_DEFAULT",
            "kycRegion": "",
        }

    def account_info(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        isolated = bool(acc.isolated) and all(acc.isolated.get(b, False) for b in acc.instruments)
        return {
            "unifiedMarginStatus": 5,
            "marginMode": "ISOLATED_MARGIN" if isolated else "REGULAR_MARGIN",
            "isMasterTrader": False,
            "spotHedgingStatus": "OFF",
            "updatedTime": str(self.now()),
            "dcpStatus": "OFF",
            "timeWindow": 10,
            "smpGroup": 0,
        }

    def coin_info(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        coins = ["USDT", *market.instruments]
        return {"rows": [{"name": c, "coin": c, "remainAmount": "0", "chains": []} for c in coins]}

    def fee_rate(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        return {
            "list": [
                {"symbol": i.bybit_symbol, "takerFeeRate": fmt(acc.taker_fee), "makerFeeRate": fmt(acc.maker_fee)}
                for i in market.instruments.values()
            ]
        }

    def wallet_balance(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        prices = market.prices()
        upl = acc.unrealised(prices)
        equity = acc.wallet + upl
        im = acc.position_margin()
        order_im = acc.order_margin()
        available = equity - im - order_im
        mm = im * 0.1
        coin = {
            "availableToBorrow": "",
            "bonus": "0",
            "accruedInterest": "0",
            "availableToWithdraw": "",
            "totalOrderIM": fmt(order_im),
            "equity": fmt(equity),
            "totalPositionMM": fmt(mm),
            "usdValue": fmt(equity),
            "unrealisedPnl": fmt(upl),
            "collateralSwitch": True,
            "spotHedgingQty": "0",
            "borrowAmount": "0.000000000000000000",
            "totalPositionIM": fmt(im),
            "walletBalance": fmt(acc.wallet),
            "cumRealisedPnl": fmt(acc.cum_realised),
            "locked": "0",
            "marginCollateral": True,
            "coin": "USDT",
        }
        return {
            "list": [
                {
                    "totalEquity": fmt(equity),
                    "accountIMRate": fmt(im / equity if equity else 0),
                    "totalMarginBalance": fmt(equity),
                    "totalInitialMargin": fmt(im + order_im),
                    "accountType": "UNIFIED",
                    "totalAvailableBalance": fmt(available),
                    "accountMMRate": fmt(mm / equity if equity else 0),
                    "totalPerpUPL": fmt(upl),
                    "totalWalletBalance": fmt(acc.wallet),
                    "accountLTV": "0",
                    "totalMaintenanceMargin": fmt(mm),
                    "coin": [coin],
                }
            ]
        }

    def position_list(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        symbol = params.get("symbol")
        items = []
        if params.get("category", "linear") != "linear":
            pass  # only linear contracts are simulated: other categories have no positions
        elif symbol:
            base = _base_of(market, symbol)
            for idx in acc.position_indexes():
                items.append(self._position(acc.position(base, idx), market, acc))
        else:
            for pos in acc.positions.values():
                if pos.size > 0:
                    items.append(self._position(pos, market, acc))
        return {"category": "linear", "list": items, "nextPageCursor": ""}

    def set_leverage(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        lev = to_float(params.get("buyLeverage"))
        if lev is None:
            raise SimError(SimErrorKind.BAD_PARAM, "buyLeverage required")
        acc.set_leverage(base, lev)
        return {}

    def set_margin_mode(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        mode = params.get("setMarginMode")
        if mode not in ("ISOLATED_MARGIN", "REGULAR_MARGIN"):
            raise SimError(SimErrorKind.BAD_PARAM, "setMarginMode invalid")
        try:
            acc.set_isolated(None, mode == "ISOLATED_MARGIN")
        except SimError as exc:
            if exc.kind is not SimErrorKind.MARGIN_MODE_NOT_MODIFIED:  # the account mode is simply set again
                raise
        return {"reasons": []}

    def switch_isolated(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        acc.set_isolated(base, str(params.get("tradeMode")) == "1")
        return {}

    def switch_mode(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        mode = str(params.get("mode"))
        if mode not in ("0", "3"):
            raise SimError(SimErrorKind.BAD_PARAM, "mode invalid")
        acc.set_hedge_mode(mode == "3")
        return {}

    def trading_stop(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        """Set or clear ("0") the position's take-profit / stop-loss (tpslMode Full)."""
        base = _base_of(market, params.get("symbol", ""))
        pos = acc.position(base, int(params.get("positionIdx") or 0))
        if pos.size <= 0:
            raise SimError(SimErrorKind.BAD_PARAM, "can not set tp/sl/ts for zero position")
        last = market.price(base)
        long = pos.side == "Buy"
        for name in ("takeProfit", "stopLoss"):
            if name not in params:
                continue
            value = to_float(params[name]) or None
            if value is not None:
                above = value > last
                if (name == "takeProfit") != (above == long):
                    raise SimError(SimErrorKind.BAD_PARAM, f"{name} on the wrong side of the last price")
            if name == "takeProfit":
                pos.take_profit = value
            else:
                pos.stop_loss = value
        return {}

    # ---- orders -------------------------------------------------------------------------------------------
    def order_create(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        side = params.get("side")
        otype = params.get("orderType")
        qty = to_float(params.get("qty"))
        if side not in ("Buy", "Sell") or otype not in ("Market", "Limit") or qty is None:
            raise SimError(SimErrorKind.BAD_PARAM, "side, orderType and qty are required")
        order = SimOrder(
            order_id="",
            client_id=str(params.get("orderLinkId") or ""),
            base=base,
            side=side,
            order_type=otype,
            qty=qty,
            price=to_float(params.get("price")) if otype == "Limit" else None,
            position_idx=int(params.get("positionIdx") or 0),
            reduce_only=_truthy(params.get("reduceOnly")),
            created_ms=market.now(),
            take_profit=to_float(params.get("takeProfit")),
            stop_loss=to_float(params.get("stopLoss")),
            trigger_price=to_float(params.get("triggerPrice")),
            time_in_force=str(params.get("timeInForce") or "GTC"),
        )
        if order.trigger_price is not None:
            order.stop_order_type = "Stop"
        acc.place(order, market.price(base), market.now(), market.prices())
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    def order_cancel(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        order = acc.cancel(params.get("orderId"), params.get("orderLinkId"), market.now())
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    def order_amend(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params.get("symbol", ""))
        try:
            order = acc.find(params.get("orderId"), params.get("orderLinkId"))
        except SimError:
            raise SimError(SimErrorKind.ORDER_NOT_FOUND, "order not exists or too late to replace") from None
        if order.base != base:
            raise SimError(SimErrorKind.ORDER_NOT_FOUND, "order not exists or too late to replace")
        if order.status.value not in ("New", "Untriggered"):
            raise SimError(SimErrorKind.ORDER_NOT_FOUND, "order not exists or too late to replace")
        change = OrderChange(
            qty=to_float(params.get("qty")),
            price=to_float(params.get("price")),
            trigger_price=to_float(params.get("triggerPrice")),
            take_profit=to_float(params.get("takeProfit")),
            stop_loss=to_float(params.get("stopLoss")),
        )
        acc.amend(order, change, market.price(base), market.now())
        return {"orderId": order.order_id, "orderLinkId": order.client_id}

    def closed_pnl(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        """One row per closing order: its fills with a closed size, newest first (``closedPnl`` less the close fee)."""
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        start = int(params["startTime"]) if params.get("startTime") else None
        end = int(params["endTime"]) if params.get("endTime") else None
        rows = self.closed_rows(acc, market, base)
        rows = [r for r in rows if (start is None or int(r["updatedTime"]) >= start)
                and (end is None or int(r["updatedTime"]) <= end)]
        rows.sort(key=lambda r: int(r["updatedTime"]), reverse=True)
        limit = min(int(params.get("limit", "50")), 100)
        return {"category": "linear", "list": rows[:limit], "nextPageCursor": ""}

    def order_realtime(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        """Open orders, or any recent order when asked by id/link id (Bybit keeps the last 500)."""
        oid, link = params.get("orderId"), params.get("orderLinkId")
        if oid or link:
            try:
                orders = [acc.find(oid, link)]
            except SimError:
                orders = []
        else:
            base = _base_of(market, params["symbol"]) if params.get("symbol") else None
            orders = acc.open_orders(base)
        orders = _filter_trigger(orders, params)
        return {"category": "linear", "list": [self._order(o, market) for o in orders], "nextPageCursor": ""}

    def order_history(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        oid, link = params.get("orderId"), params.get("orderLinkId")
        orders = [
            o
            for o in acc.orders.values()
            if (base is None or o.base == base) and (not oid or o.order_id == oid) and (not link or o.client_id == link)
        ]
        orders = _filter_trigger(orders, params)
        orders.sort(key=lambda o: o.created_ms, reverse=True)
        limit = int(params.get("limit", "20"))
        rows = [self._order(o, market) for o in orders[:limit]]
        for row in rows:
            del row["marketUnit"]  # live order/history has no marketUnit (ccxt's recording), order/realtime has
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def execution_list(self, params: Params, market: SimMarket, acc: Account) -> dict[str, Any]:
        base = _base_of(market, params["symbol"]) if params.get("symbol") else None
        exec_type = params.get("execType")
        start = int(params["startTime"]) if params.get("startTime") else None
        end = int(params["endTime"]) if params.get("endTime") else None
        rows = [
            e
            for e in acc.executions
            if (base is None or e.base == base)
            and (not exec_type or e.exec_type == exec_type)
            and (start is None or e.ts >= start)
            and (end is None or e.ts <= end)
            and (not params.get("orderId") or e.order_id == params["orderId"])
        ]
        rows.sort(key=lambda e: e.ts, reverse=True)
        limit = min(int(params.get("limit", "50")), 100)
        return {"category": "linear", "list": [self._execution(e, market) for e in rows[:limit]], "nextPageCursor": ""}


def _filter_trigger(orders: list[SimOrder], params: Params) -> list[SimOrder]:
    flt = params.get("orderFilter")
    if flt == "StopOrder":
        return [o for o in orders if o.trigger_price is not None]
    if flt == "Order":
        return [o for o in orders if o.trigger_price is None]
    return orders


def _truthy(value: object) -> bool:
    return str(value).lower() in ("true", "1")


def _base_of(market: SimMarket, symbol: str) -> str:
    for base, inst in market.instruments.items():
        if inst.bybit_symbol == symbol:
            return base
    raise SimError(SimErrorKind.UNKNOWN_SYMBOL, f"symbol {symbol} invalid")
