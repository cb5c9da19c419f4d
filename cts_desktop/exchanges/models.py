"""Plain value objects the adapter returns (built from ccxt's unified structures, never raw exchange JSON)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


def _f(value: Any, default: float = 0.0) -> float:
    try:
        return default if value is None else float(value)
    except (TypeError, ValueError):
        return default


def _fo(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Credentials:
    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return "Credentials(<hidden>)"

    def fingerprint(self) -> str:
        """A short digest naming this key pair (not reversible): a test pass or a live-trading grant holds only for
        the keys it was made with."""
        digest = hashlib.sha256(f"{self.api_key}\0{self.secret}\0{self.password or ''}".encode())
        return digest.hexdigest()[:24]


@dataclass(frozen=True)
class MarketInfo:
    symbol: str  # ccxt unified, e.g. "BTC/USDT:USDT"
    exchange_symbol: str
    base: str
    quote: str
    amount_step: float | None
    price_step: float | None
    min_amount: float | None
    min_cost: float | None
    max_leverage: float | None
    taker_fee: float | None
    active: bool

    @staticmethod
    def from_ccxt(m: dict[str, Any]) -> MarketInfo:
        limits = m.get("limits") or {}
        return MarketInfo(
            symbol=m["symbol"],
            exchange_symbol=str(m.get("id")),
            base=str(m.get("base")),
            quote=str(m.get("quote")),
            amount_step=_fo((m.get("precision") or {}).get("amount")),
            price_step=_fo((m.get("precision") or {}).get("price")),
            min_amount=_fo((limits.get("amount") or {}).get("min")),
            min_cost=_fo((limits.get("cost") or {}).get("min")),
            max_leverage=_fo((limits.get("leverage") or {}).get("max")) or _info_leverage(m.get("info") or {}),
            taker_fee=_fo(m.get("taker")),
            active=m.get("active") is not False,
        )


def _info_leverage(info: dict[str, Any]) -> float | None:
    """ccxt leaves some exchanges' leverage cap unparsed (BingX ``maxLongLeverage``): read it from ``info``."""
    for key in ("maxLongLeverage", "maxLeverage"):
        if info.get(key) is not None:
            return _fo(info[key])
    return _fo((info.get("leverageFilter") or {}).get("maxLeverage"))


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: float
    bid: float | None
    ask: float | None
    change_pct_24h: float | None
    quote_volume_24h: float | None
    high_24h: float | None
    low_24h: float | None
    timestamp: int | None

    @staticmethod
    def from_ccxt(t: dict[str, Any]) -> Ticker:
        return Ticker(
            symbol=t["symbol"],
            last=_f(t.get("last") or t.get("close")),
            bid=_fo(t.get("bid")),
            ask=_fo(t.get("ask")),
            change_pct_24h=_fo(t.get("percentage")),
            quote_volume_24h=_fo(t.get("quoteVolume")),
            high_24h=_fo(t.get("high")),
            low_24h=_fo(t.get("low")),
            timestamp=t.get("timestamp"),
        )


@dataclass(frozen=True)
class Balance:
    asset: str
    total: float
    free: float
    used: float


class PositionSide(Enum):
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True)
class Position:
    symbol: str
    side: PositionSide
    contracts: float
    entry_price: float
    mark_price: float | None
    leverage: float | None
    unrealized_pnl: float | None
    margin_mode: str | None
    hedged: bool | None
    take_profit: float | None
    stop_loss: float | None
    liquidation_price: float | None = None

    @staticmethod
    def from_ccxt(p: dict[str, Any]) -> Position:
        return Position(
            symbol=p["symbol"],
            side=PositionSide(p.get("side") or "long"),
            contracts=_f(p.get("contracts")),
            entry_price=_f(p.get("entryPrice")),
            mark_price=_fo(p.get("markPrice")),
            leverage=_fo(p.get("leverage")),
            unrealized_pnl=_fo(p.get("unrealizedPnl")),
            margin_mode=p.get("marginMode"),
            hedged=p.get("hedged"),
            take_profit=_fo(p.get("takeProfitPrice")) or None,
            stop_loss=_fo(p.get("stopLossPrice")) or None,
            liquidation_price=_fo(p.get("liquidationPrice")) or None,
        )


class OrderType(Enum):
    MARKET = "market"
    LIMIT = "limit"


class OrderSide(Enum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class OrderRequest:
    """What the engine asks for. ``client_id`` is mandatory: it is the key that makes creation idempotent."""

    symbol: str
    side: OrderSide
    order_type: OrderType
    amount: float
    client_id: str
    price: float | None = None
    reduce_only: bool = False
    take_profit: float | None = None
    stop_loss: float | None = None
    hedged: bool = False  # hedge mode: ccxt derives the position side from side + reduce_only
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Order:
    id: str
    client_id: str | None
    symbol: str
    side: str
    order_type: str | None
    status: str | None  # ccxt: open / closed / canceled
    amount: float
    filled: float
    average: float | None
    price: float | None
    fee: float | None
    timestamp: int | None
    reduce_only: bool | None

    @staticmethod
    def from_ccxt(o: dict[str, Any]) -> Order:
        fee = o.get("fee") or {}
        return Order(
            id=str(o.get("id")),
            client_id=o.get("clientOrderId") or None,
            symbol=str(o.get("symbol")),
            side=str(o.get("side")),
            order_type=o.get("type"),
            status=o.get("status"),
            amount=_f(o.get("amount")),
            filled=_f(o.get("filled")),
            average=_fo(o.get("average")),
            price=_fo(o.get("price")),
            fee=_fo(fee.get("cost")),
            timestamp=o.get("timestamp"),
            reduce_only=o.get("reduceOnly"),
        )


@dataclass(frozen=True)
class Trade:
    id: str
    order_id: str | None
    symbol: str
    side: str
    price: float
    amount: float
    fee: float | None
    timestamp: int | None
    client_id: str | None = None  # the order's client id where the exchange reports it with the fill

    @staticmethod
    def from_ccxt(t: dict[str, Any]) -> Trade:
        fee = t.get("fee") or {}
        return Trade(
            id=str(t.get("id")),
            order_id=t.get("order"),
            symbol=str(t.get("symbol")),
            side=str(t.get("side")),
            price=_f(t.get("price")),
            amount=_f(t.get("amount")),
            fee=_fo(fee.get("cost")),
            timestamp=t.get("timestamp"),
            client_id=_client_id_of(t),
        )


def _client_id_of(raw: dict[str, Any]) -> str | None:
    """ccxt leaves a fill's client order id in the raw answer: Bybit ``orderLinkId``, BingX ``clientOrderID``."""
    info = raw.get("info") if isinstance(raw.get("info"), dict) else {}
    for value in (raw.get("clientOrderId"), info.get("orderLinkId"), info.get("clientOrderID"),
                  info.get("clientOrderId")):
        if value:
            return str(value)
    return None


_POSITION_SIDE_OF_EXECUTION = {"buy": "long", "sell": "short", "long": "long", "short": "short"}


@dataclass(frozen=True)
class FundingPayment:
    symbol: str
    amount: float  # signed, in the settle currency: negative = paid
    timestamp: int | None
    id: str | None = None  # the exchange's id of the settlement (Bybit execId, BingX tranId)
    side: str | None = None  # "long" / "short" where the exchange names the position charged (Bybit), else None

    @staticmethod
    def from_ccxt(f: dict[str, Any]) -> FundingPayment:
        info = f.get("info") if isinstance(f.get("info"), dict) else {}
        side = _POSITION_SIDE_OF_EXECUTION.get(str(info.get("positionSide") or info.get("side") or "").lower())
        return FundingPayment(symbol=str(f.get("symbol")), amount=_f(f.get("amount")), timestamp=f.get("timestamp"),
                              id=None if f.get("id") in (None, "") else str(f.get("id")), side=side)


@dataclass(frozen=True)
class AccountConfig:
    position_mode: str  # "hedge" / "one-way" / "unknown"
    margin_mode: str  # "cross" / "isolated" / "unknown"
    max_leverage: float | None
