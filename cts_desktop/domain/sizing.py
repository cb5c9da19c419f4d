"""Volume of a live exchange position (Part 1 §9, Part 2 §7) — the only place balance and money enter.

notional = balance × base VF × connection VF × block factor × DCA step factor ÷ (positions average × risk)
leverage = min(market max, max-leverage setting) when "use maximal leverage", else
           round-half-up(market max × leverage %) capped the same way (at least 1)
quantity = notional ÷ price ÷ contract size, rounded **down** to the market's amount precision.
Below the market's minimum amount or minimum notional: raised to the smallest valid quantity when minimum-volume
enforcement is on (``adjusted`` and a reason, for the volume log), else skipped. Above the market's maximum
amount: capped to it (``adjusted``). Everything arrives as plain
values the exchange layer read from ccxt's market structure; the balance always comes from the exchange.
Quantities are :class:`~decimal.Decimal` so "0.1 + 0.2" never becomes an order size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from enum import IntEnum


class PrecisionMode(IntEnum):
    """ccxt's ``precisionMode`` constants for the modes the exchanges we support use."""

    DECIMAL_PLACES = 2
    TICK_SIZE = 4


@dataclass(frozen=True, slots=True)
class MarketRules:
    """A market's limits as ccxt reports them (``market['precision']['amount']``, ``limits``...)."""

    amount_precision: float  # decimal places (DECIMAL_PLACES) or step size (TICK_SIZE)
    precision_mode: PrecisionMode
    min_amount: float = 0.0
    min_notional: float = 0.0
    max_leverage: float = 1.0
    contract_size: float = 1.0
    max_amount: float = 0.0  # 0: no maximum (ccxt ``limits.amount.max`` is often None)

    def __post_init__(self) -> None:
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
        return Decimal(repr(self.amount_precision))


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
    calculated_quantity: Decimal  # before the minimum rule
    notional: float  # quote currency, of ``quantity``
    leverage: int
    margin: float
    adjusted: bool
    skipped: bool
    reason: str


def round_down(value: float, step: Decimal) -> Decimal:
    return (Decimal(repr(value)) / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_up(value: float, step: Decimal) -> Decimal:
    return (Decimal(repr(value)) / step).to_integral_value(rounding=ROUND_CEILING) * step


def leverage_for(market: MarketRules, s: VolumeSettings) -> int:
    cap = min(market.max_leverage, s.max_leverage)
    wanted = market.max_leverage * (1.0 if s.use_max_leverage else s.leverage_percent / 100.0)
    return max(1, math.floor(min(math.floor(wanted + 0.5), cap)))


def size_position(
    balance: float,
    price: float,
    market: MarketRules,
    settings: VolumeSettings,
    block_factor: float = 1.0,
    dca_step_factor: float = 1.0,
    free_margin: float | None = None,
) -> Sizing:
    """Quantity for one live position. ``free_margin`` (if known) rejects a position whose margin exceeds it."""
    if not price > 0:
        raise ValueError("price must be positive")
    if settings.positions_average <= 0 or settings.risk_percent <= 0:
        raise ValueError("positions average and risk percent must be positive")
    lev = leverage_for(market, settings)
    zero = Decimal(0)
    if not balance > 0:
        return Sizing(zero, zero, 0.0, lev, 0.0, False, True, "no balance reported by the exchange")
    notional = (
        balance * settings.base_volume_factor * settings.connection_volume_factor * block_factor * dca_step_factor
        / (settings.positions_average * settings.risk_percent / 100.0)
    )
    step = market.step
    unit = price * market.contract_size  # quote value of one contract
    calculated = round_down(notional / unit, step)
    needed = max(market.min_amount, market.min_notional / unit if market.min_notional > 0 else 0.0)
    minimum = round_up(needed, step) if needed > 0 else step
    # a quantity on the grid whose notional is still a hair below the minimum notional moves up one step
    while market.min_notional > 0 and float(minimum) * unit < market.min_notional:
        minimum += step
    quantity, adjusted, reason = calculated, False, ""
    if market.max_amount > 0 and calculated > Decimal(repr(market.max_amount)):
        capped = round_down(market.max_amount, step)
        quantity, adjusted, reason = capped, True, f"capped from {calculated} to the market maximum {capped}"
        if capped < minimum:
            return Sizing(zero, calculated, 0.0, lev, 0.0, False, True, "market maximum below its minimum")
    elif calculated < minimum:
        if not settings.min_volume_enforcement:
            return Sizing(zero, calculated, 0.0, lev, 0.0, False, True,
                          f"quantity {calculated} below the market minimum {minimum} and enforcement is off")
        quantity, adjusted = minimum, True
        reason = f"raised from {calculated} to the market minimum {minimum}"
    value = float(quantity) * unit
    margin = value / lev
    if free_margin is not None and margin > free_margin:
        return Sizing(zero, calculated, 0.0, lev, margin, adjusted, True,
                      f"margin {margin:.8g} exceeds free margin {free_margin:.8g}")
    return Sizing(quantity, calculated, value, lev, margin, adjusted, False, reason)
