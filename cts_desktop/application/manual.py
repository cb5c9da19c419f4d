"""Manual control from the Dashboard's tables: close one position, close a symbol, cancel one order — each on
the connection's running engine, through its order manager (:mod:`cts_desktop.engine.manual`). The UI asks for a
confirmation first when the position or order is live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from cts_desktop.application.common import TradingAccess

if TYPE_CHECKING:
    from cts_desktop.engine.order_manager import OrderManager

__all__ = ["ManualPart"]


class ManualPart:
    def __init__(self, trading: TradingAccess) -> None:
        self.trading = trading

    def _orders(self, connection_id: str) -> OrderManager:
        from cts_desktop.engine.manual import ManualActionError  # the engine is loaded when one runs

        engine = self.trading.engines().get(connection_id)
        if engine is None or engine.orders is None or engine.state.value not in ("running", "paused"):
            raise ManualActionError("the engine of this connection is not running: start it first (F5)")
        return engine.orders

    async def close_position(self, connection_id: str, position_id: int) -> str:
        """Close one Real position with a reduce-only market order; the order's status."""
        from cts_desktop.engine import manual

        return await manual.close_position(self._orders(connection_id), position_id)

    async def close_symbol(self, connection_id: str, symbol: str) -> int:
        """Close every open position of ``symbol`` on the connection; how many close orders went out."""
        from cts_desktop.engine import manual

        return await manual.close_symbol(self._orders(connection_id), symbol)

    async def cancel_order(self, connection_id: str, order_id: int) -> None:
        from cts_desktop.engine import manual

        await manual.cancel_order(self._orders(connection_id), order_id)
