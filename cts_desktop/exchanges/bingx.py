"""BingX perpetual-swap behaviour of the adapter (see ``venue.py``): orders are found by ``clientOrderId`` on the
order endpoint; TP/SL are separate STOP_MARKET / TAKE_PROFIT_MARKET orders with ``closePosition`` — the old ones
of that position side are cancelled and new ones placed."""

from __future__ import annotations

from typing import Any

from cts_desktop.exchanges import ccxt_lean
from cts_desktop.exchanges.models import PositionSide
from cts_desktop.exchanges.venue import NotFound, Venue

CONDITIONAL_TYPES = {"STOP_MARKET": "stop_loss", "TAKE_PROFIT_MARKET": "take_profit"}


class BingxVenue(Venue):
    async def find_by_client_id(self, ex: Any, symbol: str, client_id: str) -> dict[str, Any]:
        ccxt = ccxt_lean.load("ccxt")
        market = ex.market(symbol)
        try:
            response = await ex.swapV2PrivateGetTradeOrder({"symbol": market["id"], "clientOrderId": client_id})
        except ccxt.OrderNotFound as exc:
            raise NotFound(client_id) from exc
        data = response.get("data") or {}
        order = data.get("order") if isinstance(data, dict) else None
        if not order:
            raise NotFound(client_id)
        return dict(ex.parse_order(order, market))

    async def set_position_tpsl(self, ex: Any, symbol: str, side: PositionSide, take_profit: float | None,
                                stop_loss: float | None, hedged: bool) -> None:
        wanted_side = ("LONG" if side is PositionSide.LONG else "SHORT") if hedged else "BOTH"
        for order in await ex.fetch_open_orders(symbol):
            info = order.get("info") or {}
            if info.get("type") in CONDITIONAL_TYPES and info.get("positionSide") == wanted_side:
                await ex.cancel_order(order["id"], symbol)
        close_side = "sell" if side is PositionSide.LONG else "buy"
        params: dict[str, Any] = {"closePosition": True}
        if hedged:
            params["hedged"] = True
        if take_profit:
            await ex.create_order(symbol, "market", close_side, None, None, {**params, "takeProfitPrice": take_profit})
        if stop_loss:
            await ex.create_order(symbol, "market", close_side, None, None, {**params, "stopLossPrice": stop_loss})
