"""Column types with an explicit rounding rule for money and a portable JSON column.

Money (prices, quantities, fees, PnL, balances) is a :class:`decimal.Decimal` end to end. PostgreSQL stores it as
``NUMERIC(38, 18)``; SQLite has no exact decimal type (its NUMERIC affinity turns values into doubles), so there
it is stored as canonical decimal text. Either way, what is read back equals what was written, digit for digit,
so PnL recomputed from stored rows is reproducible to the cent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from cts_desktop.domain.money import dec

MONEY_SCALE = 18


def to_decimal(value: object) -> Decimal:
    """Exact conversion: floats go through ``repr`` so 0.1 becomes Decimal('0.1'), not its binary expansion
    (:func:`cts_desktop.domain.money.dec`)."""
    if isinstance(value, Decimal | int | float | str):
        return dec(value)
    raise TypeError(f"cannot convert {type(value).__name__} to an amount")


class Money(TypeDecorator[Decimal]):
    """An exact decimal amount (see module docstring)."""

    impl = Numeric(38, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric(38, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: object, dialect: Dialect) -> Any:
        if value is None:
            return None
        amount = to_decimal(value)
        if not amount.is_finite():
            raise ValueError(f"amount must be finite, got {amount}")
        if dialect.name == "sqlite":
            text = format(amount.normalize(), "f")
            return "0" if text in ("-0", "") else text
        return amount

    def process_result_value(self, value: object, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return to_decimal(value)


class JsonText(TypeDecorator[Any]):
    """JSON stored as text on every backend (small documents; never queried by content)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps; SQLite drops the zone, so values are re-stamped as UTC on load."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
