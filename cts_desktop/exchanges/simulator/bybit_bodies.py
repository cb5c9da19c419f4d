"""Bybit V5 response bodies for positions, orders and executions, shaped like the recorded ones.

Field names and string formatting follow ``tests/data/exchange/bybit/responses.json`` (ccxt's recorded bodies).
"""

from __future__ import annotations

from typing import Any

from cts_desktop.exchanges.simulator.account import (
    MAINTENANCE_RATE,
    Account,
    Execution,
    OrderStatus,
    SimOrder,
    SimPosition,
)
from cts_desktop.exchanges.simulator.common import fmt
from cts_desktop.exchanges.simulator.market import SimMarket


class BybitBodies:
    def _position(self, pos: SimPosition, market: SimMarket, acc: Account) -> dict[str, Any]:
        inst = market.instruments[pos.base]
        tick, step = inst.tick_size, inst.qty_step
        mark = market.price(pos.base)
        lev = acc.leverage_of(pos.base)
        sign = 1 if pos.side == "Buy" else -1
        upl = sign * (mark - pos.entry) * pos.size if pos.size else 0.0
        im = pos.size * pos.entry / lev
        acc.value_backing(market.prices())
        return {
            "positionIdx": pos.position_idx,
            "riskId": 1,
            "riskLimitValue": "2000000",
            "symbol": inst.bybit_symbol,
            "side": pos.side if pos.size else "",
            "size": fmt(pos.size, step),
            "avgPrice": fmt(pos.entry, tick) if pos.size else "0",
            "positionValue": fmt(pos.size * pos.entry),
            "tradeMode": 1 if acc.isolated.get(pos.base) else 0,
            "positionStatus": "Normal",
            "autoAddMargin": 0,
            "adlRankIndicator": 2 if pos.size else 0,
            "leverage": fmt(lev),
            "positionBalance": fmt(im),
            "markPrice": fmt(mark, tick),
            "liqPrice": fmt(pos.liquidation_price(lev) or None, tick),  # "" flat or out of reach, as live
            "bustPrice": "",
            "positionMM": fmt(pos.size * pos.entry * MAINTENANCE_RATE),
            "positionIM": fmt(im),
            "tpslMode": "Full",
            "takeProfit": fmt(pos.take_profit, tick, "0"),
            "stopLoss": fmt(pos.stop_loss, tick, "0"),
            "trailingStop": "0",
            "unrealisedPnl": fmt(upl),
            "cumRealisedPnl": fmt(pos.cum_realised),
            "curRealisedPnl": fmt(pos.cum_realised),
            "seq": 1,
            "isReduceOnly": False,
            "mmrSysUpdatedTime": "",  # as live position/list answers (ccxt's recording); the docs example says
            # "mmrSysUpdateTime", the websocket says mmrSysUpdatedTime too
            "leverageSysUpdatedTime": "",
            "sessionAvgPrice": "",
            "createdTime": str(pos.created_ms or market.now()),
            "updatedTime": str(pos.updated_ms or market.now()),
        }

    def _order(self, o: SimOrder, market: SimMarket) -> dict[str, Any]:
        inst = market.instruments[o.base]
        tick, step = inst.tick_size, inst.qty_step
        filled_value = o.filled_qty * o.avg_price
        return {
            "symbol": inst.bybit_symbol,
            "orderType": o.order_type,
            "orderLinkId": o.client_id,
            "slLimitPrice": "0",
            "orderId": o.order_id,
            "cancelType": "UNKNOWN",
            "avgPrice": fmt(o.avg_price, tick) if o.filled_qty else "",
            "stopOrderType": o.stop_order_type,
            "lastPriceOnCreated": fmt(o.last_price_on_create, tick),
            "orderStatus": o.status.value,
            "createType": "CreateByUser" if not o.stop_order_type else f"CreateBy{o.stop_order_type}",
            "takeProfit": fmt(o.take_profit, tick),
            "cumExecValue": fmt(filled_value),
            "tpslMode": "Full" if (o.take_profit or o.stop_loss) else "",
            "smpType": "None",
            "triggerDirection": (1 if o.trigger_rises else 2) if o.trigger_price is not None else 0,
            "blockTradeId": "",
            "isLeverage": "",
            "rejectReason": "EC_NoError",
            "price": fmt(o.price, tick, "0"),
            "orderIv": "",
            "createdTime": str(o.created_ms),
            "tpTriggerBy": "LastPrice" if o.take_profit else "",
            "positionIdx": o.position_idx,
            "timeInForce": "IOC" if o.order_type == "Market" else o.time_in_force,
            "leavesValue": fmt((o.qty - o.filled_qty) * (o.price or 0)) if o.status is OrderStatus.NEW else "0",
            "updatedTime": str(o.updated_ms),
            "side": o.side,
            "smpGroup": 0,
            "triggerPrice": fmt(o.trigger_price, tick),
            "tpLimitPrice": "0",
            "cumExecFee": fmt(o.fee),
            "leavesQty": fmt(o.qty - o.filled_qty, step) if o.status is OrderStatus.NEW else fmt(0, step),
            "slTriggerBy": "LastPrice" if o.stop_loss else "",
            "closeOnTrigger": False,
            "placeType": "",
            "cumExecQty": fmt(o.filled_qty, step),
            "reduceOnly": o.reduce_only,
            "qty": fmt(o.qty, step),
            "stopLoss": fmt(o.stop_loss, tick),
            "marketUnit": "",
            "smpOrderId": "",
            "triggerBy": "LastPrice" if o.trigger_price is not None else "",
        }

    def closed_rows(self, acc: Account, market: SimMarket, base: str | None) -> list[dict[str, Any]]:
        """Closed-PnL rows from the account's fills that closed something, one per order."""
        by_order: dict[str, list[Execution]] = {}
        for e in acc.executions:
            if e.exec_type == "Trade" and e.closed_size > 0 and (base is None or e.base == base):
                by_order.setdefault(e.order_id, []).append(e)
        return [self._closed_row(fills, market, acc) for fills in by_order.values()]

    def _closed_row(self, fills: list[Execution], market: SimMarket, acc: Account) -> dict[str, Any]:
        first, last = fills[0], fills[-1]
        inst = market.instruments[first.base]
        tick, step = inst.tick_size, inst.qty_step
        closed = sum(e.closed_size for e in fills)
        exit_value = sum(e.price * e.closed_size for e in fills)
        sign = 1 if first.side == "Sell" else -1  # a sell closes a long
        entry_value = exit_value - sign * sum(e.realised_pnl for e in fills)
        pnl = sum(e.realised_pnl - e.fee * e.closed_size / e.qty for e in fills)
        return {
            "symbol": inst.bybit_symbol,
            "orderType": first.order_type,
            "leverage": fmt(acc.leverage_of(first.base)),
            "updatedTime": str(last.ts),
            "side": first.side,
            "orderId": first.order_id,
            "closedPnl": fmt(pnl),
            "avgEntryPrice": fmt(entry_value / closed),
            "qty": fmt(first.order_qty, step),
            "cumEntryValue": fmt(entry_value),
            "createdTime": str(first.ts),
            "orderPrice": fmt(first.order_price or first.price, tick),
            "closedSize": fmt(closed, step),
            "avgExitPrice": fmt(exit_value / closed),
            "execType": "Trade",
            "fillCount": str(len(fills)),
            "cumExitValue": fmt(exit_value),
        }

    def _execution(self, e: Execution, market: SimMarket) -> dict[str, Any]:
        inst = market.instruments[e.base]
        tick, step = inst.tick_size, inst.qty_step
        return {
            "symbol": inst.bybit_symbol,
            "orderType": e.order_type,
            "underlyingPrice": "",
            "orderLinkId": e.client_id,
            "orderId": e.order_id,
            "stopOrderType": "UNKNOWN",
            "execTime": str(e.ts),
            "feeCurrency": "",
            "createType": "CreateByUser" if e.exec_type == "Trade" else "",
            "feeRate": fmt(e.fee_rate),
            "tradeIv": "",
            "blockTradeId": "",
            "markPrice": fmt(e.price, tick),
            "execPrice": fmt(e.price, tick),
            "markIv": "",
            "orderQty": fmt(e.order_qty, step),
            "orderPrice": fmt(e.order_price, tick, "0"),
            "execValue": fmt(e.price * e.qty),
            "closedSize": fmt(e.closed_size, step),
            "execType": e.exec_type,
            "seq": 1,
            "side": e.side,
            "indexPrice": "",
            "leavesQty": "0",
            "isMaker": e.is_maker,
            "execFee": fmt(e.fee),
            "execId": e.exec_id,
            "marketUnit": "",
            "execQty": fmt(e.qty, step),
        }
