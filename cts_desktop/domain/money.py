"""Numbers that are money (prices, quantities, balances): exact decimals, read from floats as they print."""

from __future__ import annotations

from decimal import Decimal

Number = Decimal | float | int | str


def dec(value: Number) -> Decimal:
    """The exact decimal of a number as it prints: ``dec(0.1) == Decimal("0.1")`` (not 0.1000000000000000055…);
    strings may carry surrounding blanks."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise TypeError("a bool is not an amount")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        return Decimal(value.strip())
    return Decimal(value)
