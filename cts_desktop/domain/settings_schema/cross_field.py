"""Rules that tie settings together (min ≤ max pairs, windows within the history length, paired lists).

Each rule reads a complete, already normalised value set and returns errors whose ``keys`` name every setting
involved, so a partial update is only refused for rules it touches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from itertools import pairwise

from cts_desktop.domain.settings_schema.matrix import trailing_pairs
from cts_desktop.domain.settings_schema.model import SettingValidationError
from cts_desktop.domain.settings_schema.registry import SETTINGS_BY_KEY
from cts_desktop.domain.settings_schema.validation import format_number

Rule = Callable[[Mapping[str, object]], list[SettingValidationError]]

_RANGE_PREFIXES = (
    "indications.direction.range",
    "indications.move.range",
    "indications.active.range",
    "indications.active.calculated_pct",
    "indications.active.last_part_pct",
    "indications.optimal.range",
    "indications.optimal.drawdown_ratio",
    "indications.optimal.market_change",
    "indications.optimal.last_part_ratio",
)

# (lower key, upper key, strictly lower?) — the upper setting is the one reported.
_ORDERED: tuple[tuple[str, str, bool], ...] = (
    *((f"{prefix}_min", f"{prefix}_max", False) for prefix in _RANGE_PREFIXES),
    ("indications.activity.deactivation_pct", "indications.activity.activation_pct", True),
    ("strategy.phase1_count", "strategy.phase2_count", True),
    ("strategy.phase2_count", "system.position_length", False),
    ("strategy.main_window", "system.position_length", False),
    ("strategy.real_window", "system.position_length", False),
    ("strategy.exchange_window", "system.position_length", False),
    ("strategy.production_pause_win_rate", "strategy.production_resume_win_rate", False),
    ("strategy.block_disable_win_rate", "strategy.block_enable_win_rate", True),
    ("monitoring.unhealthy_success_pct", "monitoring.degraded_success_pct", False),
    ("monitoring.degraded_cycle_factor", "monitoring.unhealthy_cycle_factor", False),
)


def _name(key: str) -> str:
    return f"{SETTINGS_BY_KEY[key].label} ({key})"


def _shown(key: str, value: object) -> str:
    unit = SETTINGS_BY_KEY[key].unit
    text = format_number(value) if isinstance(value, float) else str(value)
    return f"{text} {unit}" if unit else text


def _ordered_errors(values: Mapping[str, object]) -> list[SettingValidationError]:
    errors = []
    for low_key, high_key, strict in _ORDERED:
        low, high = values[low_key], values[high_key]
        assert isinstance(low, (int, float)) and isinstance(high, (int, float))
        if high > low or (high == low and not strict):
            continue
        relation = "greater than" if strict else "at least"
        errors.append(
            SettingValidationError(
                high_key,
                f"{_name(high_key)} must be {relation} {_name(low_key)} = {_shown(low_key, low)}, "
                f"got {_shown(high_key, high)}",
                related=(low_key,),
            )
        )
    return errors


def _trailing_errors(values: Mapping[str, object]) -> list[SettingValidationError]:
    try:
        pairs = trailing_pairs(values)
    except SettingValidationError as error:
        return [error]
    errors = []
    if len(set(pairs)) != len(pairs):
        errors.append(
            SettingValidationError(
                "strategy.trailing_stops",
                f"{_name('strategy.trailing_stops')} with {_name('strategy.trailing_starts')} must not repeat a "
                f"(start, stop) pair, got {list(pairs)}",
                related=("strategy.trailing_starts",),
            )
        )
    if values["strategy.trailing_only"] is True and values["strategy.trailing_enabled"] is not True:
        errors.append(
            SettingValidationError(
                "strategy.trailing_only",
                f"{_name('strategy.trailing_only')} needs {_name('strategy.trailing_enabled')} switched on",
                related=("strategy.trailing_enabled",),
            )
        )
    return errors


def _dca_errors(values: Mapping[str, object]) -> list[SettingValidationError]:
    distances = values["strategy.dca_step_distances"]
    sizes = values["strategy.dca_step_sizes"]
    steps = values["strategy.dca_max_steps"]
    assert isinstance(distances, tuple) and isinstance(sizes, tuple) and isinstance(steps, int)
    keys = ("strategy.dca_step_distances", "strategy.dca_step_sizes", "strategy.dca_max_steps")
    errors = []
    if any(later <= earlier for earlier, later in pairwise(distances)):
        errors.append(
            SettingValidationError(
                keys[0], f"{_name(keys[0])} must increase from step to step, got {list(distances)}",
            )
        )
    if len(distances) != len(sizes):
        errors.append(
            SettingValidationError(
                keys[1],
                f"{_name(keys[1])} must have as many values as {_name(keys[0])} — they pair up by position — "
                f"got {len(sizes)} sizes for {len(distances)} distances",
                related=(keys[0],),
            )
        )
    if steps > min(len(distances), len(sizes)):
        errors.append(
            SettingValidationError(
                keys[2],
                f"{_name(keys[2])} must not exceed the number of DCA step distances and sizes "
                f"({min(len(distances), len(sizes))}), got {steps}",
                related=keys[:2],
            )
        )
    return errors


def _symbol_errors(values: Mapping[str, object]) -> list[SettingValidationError]:
    main, forced = values["overall.main_symbols"], values["overall.forced_symbols"]
    if values["overall.use_main_symbols"] is True and not main and not forced:
        return [
            SettingValidationError(
                "overall.use_main_symbols",
                f"{_name('overall.use_main_symbols')} needs at least one symbol in "
                f"{_name('overall.main_symbols')} or {_name('overall.forced_symbols')}",
                related=("overall.main_symbols", "overall.forced_symbols"),
            )
        ]
    return []


RULES: tuple[Rule, ...] = (_ordered_errors, _trailing_errors, _dca_errors, _symbol_errors)


def cross_field_errors_of(complete: Mapping[str, object]) -> list[SettingValidationError]:
    """Every cross-field rule violated by ``complete`` (a value for every key, already normalised)."""
    errors: list[SettingValidationError] = []
    for rule in RULES:
        errors.extend(rule(complete))
    return errors
