"""Volume of a live exchange position (Part 1 §9, Part 2 §7) — the only place balance and money enter.

budget   = balance × base VF × connection VF × block factor × DCA step factor ÷ (positions average × risk)
leverage = min(market max, max-leverage setting) when "use maximal leverage", else
           round-half-up(market max × leverage %) capped the same way (at least 1)
quantity = budget ÷ (price × contract size), rounded **down** to the market's lot step — once, exactly.
Below the market's minimum amount or minimum notional: raised to the smallest valid quantity when minimum-volume
enforcement is on (``adjusted`` and a reason, for the volume log), else skipped. Above the market's maximum
amount: capped to it (``adjusted``). Everything arrives as plain values the exchange layer read from ccxt's market
structure; the balance always comes from the exchange.

All of it is exact decimal arithmetic: floats are taken as they print (``0.1`` is 1/10, via ``repr``), and the
number of lot steps is the floor of one exact rational quotient, so a quantity is never above the budget and never
a step short of it (in binary floating point 0.3 ÷ 0.1 is 2.9999999999999996, which floored to 2.999).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import IntEnum
from fractions import Fraction

from cts_desktop.domain.money import Number, dec

# Output arithmetic (quantity × price, ÷ leverage) in a context of its own: ccxt changes the thread's default
# context (rounding half-up, underflow trapped) whenever it formats a number.
_CONTEXT = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


class PrecisionMode(IntEnum):
    """ccxt's ``precisionMode`` constants for the modes the exchanges we support use."""

    DECIMAL_PLACES = 2
    TICK_SIZE = 4


@dataclass(frozen=True, slots=True)
class MarketRules:
    """A market's limits as ccxt reports them (``market['precision']['amount']``, ``limits``...).

    Every number is kept as a :class:`~decimal.Decimal`; floats and strings given here are converted exactly
    (:func:`~cts_desktop.domain.money.dec`)."""

    amount_precision: Decimal  # decimal places (DECIMAL_PLACES) or step size (TICK_SIZE)
    precision_mode: PrecisionMode
    min_amount: Decimal = Decimal(0)
    min_notional: Decimal = Decimal(0)
    max_leverage: Decimal = Decimal(1)
    contract_size: Decimal = Decimal(1)
    max_amount: Decimal = Decimal(0)  # 0: no maximum (ccxt ``limits.amount.max`` is often None)

    def __post_init__(self) -> None:
        for name in ("amount_precision", "min_amount", "min_notional", "max_leverage", "contract_size", "max_amount"):
            object.__setattr__(self, name, dec(getattr(self, name)))
        if self.precision_mode not in (PrecisionMode.DECIMAL_PLACES, PrecisionMode.TICK_SIZE):
            raise ValueError("only decimal-places and tick-size precision modes are supported")
        if self.amount_precision < 0 or (self.precision_mode is PrecisionMode.TICK_SIZE and self.amount_precision == 0):
            raise ValueError("amount precision must be a positive step (or >= 0 decimal places)")
        if self.contract_size <= 0 or self.max_leverage < 1:
            raise ValueError("contract size must be positive and max leverage at least 1")

    @property
    def step(self) -> Decimal:
        if self.precision_mode is PrecisionMode.DECIMAL_PLACES:
            return Decimal(1).scaleb(-int(self.amount_precision))
        return self.amount_precision


@dataclass(frozen=True, slots=True)
class VolumeSettings:
    """Defaults of Part 2 §7."""

    base_volume_factor: float = 1.0
    connection_volume_factor: float = 1.0
    positions_average: int = 50
    risk_percent: float = 20.0  # "Range Percentage (Loss Trigger)"
    use_max_leverage: bool = True
    leverage_percent: float = 100.0
    max_leverage: float = 125.0
    min_volume_enforcement: bool = True


@dataclass(frozen=True, slots=True)
class Sizing:
    quantity: Decimal  # contracts, on the amount grid; 0 when skipped
    calculated_quantity: Decimal  # before the minimum / maximum rule
    notional: Decimal  # quote currency, of ``quantity``
    leverage: int
    margin: Decimal
    adjusted: bool
    skipped: bool
    reason: str
    budget: Decimal = Decimal(0)  # the risk budget (the notional the formula allows), to 60 significant digits


def _q(value: Number) -> Fraction:
    return Fraction(dec(value))


def _floor_steps(amount: Fraction, step: Fraction) -> int:
    return int(amount // step)


def _ceil_steps(amount: Fraction, step: Fraction) -> int:
    return -int(-amount // step)


def round_down(value: Number, step: Decimal) -> Decimal:
    """``value`` down to a multiple of ``step``, exactly (``round_down(0.3, Decimal("0.1")) == Decimal("0.3")``)."""
    return _on_grid(_floor_steps(_q(value), Fraction(step)), step)


def round_up(value: Number, step: Decimal) -> Decimal:
    return _on_grid(_ceil_steps(_q(value), Fraction(step)), step)


def _on_grid(steps: int, step: Decimal) -> Decimal:
    return _CONTEXT.multiply(Decimal(steps), step)


def leverage_for(market: MarketRules, s: VolumeSettings) -> int:
    cap = min(market.max_leverage, dec(s.max_leverage))
    wanted = market.max_leverage if s.use_max_leverage else \
        _CONTEXT.divide(_CONTEXT.multiply(market.max_leverage, dec(s.leverage_percent)), Decimal(100))
    rounded = wanted.to_integral_value(rounding=ROUND_HALF_UP)
    return max(1, int(min(rounded, cap).to_integral_value(rounding=ROUND_FLOOR)))


def risk_budget(balance: Number, settings: VolumeSettings, block_factor: Number = 1,
                dca_step_factor: Number = 1) -> Fraction:
    """The notional one position may have (Part 2 §7 step 2), as an exact fraction."""
    factors = (_q(balance) * _q(settings.base_volume_factor) * _q(settings.connection_volume_factor)
               * _q(block_factor) * _q(dca_step_factor))
    return factors * 100 / (settings.positions_average * _q(settings.risk_percent))


def minimum_quantity(market: MarketRules, unit: Fraction) -> Decimal:
    """The smallest quantity on the grid that meets the market's minimum amount and minimum notional (at least one
    step); ``unit`` is the quote value of one contract."""
    step = Fraction(market.step)
    by_amount = _ceil_steps(Fraction(market.min_amount), step)
    by_notional = _ceil_steps(Fraction(market.min_notional) / unit, step)
    return _on_grid(max(1, by_amount, by_notional), market.step)


def size_position(
    balance: Number,
    price: Number,
    market: MarketRules,
    settings: VolumeSettings,
    block_factor: Number = 1,
    dca_step_factor: Number = 1,
    free_margin: Number | None = None,
) -> Sizing:
    """Quantity for one live position. ``free_margin`` (if known) rejects a position whose margin exceeds it.

    Numbers may be Decimals, ints, strings or floats (floats are read as they print,
    :func:`~cts_desktop.domain.money.dec`)."""
    price_d = dec(price)
    if not (price_d.is_finite() and price_d > 0):
        raise ValueError("price must be positive")
    if settings.positions_average <= 0 or not settings.risk_percent > 0:
        raise ValueError("positions average and risk percent must be positive")
    lev = leverage_for(market, settings)
    zero = Decimal(0)
    balance_d = dec(balance)
    if not (balance_d.is_finite() and balance_d > 0):
        return Sizing(zero, zero, zero, lev, zero, False, True, "no balance reported by the exchange")
    budget = risk_budget(balance_d, settings, block_factor, dca_step_factor)
    step = market.step
    unit = Fraction(price_d) * Fraction(market.contract_size)  # quote value of one contract
    calculated = _on_grid(_floor_steps(budget / unit, Fraction(step)), step)
    minimum = minimum_quantity(market, unit)
    quantity, adjusted, reason = calculated, False, ""
    budget_d = _CONTEXT.divide(Decimal(budget.numerator), Decimal(budget.denominator))
    if market.max_amount > 0 and calculated > market.max_amount:
        capped = round_down(market.max_amount, step)
        quantity, adjusted, reason = capped, True, f"capped from {calculated} to the market maximum {capped}"
        if capped < minimum:
            return Sizing(zero, calculated, zero, lev, zero, False, True, "market maximum below its minimum", budget_d)
    elif calculated < minimum:
        if not settings.min_volume_enforcement:
            return Sizing(zero, calculated, zero, lev, zero, False, True,
                          f"quantity {calculated} below the market minimum {minimum} and enforcement is off", budget_d)
        quantity, adjusted = minimum, True
        reason = f"raised from {calculated} to the market minimum {minimum}"
    value = _CONTEXT.multiply(_CONTEXT.multiply(quantity, price_d), market.contract_size)
    margin = _CONTEXT.divide(value, Decimal(lev))
    if free_margin is not None and margin > dec(free_margin):
        return Sizing(zero, calculated, zero, lev, margin, adjusted, True,
                      f"margin {margin:.8g} exceeds free margin {dec(free_margin):.8g}", budget_d)
    return Sizing(quantity, calculated, value, lev, margin, adjusted, False, reason, budget_d)
