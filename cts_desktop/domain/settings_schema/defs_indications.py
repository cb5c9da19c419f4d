"""Indications tab: the market-activity gate, the step-based Main indications (Direction, Move, Active,
Optimal) with their parameter ranges, and the common indicators of the Preset engine
(DOMAIN Part 1 §7–§8; Part 2 §3.5–3.7, §9.3–9.4)."""

from __future__ import annotations

from cts_desktop.domain.settings_schema.builder import TabBuilder
from cts_desktop.domain.settings_schema.model import Tab

_b = TabBuilder(Tab.INDICATIONS)


def _int_range(
    prefix: str, label: str, low: int, high: int, step: int, defaults: tuple[int, int], what: str, unit: str = "",
) -> None:
    """A (min, max) pair of INT settings; every value of the grid between them is one indication variant."""
    for end, default in (("min", defaults[0]), ("max", defaults[1])):
        _b.integer(
            f"{prefix}_{end}", f"{label} {end}imum", default, low, high, step, unit=unit,
            help=f"{'Smallest' if end == 'min' else 'Largest'} {what} tested; each value in between is a variant.",
        )


def _float_range(
    prefix: str, label: str, low: float, high: float, step: float, defaults: tuple[float, float], what: str,
) -> None:
    """A (min, max) pair of FLOAT settings; every value of the grid between them is one indication variant."""
    for end, default in (("min", defaults[0]), ("max", defaults[1])):
        _b.decimal(
            f"{prefix}_{end}", f"{label} {end}imum", default, low, high, step,
            help=f"{'Smallest' if end == 'min' else 'Largest'} {what} tested; each value in between is a variant.",
        )


_b.group("Market activity")
_b.flag(
    "indications.activity.enabled", "Market-activity gate", True,
    help="Main indications fire only while the market-activity state of the symbol is ACTIVE.",
)
_b.integer(
    "indications.activity.calculation_range_s", "Activity calculation range", 10, 5, 20, 1, unit="s",
    help="Window of 1-second changes the activity measures (and the Active indication) look at.",
)
_b.integer(
    "indications.activity.pc_ratio_index", "Activity factor", 2, 1, 20, 1,
    help="Required mean absolute 1-second change = 0.05 × this × position cost.",
)
_b.decimal(
    "indications.activity.min_volatility_pct", "Minimum volatility", 0.05, 0.01, 1.0, 0.01, unit="%",
    help="Standard deviation of 1-second changes the window must also reach.",
)
_b.decimal(
    "indications.activity.min_price_change_pct", "Minimum price change", 0.1, 0.01, 1.0, 0.01, unit="%",
    help="Price range over the window below which the market counts as idle.",
)
_b.decimal(
    "indications.activity.activation_pct", "Activation threshold", 0.2, 0.01, 2.0, 0.01, unit="%",
    help="Activity at or above this makes the state ACTIVE.",
)
_b.decimal(
    "indications.activity.deactivation_pct", "Deactivation threshold", 0.05, 0.01, 2.0, 0.01, unit="%",
    help="Activity below this makes the state PAUSED; in between it stays MONITORING (hysteresis).",
)

_b.group("Main indications")
_b.integer(
    "indications.min_calculation_time_s", "Minimum calculation time", 3, 1, 60, 1, unit="s",
    help="Per-second samples needed before an indication may validate.",
)
_b.integer(
    "indications.last_part_pct", "Last part", 20, 10, 50, 5, unit="%",
    help="Newest share of the calculation window used for the last-part (acceleration) checks.",
)

_b.group("Direction")
_b.integer(
    "indications.max_variants_per_symbol", "Indication variants per symbol", 16, 1, 400, 1,
    help="Each indication variant that fires holds every set of the exit matrix (about 9 MB per variant with the "
    "default matrix and position length); variants beyond this many per symbol are not tracked.",
)
_b.flag("indications.direction.enabled", "Direction enabled", True, help="Reversal after R steps one way.")
_int_range("indications.direction.range", "Direction range", 3, 30, 1, (3, 30), "step count R", unit="steps")

_b.group("Move")
_b.flag("indications.move.enabled", "Move enabled", True, help="Continuation over R steps without a reversal.")
_int_range("indications.move.range", "Move range", 3, 30, 1, (3, 30), "step count R", unit="steps")

_b.group("Active")
_b.flag(
    "indications.active.enabled", "Active enabled", True,
    help="Fires when enough 1-second frames of the window are active; direction = net direction.",
)
_int_range(
    "indications.active.range", "Active range", 1, 10, 1, (1, 10),
    "activity ratio index r (frame active if |change| ≥ (0.1 + (r−1)·0.1556) × position cost)",
)
_int_range(
    "indications.active.calculated_pct", "Active share (whole window)", 10, 90, 10, (10, 90),
    "share of active frames in the whole window", unit="%",
)
_int_range(
    "indications.active.last_part_pct", "Active share (last part)", 10, 90, 10, (10, 90),
    "share of active frames in the last part of the window", unit="%",
)

_b.group("Optimal")
_b.flag(
    "indications.optimal.enabled", "Optimal enabled", False,
    help="Direction plus the market-change and drawdown filters; multiplies the variants per range.",
)
_int_range("indications.optimal.range", "Optimal range", 3, 30, 1, (3, 30), "step count R", unit="steps")
_float_range(
    "indications.optimal.drawdown_ratio", "Optimal drawdown ratio", 0.1, 0.5, 0.1, (0.1, 0.5),
    "tolerated retracement (× move size)",
)
_int_range(
    "indications.optimal.market_change", "Optimal market change range", 1, 9, 2, (1, 9),
    "market change range v (required mean change (0.1 + (v−1)·0.1556) × position cost)",
)
_float_range(
    "indications.optimal.last_part_ratio", "Optimal last-part ratio", 1.0, 2.5, 0.5, (1.0, 2.5),
    "acceleration ratio (last-part mean change ÷ overall mean change)",
)

_b.group("Common indicators")
_b.choice(
    "indications.common.candle_timeframe_s", "Candle size", 60,
    [(60, "1 min"), (300, "5 min"), (900, "15 min"), (3600, "1 h")], unit="s",
    help="OHLC candles built from the price stream that the common indicators are computed on. Their parameters "
    "are chosen per configuration set in the Strategies tab.",
)


INDICATION_SETTINGS = _b.build()
