"""Per-exchange behaviour that is code rather than data, one small class per exchange (freqtrade's ``bybit.py`` /
``bingx.py`` idea); the capability table (``capabilities.py``) holds an instance per exchange, so the adapter asks
``caps.venue`` and never compares exchange names.

:class:`Venue` is the generic ccxt way, for any exchange with swap markets:

* **find an order by its client id** — the step that makes order creation safe to repeat: scan the open and the
  recent closed orders (raises :class:`NotFound`);
* **move the TP/SL of an open position** — not supported (``NotImplementedError``).

``exchanges/bybit.py`` and ``exchanges/bingx.py`` answer both directly, through ccxt's implicit API methods so
signing and error handling stay ccxt's.
"""

from __future__ import annotations

from typing import Any

from cts_desktop.exchanges.models import PositionSide


class NotFound(Exception):
    """No order has the client id (the adapter translates it to ``OrderUnknownError``)."""


class Venue:
    async def find_by_client_id(self, ex: Any, symbol: str, client_id: str) -> dict[str, Any]:
        """The ccxt unified order with ``client_id`` (raises :class:`NotFound`)."""
        candidates: list[dict[str, Any]] = list(await ex.fetch_open_orders(symbol))
        if ex.has.get("fetchClosedOrders"):
            candidates += list(await ex.fetch_closed_orders(symbol))
        for order in candidates:
            if order.get("clientOrderId") == client_id:
                return dict(order)
        raise NotFound(client_id)

    async def set_position_tpsl(self, ex: Any, symbol: str, side: PositionSide, take_profit: float | None,
                                stop_loss: float | None, hedged: bool) -> None:
        """Replace the exchange-side take-profit / stop-loss of the open ``side`` position (None clears it)."""
        raise NotImplementedError(f"moving position TP/SL is not supported for {ex.id}")
