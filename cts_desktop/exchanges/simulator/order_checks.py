"""The contract rules a venue checks before it accepts an order, venue-neutral, and each venue's answer to a breach.

Checks, in the order they are made: minimum quantity, quantity step (a quantity off the step is refused, never
truncated), maximum quantity (market orders: the market maximum), minimum/maximum price, price tick, the price band
(a buy may not be priced more than ``PRICE_BAND`` above the last price, a sell not more than ``PRICE_BAND`` below
it; passive prices further away are allowed, as on Bybit), reduce-only with no position to reduce, and the minimum
order value of an opening order. A breach raises :class:`OrderCheckError`; its ``kind`` is the nearest
:class:`SimErrorKind` so a dialect that only knows kinds still answers sensibly, and :func:`venue_error` gives the
venue's own code and text:

* Bybit: the V5 error catalogue (exchange-fixtures bybit/docs/error-codes.json) — 110003 for prices out of range or
  band, 110094 for the minimum value, 110017 for reduce-only with nothing to reduce, 10001 for the parameter errors;
  the quantity limits carry the texts Bybit answers for them (10001 "The number of contracts exceeds minimum/maximum
  limit allowed", as quoted in public issue threads).
* BingX: the swap catalogue (bingx/docs/error-codes.json) has one parameter code, 80014 "Invalid parameter"; the
  minimum amount and no-position answers are BingX's 101400 and 101205.
"""

from __future__ import annotations

from enum import Enum

from cts_desktop.exchanges.simulator.account_errors import SimError, SimErrorKind
from cts_desktop.exchanges.simulator.replay import Instrument

PRICE_BAND = 0.02  # Bybit's riskParameters.priceLimitRatioY for linear perpetuals
MAX_PRICE_TICKS = 19_999_998  # Bybit's maxPrice is this many ticks (BTCUSDT 1999999.80 at tick 0.10)


class OrderCheck(Enum):
    QTY_STEP = "qty_step"
    QTY_MIN = "qty_min"
    QTY_MAX = "qty_max"
    PRICE_TICK = "price_tick"
    PRICE_RANGE = "price_range"
    PRICE_BAND = "price_band"
    REDUCE_ONLY_NO_POSITION = "reduce_only_no_position"
    NOTIONAL_MIN = "notional_min"


KINDS: dict[OrderCheck, SimErrorKind] = {
    OrderCheck.QTY_MIN: SimErrorKind.QTY_TOO_SMALL,
    OrderCheck.NOTIONAL_MIN: SimErrorKind.QTY_TOO_SMALL,
    OrderCheck.REDUCE_ONLY_NO_POSITION: SimErrorKind.REDUCE_ONLY_REJECTED,
}

VENUE_ERRORS: dict[str, dict[OrderCheck, tuple[int, str]]] = {
    "bybit": {
        OrderCheck.QTY_STEP: (10001, "Request parameter error"),
        OrderCheck.QTY_MIN: (10001, "The number of contracts exceeds minimum limit allowed"),
        OrderCheck.QTY_MAX: (10001, "The number of contracts exceeds maximum limit allowed"),
        OrderCheck.PRICE_TICK: (10001, "Request parameter error"),
        OrderCheck.PRICE_RANGE: (110003, "Order price exceeds the allowable range."),
        OrderCheck.PRICE_BAND: (110003, "Order price exceeds the allowable range."),
        OrderCheck.REDUCE_ONLY_NO_POSITION: (110017, "orderQty will be truncated to zero"),
        OrderCheck.NOTIONAL_MIN: (110094, "Order notional value below the lower limit"),
    },
    "bingx": {
        OrderCheck.QTY_STEP: (80014, "Invalid parameter"),
        OrderCheck.QTY_MIN: (101400, "The minimum order amount is not met"),
        OrderCheck.QTY_MAX: (80014, "Invalid parameter"),
        OrderCheck.PRICE_TICK: (80014, "Invalid parameter"),
        OrderCheck.PRICE_RANGE: (80014, "Invalid parameter"),
        OrderCheck.PRICE_BAND: (80014, "Invalid parameter"),
        OrderCheck.REDUCE_ONLY_NO_POSITION: (101205, "No position to close"),
        OrderCheck.NOTIONAL_MIN: (101400, "The minimum order amount is not met"),
    },
}


class OrderCheckError(SimError):
    def __init__(self, check: OrderCheck, message: str) -> None:
        super().__init__(KINDS.get(check, SimErrorKind.BAD_PARAM), message)
        self.check = check


def venue_error(venue: str, check: OrderCheck) -> tuple[int, str]:
    return VENUE_ERRORS[venue][check]


def max_price(inst: Instrument) -> float:
    return MAX_PRICE_TICKS * float(inst.tick_size)


def _on_grid(value: float, step: float) -> bool:
    units = value / step
    return abs(units - round(units)) < 1e-6


def check_quantity(inst: Instrument, qty: float, market_order: bool) -> None:
    step = float(inst.qty_step)
    if qty <= 0 or qty < float(inst.min_qty) - step * 1e-6:
        raise OrderCheckError(OrderCheck.QTY_MIN, f"quantity {qty} below the minimum {inst.min_qty}")
    if not _on_grid(qty, step):
        raise OrderCheckError(OrderCheck.QTY_STEP, f"quantity {qty} is not a multiple of the step {inst.qty_step}")
    limit = float(inst.max_market_qty if market_order else inst.max_qty)
    if qty > limit + step * 1e-6:
        raise OrderCheckError(OrderCheck.QTY_MAX, f"quantity {qty} above the maximum {limit}")


def check_price(inst: Instrument, side: str, price: float, last: float) -> None:
    tick = float(inst.tick_size)
    if price < tick or price > max_price(inst):
        raise OrderCheckError(OrderCheck.PRICE_RANGE, f"price {price} outside [{tick}, {max_price(inst)}]")
    if not _on_grid(price, tick):
        raise OrderCheckError(OrderCheck.PRICE_TICK, f"price {price} is not a multiple of the tick {inst.tick_size}")
    if (side == "Buy" and price > last * (1 + PRICE_BAND)) or (side == "Sell" and price < last * (1 - PRICE_BAND)):
        raise OrderCheckError(OrderCheck.PRICE_BAND, f"{side} price {price} beyond the band around {last}")


def check_reduce_only(reduce_only: bool, closing: bool) -> None:
    if reduce_only and not closing:
        raise OrderCheckError(OrderCheck.REDUCE_ONLY_NO_POSITION, "reduce-only order with no position to reduce")


def check_notional(inst: Instrument, qty: float, price: float, closing: bool) -> None:
    if not closing and qty * price < float(inst.min_notional):
        raise OrderCheckError(OrderCheck.NOTIONAL_MIN, f"order value below the minimum {inst.min_notional}")
