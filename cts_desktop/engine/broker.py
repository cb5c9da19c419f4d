"""What the order manager needs from whoever executes orders: the live exchange adapter or the paper broker.

Both implement this protocol with the same value objects (``exchanges/models.py``), so paper and live trading go
through exactly the same order path; only the executor differs.
"""

from __future__ import annotations

from typing import Protocol

from cts_desktop.exchanges.models import Balance, FundingPayment, Order, OrderRequest, Position, Trade


class Broker(Protocol):
    async def place_order(self, req: OrderRequest) -> Order: ...

    async def order_by_client_id(self, symbol: str, client_id: str) -> Order: ...

    async def cancel_order(self, symbol: str, order_id: str | None = None, client_id: str | None = None) -> None: ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def positions(self, symbols: list[str] | None = None) -> list[Position]: ...

    async def balance(self, asset: str = "USDT") -> Balance: ...

    async def my_trades(self, symbol: str, since: int | None = None, limit: int | None = None) -> list[Trade]: ...

    async def funding_history(self, symbol: str, since: int | None = None) -> list[FundingPayment]: ...
