"""Market precision and limits for the order manager, straight from ccxt's loaded markets.

Sizing (``domain/sizing.py``) gets the market's rules as plain values; the final quantity and prices then go through
ccxt's own ``amount_to_precision`` (truncating) and ``price_to_precision`` so what is sent is exactly what the
exchange accepts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cts_desktop.domain.sizing import MarketRules, PrecisionMode
from cts_desktop.exchanges.models import MarketInfo


class MarketCatalog:
    def __init__(self, client: Any, markets: dict[str, MarketInfo]) -> None:
        self.client = client
        self.markets = markets
        mode = int(getattr(client, "precisionMode", PrecisionMode.TICK_SIZE))
        self.mode = PrecisionMode(mode) if mode in (2, 4) else PrecisionMode.TICK_SIZE

    def info(self, symbol: str) -> MarketInfo:
        try:
            return self.markets[symbol]
        except KeyError:
            raise KeyError(f"no market {symbol} on this exchange") from None

    def rules(self, symbol: str) -> MarketRules:
        info = self.info(symbol)
        raw = self.client.markets.get(symbol, {}) if getattr(self.client, "markets", None) else {}
        contract = float(raw.get("contractSize") or 1.0)
        return MarketRules(
            amount_precision=float(info.amount_step if info.amount_step is not None else 0.001),
            precision_mode=self.mode,
            min_amount=float(info.min_amount or 0.0),
            min_notional=float(info.min_cost or 0.0),
            max_leverage=max(1.0, float(info.max_leverage or 1.0)),
            contract_size=contract,
        )

    def amount(self, symbol: str, quantity: Decimal) -> Decimal:
        return Decimal(str(self.client.amount_to_precision(symbol, float(quantity))))

    def price(self, symbol: str, price: float) -> Decimal:
        return Decimal(str(self.client.price_to_precision(symbol, price)))

    def taker_fee(self, symbol: str, default: float) -> Decimal:
        fee = self.info(symbol).taker_fee
        return Decimal(repr(fee if fee is not None else default))
