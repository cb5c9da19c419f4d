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
    "indications.activity.check_interval_s", "Activity check interval", 1, 1, 10, 1, unit="s",
    help="How often the activity state is re-evaluated.",
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
_b.integer(
    "indications.direction.interval_ms", "Direction interval", 100, 50, 5000, 50, unit="ms",
    help="Recalculation period of Direction.",
)

_b.group("Move")
_b.flag("indications.move.enabled", "Move enabled", True, help="Continuation over R steps without a reversal.")
_int_range("indications.move.range", "Move range", 3, 30, 1, (3, 30), "step count R", unit="steps")
_b.integer(
    "indications.move.interval_ms", "Move interval", 100, 50, 5000, 50, unit="ms",
    help="Recalculation period of Move.",
)

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
_b.integer(
    "indications.active.interval_ms", "Active interval", 100, 50, 5000, 50, unit="ms",
    help="Recalculation period of Active.",
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
_b.integer(
    "indications.optimal.interval_ms", "Optimal interval", 1000, 50, 5000, 50, unit="ms",
    help="Recalculation period of Optimal.",
)

_b.group("Common indicators")
_b.choice(
    "indications.common.candle_timeframe_s", "Candle size", 60,
    [(60, "1 min"), (300, "5 min"), (900, "15 min"), (3600, "1 h")], unit="s",
    help="OHLC candles built from the price stream that the common indicators are computed on.",
)
_b.decimal(
    "indications.common.side_threshold", "Side strength threshold", 0.3, 0.05, 1.0, 0.05,
    help="A side wins when its mean strength over the enabled indicators exceeds this and the other side.",
)
_b.decimal(
    "indications.common.min_combined_strength", "Minimum combined strength", 0.5, 0.05, 1.0, 0.05,
    help="The Preset engine acts only when the winning side's combined strength exceeds this.",
)


def _indicator(name: str, title: str, enabled: bool, what: str) -> None:
    _b.flag(f"indications.{name}.enabled", f"{title} enabled", enabled, help=what)


_indicator("rsi", "RSI", True, "Wilder RSI: below oversold → long, above overbought → short.")
_b.integer("indications.rsi.period", "RSI period", 14, 2, 100, 1, unit="bars", help="Wilder smoothing period.")
_b.integer("indications.rsi.oversold", "RSI oversold", 30, 5, 50, 5, help="Long below this RSI.")
_b.integer("indications.rsi.overbought", "RSI overbought", 70, 50, 95, 5, help="Short above this RSI.")

_indicator("macd", "MACD", True, "EMA-based MACD with a real signal line: histogram sign gives the side.")
_b.integer("indications.macd.fast", "MACD fast period", 12, 2, 50, 1, unit="bars", help="Fast EMA period.")
_b.integer("indications.macd.slow", "MACD slow period", 26, 3, 100, 1, unit="bars", help="Slow EMA period.")
_b.integer("indications.macd.signal", "MACD signal period", 9, 2, 50, 1, unit="bars", help="Signal EMA period.")

_indicator("bollinger", "Bollinger", True, "Position in the band: lower fifth → long, upper fifth → short.")
_b.integer("indications.bollinger.period", "Bollinger period", 20, 5, 100, 1, unit="bars", help="SMA period.")
_b.decimal(
    "indications.bollinger.std_dev", "Bollinger width", 2.0, 0.5, 4.0, 0.1, unit="σ",
    help="Band distance in standard deviations.",
)

_indicator("ema", "EMA cross", True, "Short EMA crossing the long EMA gives the side.")
_b.integer("indications.ema.short", "EMA short period", 9, 2, 100, 1, unit="bars", help="Short EMA period.")
_b.integer("indications.ema.long", "EMA long period", 21, 3, 200, 1, unit="bars", help="Long EMA period.")

_indicator("sma", "SMA cross", True, "Short SMA crossing the long SMA gives the side.")
_b.integer("indications.sma.short", "SMA short period", 10, 2, 100, 1, unit="bars", help="Short SMA period.")
_b.integer("indications.sma.long", "SMA long period", 50, 3, 200, 1, unit="bars", help="Long SMA period.")

_indicator("stochastic", "Stochastic", True, "%K/%D below oversold → long, above overbought → short.")
_b.integer("indications.stochastic.k", "Stochastic %K period", 14, 2, 50, 1, unit="bars", help="%K lookback.")
_b.integer("indications.stochastic.d", "Stochastic %D period", 3, 1, 10, 1, unit="bars", help="%D smoothing.")
_b.integer(
    "indications.stochastic.slowing", "Stochastic slowing", 3, 1, 10, 1, unit="bars", help="%K slowing.",
)
_b.integer("indications.stochastic.oversold", "Stochastic oversold", 20, 5, 50, 5, help="Long below this.")
_b.integer("indications.stochastic.overbought", "Stochastic overbought", 80, 50, 95, 5, help="Short above this.")

_indicator("adx", "ADX", True, "Wilder ADX: +DI vs −DI gives the side when ADX is above the threshold.")
_b.integer("indications.adx.period", "ADX period", 14, 2, 50, 1, unit="bars", help="Wilder smoothing period.")
_b.integer("indications.adx.threshold", "ADX threshold", 25, 10, 50, 1, help="Minimum ADX for a trend signal.")

_indicator("atr", "ATR", False, "Wilder ATR: volatility only, it gives no side.")
_b.integer("indications.atr.period", "ATR period", 14, 2, 50, 1, unit="bars", help="Wilder smoothing period.")
_b.decimal(
    "indications.atr.multiplier", "ATR multiplier", 1.5, 0.5, 5.0, 0.1, unit="×", help="Band width in ATRs.",
)

_indicator("sar", "Parabolic SAR", False, "Price above the SAR → long, below → short.")
_b.decimal(
    "indications.sar.acceleration", "SAR acceleration", 0.02, 0.005, 0.1, 0.005,
    help="Initial and incremental acceleration factor.",
)
_b.decimal("indications.sar.maximum", "SAR maximum", 0.2, 0.05, 1.0, 0.05, help="Maximum acceleration factor.")

INDICATION_SETTINGS = _b.build()
