"""Move or clear the exchange-side take-profit / stop-loss of an open position (e.g. when trailing arms).

Bybit V5 keeps TP/SL on the position (``/v5/position/trading-stop``; "0" clears a level). BingX keeps them as
separate STOP_MARKET / TAKE_PROFIT_MARKET orders with ``closePosition``: the old ones of that position side
are cancelled and new ones placed. Other exchanges: not supported (``NotImplementedError``).
"""

from __future__ import annotations

from typing import Any

from cts_desktop.exchanges.models import PositionSide

CONDITIONAL_TYPES = {"STOP_MARKET": "stop_loss", "TAKE_PROFIT_MARKET": "take_profit"}


async def set_position_tpsl(
    ex: Any,
    strategy: str,
    symbol: str,
    side: PositionSide,
    take_profit: float | None,
    stop_loss: float | None,
    hedged: bool,
) -> None:
    market = ex.market(symbol)
    if strategy == "bybit":
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
        return
    if strategy == "bingx":
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
        return
    raise NotImplementedError(f"moving position TP/SL is not supported for {ex.id}")
