"""Find an order by its client id — the step that makes order creation safe to repeat.

Bybit V5 and BingX both answer a direct query by client id (Bybit ``orderLinkId`` on the realtime endpoint,
then order history; BingX ``clientOrderId`` on the order endpoint); ccxt's implicit API methods are used so
signing and error handling stay ccxt's. Other exchanges: scan open and recent closed orders.
"""

from __future__ import annotations

from typing import Any


class NotFound(Exception):
    """Raised (and translated to ``OrderUnknownError`` by the adapter) when no order has the client id."""


async def find_by_client_id(ex: Any, strategy: str, symbol: str, client_id: str) -> dict[str, Any]:
    """The ccxt unified order with ``client_id`` (raises :class:`NotFound`)."""
    market = ex.market(symbol)
    if strategy == "bybit":
        request = {"category": "linear", "symbol": market["id"], "orderLinkId": client_id}
        for method in (ex.privateGetV5OrderRealtime, ex.privateGetV5OrderHistory):
            response = await method(request)
            items = (response.get("result") or {}).get("list") or []
            if items:
                return dict(ex.parse_order(items[0], market))
        raise NotFound(client_id)
    if strategy == "bingx":
        import ccxt

        try:
            response = await ex.swapV2PrivateGetTradeOrder({"symbol": market["id"], "clientOrderId": client_id})
        except ccxt.OrderNotFound as exc:
            raise NotFound(client_id) from exc
        data = response.get("data") or {}
        order = data.get("order") if isinstance(data, dict) else None
        if not order:
            raise NotFound(client_id)
        return dict(ex.parse_order(order, market))
    candidates: list[dict[str, Any]] = list(await ex.fetch_open_orders(symbol))
    if ex.has.get("fetchClosedOrders"):
        candidates += list(await ex.fetch_closed_orders(symbol))
    for order in candidates:
        if order.get("clientOrderId") == client_id:
            return dict(order)
    raise NotFound(client_id)
