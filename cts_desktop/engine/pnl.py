"""Profit and loss of a position from its stored fills — exact (Decimal) and reproducible from the DB rows.

A long position is opened by buys and closed by sells (a short the other way round). Realised PnL counts the
closed quantity at the average entry price; fees of every fill and funding payments are subtracted/added
separately, so ``net = gross - fees + funding`` can be checked against the exchange's account to the cent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class FillRow:
    side: str  # buy | sell
    quantity: Decimal
    price: Decimal
    fee: Decimal


@dataclass(frozen=True, slots=True)
class PositionPnl:
    opened_quantity: Decimal
    closed_quantity: Decimal
    entry_price: Decimal | None
    exit_price: Decimal | None
    gross: Decimal
    fees: Decimal
    funding: Decimal

    @property
    def net(self) -> Decimal:
        return self.gross - self.fees + self.funding

    @property
    def open_quantity(self) -> Decimal:
        return self.opened_quantity - self.closed_quantity

    @property
    def is_closed(self) -> bool:
        return self.opened_quantity > 0 and self.open_quantity <= 0


def position_pnl(direction: str, fills: Iterable[FillRow], funding: Decimal = ZERO) -> PositionPnl:
    opening = "buy" if direction == "long" else "sell"
    sign = 1 if direction == "long" else -1
    open_qty = close_qty = open_value = close_value = fees = ZERO
    for fill in fills:
        fees += fill.fee
        if fill.side == opening:
            open_qty += fill.quantity
            open_value += fill.quantity * fill.price
        else:
            close_qty += fill.quantity
            close_value += fill.quantity * fill.price
    entry = open_value / open_qty if open_qty else None
    exit_ = close_value / close_qty if close_qty else None
    gross = ZERO
    if close_qty and close_qty == open_qty:
        gross = (close_value - open_value) * sign  # exact: no averages involved
    elif entry is not None and exit_ is not None:
        gross = (exit_ - entry) * min(close_qty, open_qty) * sign
    return PositionPnl(open_qty, close_qty, entry, exit_, gross, fees, funding)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT)
