"""Bybit V5 behaviour of the adapter (see ``venue.py``): orders are found by ``orderLinkId`` on the realtime
endpoint, then in the order history; TP/SL live on the position (``/v5/position/trading-stop``; "0" clears a
level)."""

from __future__ import annotations

from typing import Any

from cts_desktop.exchanges.models import PositionSide
from cts_desktop.exchanges.venue import NotFound, Venue


class BybitVenue(Venue):
    async def find_by_client_id(self, ex: Any, symbol: str, client_id: str) -> dict[str, Any]:
        market = ex.market(symbol)
        request = {"category": "linear", "symbol": market["id"], "orderLinkId": client_id}
        for method in (ex.privateGetV5OrderRealtime, ex.privateGetV5OrderHistory):
            response = await method(request)
            items = (response.get("result") or {}).get("list") or []
            if items:
                return dict(ex.parse_order(items[0], market))
        raise NotFound(client_id)

    async def set_position_tpsl(self, ex: Any, symbol: str, side: PositionSide, take_profit: float | None,
                                stop_loss: float | None, hedged: bool) -> None:
        market = ex.market(symbol)
        idx = 0 if not hedged else (1 if side is PositionSide.LONG else 2)
        await ex.privatePostV5PositionTradingStop(
            {
                "category": "linear",
                "symbol": market["id"],
                "tpslMode": "Full",
                "positionIdx": idx,
                "takeProfit": ex.price_to_precision(symbol, take_profit) if take_profit else "0",
                "stopLoss": ex.price_to_precision(symbol, stop_loss) if stop_loss else "0",
                "tpTriggerBy": "LastPrice",
                "slTriggerBy": "LastPrice",
            }
        )
