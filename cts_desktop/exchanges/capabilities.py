"""Per-exchange differences in one table, so the adapter has no scattered ``if exchange == ...``: data in the
fields, behaviour in ``venue`` (a :class:`~cts_desktop.exchanges.venue.Venue`, one small class per exchange).

Rate limits default to DOMAIN Part 2 §8.4 (limiter column) and are overridable per connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cts_desktop.exchanges.bingx import BingxVenue
from cts_desktop.exchanges.bybit import BybitVenue
from cts_desktop.exchanges.errors import (
    AuthenticationError,
    AuthProblem,
    CodeMap,
    DuplicateClientIdError,
    InsufficientFundsError,
    InvalidOrderError,
    RateLimitedError,
)
from cts_desktop.exchanges.venue import Venue


@dataclass(frozen=True)
class RateLimit:
    per_second: float
    per_minute: int
    concurrent: int


@dataclass(frozen=True)
class Capabilities:
    exchange_id: str
    position_mode_switch: bool = True
    margin_mode_per_symbol: bool = True
    attached_tpsl: bool = True
    client_order_id_param: str = "clientOrderId"
    cancel_client_id_param: str = "clientOrderId"
    venue: Venue = field(default_factory=Venue)  # finding orders by client id, moving a position's TP/SL
    fetch_order_params: dict[str, Any] = field(default_factory=dict)  # extra parameters of fetch_order
    # codes meaning "already set to that value" for leverage / margin mode / position mode: success for us
    noop_codes: frozenset[str] = frozenset()
    ohlcv_limit: int = 1000
    my_trades_window_ms: int | None = None
    # own fills per request when the exchange pages them (Bybit: the newest 100 at most); None: it answers every
    # fill of the time range (ccxt would cut a limit on the client side only: it is not passed)
    my_trades_page: int | None = None
    rate_limit: RateLimit = field(default_factory=lambda: RateLimit(5, 100, 3))
    ccxt_options: dict[str, Any] = field(default_factory=dict)
    # ccxt "has" flags to switch off: currencies are a private call at load_markets and swaps do not need them
    ccxt_has_off: tuple[str, ...] = ()
    set_leverage_params: dict[str, Any] = field(default_factory=dict)
    error_codes: CodeMap = field(default_factory=dict)
    api_url_suffix: str = ""
    websocket: bool = True
    # ccxt passes Bybit's execFee through as the funding "amount" (positive = paid); we report paid as negative
    funding_paid_positive: bool = False
    # ccxt signs milliseconds() (through nonce()) as the timestamp the exchange checks against its receive window:
    # the measured clock offset is applied through it (exchanges/clock.py)
    nonce_is_timestamp: bool = False

    def with_rate_limit(self, limit: RateLimit | None) -> Capabilities:
        return self if limit is None else replace(self, rate_limit=limit)


BYBIT_CODES: CodeMap = {
    "10002": (AuthenticationError, AuthProblem.CLOCK_SKEW),
    "10003": (AuthenticationError, AuthProblem.BAD_KEY),
    "10004": (AuthenticationError, AuthProblem.BAD_SIGNATURE),
    "10005": (AuthenticationError, AuthProblem.PERMISSION),
    "10010": (AuthenticationError, AuthProblem.IP_NOT_ALLOWED),
    "10006": (RateLimitedError, None),
    "10018": (RateLimitedError, None),
    "110007": (InsufficientFundsError, None),
    "110072": (DuplicateClientIdError, None),
}

BINGX_CODES: CodeMap = {
    "100001": (AuthenticationError, AuthProblem.BAD_SIGNATURE),
    "100412": (AuthenticationError, AuthProblem.BAD_SIGNATURE),
    "100413": (AuthenticationError, AuthProblem.BAD_KEY),
    "100419": (AuthenticationError, AuthProblem.IP_NOT_ALLOWED),
    # ccxt files 100421 under BadSymbol; BingX documents it as "Timestamp mismatch".
    "100421": (AuthenticationError, AuthProblem.CLOCK_SKEW),
    "100004": (AuthenticationError, AuthProblem.PERMISSION),
    "100410": (RateLimitedError, None),
    "101204": (InsufficientFundsError, None),
    "101253": (InsufficientFundsError, None),
    "80018": (InvalidOrderError, None),  # "Order already filled" (also answered for a finished order)
    "109201": (DuplicateClientIdError, None),
    "101209": (DuplicateClientIdError, None),
}

CAPABILITIES: dict[str, Capabilities] = {
    "bybit": Capabilities(
        exchange_id="bybit",
        margin_mode_per_symbol=False,  # a unified account has one margin mode for every symbol (set-margin-mode)
        client_order_id_param="clientOrderId",
        cancel_client_id_param="orderLinkId",
        venue=BybitVenue(),
        # ccxt refuses bybit fetch_order (it sees only the newest 500 orders) unless that is acknowledged
        fetch_order_params={"acknowledged": True},
        noop_codes=frozenset({"110043", "110025", "110026", "34040"}),
        ohlcv_limit=1000,
        my_trades_window_ms=7 * 24 * 3600 * 1000,
        my_trades_page=100,
        rate_limit=RateLimit(10, 120, 5),
        # Only linear markets: skips spot/inverse/option instrument pages at load_markets (ENVIRONMENT-NOTES).
        ccxt_options={"defaultType": "swap", "defaultSubType": "linear", "fetchMarkets": {"types": ["linear"]}},
        error_codes=BYBIT_CODES,
        ccxt_has_off=("fetchCurrencies",),
        funding_paid_positive=True,
        nonce_is_timestamp=True,
    ),
    "bingx": Capabilities(
        exchange_id="bingx",
        margin_mode_per_symbol=True,
        client_order_id_param="clientOrderId",
        venue=BingxVenue(),
        ohlcv_limit=1440,
        my_trades_window_ms=7 * 24 * 3600 * 1000,
        rate_limit=RateLimit(5, 100, 3),
        ccxt_options={"defaultType": "swap"},
        set_leverage_params={"side": "BOTH"},
        error_codes=BINGX_CODES,
        ccxt_has_off=("fetchCurrencies",),
        api_url_suffix="/openApi",
        nonce_is_timestamp=True,
    ),
}


def capabilities_for(exchange_id: str) -> Capabilities:
    """The table row for ``exchange_id``; any other ccxt exchange gets conservative generic defaults."""
    return CAPABILITIES.get(exchange_id) or Capabilities(exchange_id=exchange_id, ccxt_options={"defaultType": "swap"})
