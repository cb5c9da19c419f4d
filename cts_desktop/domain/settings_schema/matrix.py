"""The configuration matrix implied by the settings: TP × SL × trailing variants per firing indication variant,
and the number of indication variants per Main indication type (DOMAIN Part 1 §3, Part 2 §2.2).

The UI shows these counts before a change is applied, so the user sees what narrowing an axis buys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cts_desktop.domain.settings_schema.model import SettingValidationError
from cts_desktop.domain.settings_schema.registry import SETTINGS_BY_KEY, validate_value


@dataclass(frozen=True, slots=True)
class MatrixAxes:
    """The axes of the Main configuration matrix; a trailing variant of None is the plain TP/SL variant."""

    tp_factors: tuple[float, ...]
    sl_ratios: tuple[float, ...]
    trailing: tuple[tuple[float, float] | None, ...]

    @property
    def set_count(self) -> int:
        return len(self.tp_factors) * len(self.sl_ratios) * len(self.trailing)


def resolved(values: Mapping[str, object], key: str) -> object:
    """The validated value of ``key`` from ``values``, or its default when ``values`` does not hold it."""
    if key in values:
        return validate_value(key, values[key])
    return SETTINGS_BY_KEY[key].default


def trailing_pairs(values: Mapping[str, object]) -> tuple[tuple[float, float], ...]:
    """(start, stop) pairs of the Main matrix, paired by position; unequal lengths are an error."""
    starts = resolved(values, "strategy.trailing_starts")
    stops = resolved(values, "strategy.trailing_stops")
    assert isinstance(starts, tuple) and isinstance(stops, tuple)
    if len(starts) != len(stops):
        start_def = SETTINGS_BY_KEY["strategy.trailing_starts"]
        stop_def = SETTINGS_BY_KEY["strategy.trailing_stops"]
        raise SettingValidationError(
            stop_def.key,
            f"{stop_def.label} ({stop_def.key}) must have as many values as {start_def.label} "
            f"({start_def.key}) — they pair up by position — got {len(stops)} stops for {len(starts)} starts",
            related=(start_def.key,),
        )
    return tuple(zip(starts, stops, strict=True))


def matrix_axes(values: Mapping[str, object]) -> MatrixAxes:
    """The Main matrix axes for ``values`` (missing keys take their defaults)."""
    tp = resolved(values, "strategy.tp_factors")
    sl = resolved(values, "strategy.sl_ratios")
    assert isinstance(tp, tuple) and isinstance(sl, tuple)
    trailing_on = resolved(values, "strategy.trailing_enabled") is True
    only = resolved(values, "strategy.trailing_only") is True
    variants: list[tuple[float, float] | None] = []
    if not (trailing_on and only):
        variants.append(None)
    if trailing_on:
        variants.extend(dict.fromkeys(trailing_pairs(values)))  # a repeated pair is one configuration
    return MatrixAxes(tuple(tp), tuple(sl), tuple(variants))


def matrix_set_count(values: Mapping[str, object]) -> int:
    """Configuration sets opened per firing indication variant (924 at the defaults: 11 × 21 × 4)."""
    return matrix_axes(values).set_count


def _grid_count(values: Mapping[str, object], prefix: str) -> int:
    low = resolved(values, f"{prefix}_min")
    high = resolved(values, f"{prefix}_max")
    step = SETTINGS_BY_KEY[f"{prefix}_min"].step
    assert isinstance(low, (int, float)) and isinstance(high, (int, float)) and step is not None
    return max(0, round((high - low) / step) + 1)


def indication_variant_counts(values: Mapping[str, object]) -> dict[str, int]:
    """Indication parameter variants per symbol and direction of each enabled Main indication type."""
    axes = {
        "direction": ("indications.direction.range",),
        "move": ("indications.move.range",),
        "active": (
            "indications.active.range", "indications.active.calculated_pct", "indications.active.last_part_pct",
        ),
        "optimal": (
            "indications.optimal.range", "indications.optimal.drawdown_ratio",
            "indications.optimal.market_change", "indications.optimal.last_part_ratio",
        ),
    }
    counts: dict[str, int] = {}
    for kind, prefixes in axes.items():
        if resolved(values, f"indications.{kind}.enabled") is not True:
            continue
        count = 1
        for prefix in prefixes:
            count *= _grid_count(values, prefix)
        counts[kind] = count
    return counts
