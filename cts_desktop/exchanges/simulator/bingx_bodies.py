"""BingX USDT-M perpetual swap response bodies for positions, orders and fills, shaped like the recorded ones
(``tests/data/exchange/bingx``): :class:`BingxBodies` is the part of the dialect (``bingx_api.py``) that renders
the account's objects, as ``bybit_bodies.py`` is Bybit's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cts_desktop.exchanges.simulator.account import Account, Execution, OrderStatus, SimOrder, SimPosition
from cts_desktop.exchanges.simulator.common import fmt, to_float
from cts_desktop.exchanges.simulator.market import SimMarket

Params = dict[str, str]
STATUS = {
    OrderStatus.NEW: "NEW",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELLED",
    OrderStatus.UNTRIGGERED: "NEW",
}


class BingxBodies:
    def _position(self, pos: SimPosition, market: SimMarket, acc: Account) -> dict[str, Any]:
        inst = market.instruments[pos.base]
        mark = market.price(pos.base)
        sign = 1 if pos.side == "Buy" else -1
        lev = acc.leverage_of(pos.base)
        im = pos.size * pos.entry / lev
        upl = sign * (mark - pos.entry) * pos.size
        side = {0: "LONG" if pos.side == "Buy" else "SHORT", 1: "LONG", 2: "SHORT"}[pos.position_idx]
        return {
            "positionId": pos.position_id,
            "symbol": inst.bingx_symbol,
            "currency": "USDT",
            "positionAmt": fmt(pos.size, inst.qty_step),
            "availableAmt": fmt(pos.size, inst.qty_step),
            "positionSide": side,
            "isolated": acc.isolated.get(pos.base, False),
            "avgPrice": fmt(pos.entry, inst.tick_size),
            "initialMargin": fmt(im),
            "leverage": int(lev),
            "unrealizedProfit": fmt(upl),
            "realisedProfit": fmt(pos.cum_realised),
            "liquidationPrice": float(fmt(pos.liquidation_price(lev), inst.tick_size)),
            "pnlRatio": fmt(upl / im if im else 0),
            "maxMarginReduction": "0",
            "riskRate": "0",
            "markPrice": fmt(mark, inst.tick_size),
            "positionValue": fmt(pos.size * mark),
            "onlyOnePosition": not acc.hedge_mode,
            "updateTime": pos.updated_ms,
        }

    def _created(self, o: SimOrder, market: SimMarket) -> dict[str, Any]:
        """The create answer as the venue gives it: the order's identity, no status or fills."""
        full = self._order(o, market)
        return {
            "symbol": full["symbol"],
            "orderId": full["orderId"],
            "side": full["side"],
            "positionSide": full["positionSide"],
            "type": full["type"],
            "clientOrderID": o.client_id,
            "workingType": full["workingType"],
        }

    def _cancel_response(self, o: SimOrder, market: SimMarket) -> dict[str, Any]:
        full = self._order(o, market)
        keep = ("symbol", "orderId", "side", "positionSide", "type", "origQty", "price", "executedQty", "avgPrice",
                "cumQuote", "stopPrice", "profit", "commission", "status", "time", "updateTime", "clientOrderId",
                "leverage", "workingType")
        return {
            "cancelClientOrderId": o.client_id,
            "cancelOrderId": full["orderId"],
            **{k: full[k] for k in keep},
            "onlyOnePosition": o.position_idx == 0,
            "reduceOnly": o.reduce_only,
        }

    @staticmethod
    def _new_order_response(created: dict[str, Any], params: Params) -> dict[str, Any]:
        return {
            "orderId": created["orderId"],
            "symbol": created["symbol"],
            "positionSide": created["positionSide"],
            "side": created["side"],
            "type": created["type"],
            "price": to_float(params.get("price"), 0.0),
            "quantity": to_float(params.get("quantity"), 0.0),
            "stopPrice": to_float(params.get("stopPrice"), 0.0),
            "workingType": created["workingType"],
            "clientOrderId": created["clientOrderID"],
            "timeInForce": params.get("timeInForce", "GTC"),
            "priceRate": to_float(params.get("priceRate"), 0.0),
            "stopLoss": params.get("stopLoss", ""),
            "takeProfit": params.get("takeProfit", ""),
            "reduceOnly": str(params.get("reduceOnly", "")).lower() == "true",
        }

    def _order(self, o: SimOrder, market: SimMarket, request: Params | None = None) -> dict[str, Any]:
        inst = market.instruments[o.base]
        tick, step = inst.tick_size, inst.qty_step
        side = {0: "BOTH", 1: "LONG", 2: "SHORT"}[o.position_idx]
        otype = o.order_type.upper()
        if o.stop_order_type == "StopLoss":
            otype = "STOP_MARKET"
        elif o.stop_order_type == "TakeProfit":
            otype = "TAKE_PROFIT_MARKET"
        return {
            "symbol": inst.bingx_symbol,
            "orderId": int(o.order_id),
            "side": o.side.upper(),
            "positionSide": side,
            "type": otype,
            "origQty": fmt(o.qty, step),
            "price": fmt(o.price, tick, "0"),
            "executedQty": fmt(o.filled_qty, step),
            "avgPrice": fmt(o.avg_price, tick),
            "cumQuote": fmt(o.filled_qty * o.avg_price),
            "stopPrice": fmt(o.trigger_price, tick),
            "profit": "0.0000",
            "commission": fmt(-o.fee),
            "status": STATUS[o.status],
            "time": o.created_ms,
            "updateTime": o.updated_ms,
            "clientOrderId": o.client_id,
            "leverage": f"{int(o.leverage)}X",
            "takeProfit": _attached("TAKE_PROFIT_MARKET", o.take_profit),
            "stopLoss": _attached("STOP_MARKET", o.stop_loss),
            "advanceAttr": 0,
            "positionID": 0,
            "takeProfitEntrustPrice": 0,
            "stopLossEntrustPrice": 0,
            "orderType": "",
            "workingType": "MARK_PRICE",
            "onlyOnePosition": o.position_idx == 0,
            "reduceOnly": o.reduce_only,
            "postOnly": False,
            "stopGuaranteed": False,
            "triggerOrderId": 0,
            "trailingStopRate": 0,
            "trailingStopDistance": 0,
        }

    def _fill(self, e: Execution, market: SimMarket) -> dict[str, Any]:
        inst = market.instruments[e.base]
        iso = datetime.fromtimestamp(e.ts / 1000, tz=UTC)
        return {
            "filledTm": iso.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "volume": fmt(e.qty, inst.qty_step),
            "price": fmt(e.price, inst.tick_size),
            "amount": fmt(e.qty * e.price),
            "commission": fmt(-e.fee),
            "currency": "USDT",
            "orderId": e.order_id,
            "liquidatedPrice": "",
            "liquidatedMarginRatio": "",
            "filledTime": iso.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "clientOrderID": e.client_id,
            "symbol": inst.bingx_symbol,
            "onlyOnePosition": True,
        }


def _attached(kind: str, price: float | None) -> dict[str, Any]:
    """A take-profit or stop-loss attached to an order, as the order's body shows it (empty when none)."""
    return {"type": kind if price else "", "quantity": 0, "stopPrice": price or 0, "price": 0, "workingType": "",
            "StopGuaranteed": "false"}
