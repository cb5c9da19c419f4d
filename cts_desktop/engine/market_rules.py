"""Market precision and limits for the order manager, straight from ccxt's loaded markets.

Sizing (``domain/sizing.py``) gets the market's rules as Decimals (ccxt's floats read as they print, ``0.001`` is
1/1000); the final quantity and prices then go through ccxt's own ``amount_to_precision`` (truncating) and
``price_to_precision`` so what is sent is exactly what the exchange accepts. A quantity reaches ccxt as its decimal
string, never as a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from cts_desktop.domain.money import dec
from cts_desktop.domain.sizing import MarketRules, PrecisionMode
from cts_desktop.exchanges.models import MarketInfo

ZERO = Decimal(0)


def _limit(raw: dict[str, Any], kind: str, bound: str) -> Decimal:
    """``market['limits'][kind][bound]`` as a Decimal (0 when ccxt has none)."""
    value = ((raw.get("limits") or {}).get(kind) or {}).get(bound)
    return ZERO if value is None else dec(value)


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
        return MarketRules(
            amount_precision=dec(info.amount_step if info.amount_step is not None else 0.001),
            precision_mode=self.mode,
            min_amount=dec(info.min_amount or 0),
            min_notional=dec(info.min_cost or 0),
            max_leverage=max(Decimal(1), dec(info.max_leverage or 1)),
            contract_size=dec(raw.get("contractSize") or 1),
            max_amount=_limit(raw, "amount", "max"),
        )

    def amount(self, symbol: str, quantity: Decimal) -> Decimal:
        return Decimal(self.client.amount_to_precision(symbol, format(quantity, "f")))

    def price(self, symbol: str, price: float) -> Decimal:
        return Decimal(str(self.client.price_to_precision(symbol, price)))

    def taker_fee(self, symbol: str, default: float) -> Decimal:
        fee = self.info(symbol).taker_fee
        return Decimal(repr(fee if fee is not None else default))
