"""The typed settings schema: one definition per setting the product keeps, and the only validation there is.

This is the public face; the definitions live in ``cts_desktop.domain.settings_schema``. The DB store keeps
one row per key holding ``encode_value`` text, the UI builds its editors from ``SETTINGS``, and export/import
runs ``validate_many`` on the whole set before anything is written. Every rejection names the setting (label
and key) and what it allows; nothing is ever clamped. No secret is a setting.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from cts_desktop.domain.settings_schema.cross_field import cross_field_errors_of
from cts_desktop.domain.settings_schema.matrix import (
    MatrixAxes,
    indication_variant_counts,
    matrix_axes,
    matrix_set_count,
)
from cts_desktop.domain.settings_schema.model import (
    SettingDef,
    SettingsValidationErrors,
    SettingType,
    SettingValidationError,
    Tab,
)
from cts_desktop.domain.settings_schema.registry import SETTINGS, SETTINGS_BY_KEY, definition, validate_value
from cts_desktop.domain.settings_schema.validation import decimals_of, describe_allowed

__all__ = [
    "SETTINGS",
    "SETTINGS_BY_KEY",
    "MatrixAxes",
    "SettingDef",
    "SettingType",
    "SettingValidationError",
    "SettingsValidationErrors",
    "Tab",
    "allowed_text",
    "confirmation_for",
    "cross_field_errors",
    "decode_value",
    "default_values",
    "definition",
    "encode_value",
    "groups_of",
    "indication_variant_counts",
    "matrix_axes",
    "matrix_set_count",
    "parse_list_text",
    "settings_of",
    "step_decimals",
    "validate_many",
    "validate_value",
]


def default_values() -> dict[str, object]:
    """A fresh dict of every key → its default (already normalised)."""
    return {defn.key: defn.default for defn in SETTINGS}


def allowed_text(key: str) -> str:
    """What ``key`` accepts, in words (the same text the error messages use)."""
    return describe_allowed(definition(key))


def step_decimals(key: str) -> int:
    """Decimals a numeric editor for ``key`` must show so every grid value is exact (0 for whole numbers)."""
    defn = definition(key)
    if defn.type is SettingType.INT or defn.step is None:
        return 0
    return max(decimals_of(defn.step), decimals_of(defn.minimum or 0.0))


def settings_of(tab: Tab) -> tuple[SettingDef, ...]:
    """The settings shown on ``tab``, in display order."""
    return tuple(defn for defn in SETTINGS if defn.tab is tab)


def groups_of(tab: Tab) -> tuple[str, ...]:
    """The groups of ``tab`` in display order."""
    return tuple(dict.fromkeys(defn.group for defn in SETTINGS if defn.tab is tab))


def cross_field_errors(values: Mapping[str, object]) -> list[SettingValidationError]:
    """Violated cross-field rules (min ≤ max pairs, windows ≤ history length, paired lists, ...).

    Keys ``values`` lacks take their defaults; a value that is itself invalid raises SettingValidationError.
    """
    normalised = {key: validate_value(key, value) for key, value in values.items()}
    return cross_field_errors_of({**default_values(), **normalised})


def _valid_part(values: Mapping[str, object]) -> dict[str, object]:
    """The entries of ``values`` that are known and valid, normalised (stored rows from an older schema may not be)."""
    valid: dict[str, object] = {}
    for key, value in values.items():
        try:
            valid[key] = validate_value(key, value)
        except SettingValidationError:
            continue
    return valid


def validate_many(
    values: Mapping[str, object], *, base: Mapping[str, object] | None = None
) -> dict[str, object]:
    """All of ``values`` normalised, or SettingsValidationErrors listing every problem (all-or-nothing).

    Cross-field rules are checked on ``values`` laid over ``base`` (the stored values for a partial update;
    the defaults when omitted); only rules that involve a key of ``values`` are reported, so an update is never
    refused for a conflict it does not touch.
    """
    normalised: dict[str, object] = {}
    errors: list[SettingValidationError] = []
    for key, value in values.items():
        try:
            normalised[key] = validate_value(key, value)
        except SettingValidationError as error:
            errors.append(error)
    merged = {**default_values(), **_valid_part(base or {}), **normalised}
    given = set(values)
    errors.extend(error for error in cross_field_errors_of(merged) if given.intersection(error.keys))
    if errors:
        raise SettingsValidationErrors(errors)
    return normalised


def encode_value(key: str, value: object) -> str:
    """The JSON text stored in the DB row for ``key`` (the value is validated first; tuples become lists)."""
    normalised = validate_value(key, value)
    return json.dumps(normalised, allow_nan=False, ensure_ascii=False, separators=(",", ":"))


def decode_value(key: str, text: str) -> object:
    """The normalised value from a DB row's JSON text; text that is not JSON or not valid is an error."""
    defn = definition(key)
    try:
        raw = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        shown = repr(text) if len(repr(text)) <= 80 else repr(text)[:77] + "..."
        raise SettingValidationError(
            key, f"{defn.label} ({key}) holds {shown}, which is not JSON; it must be {describe_allowed(defn)}"
        ) from None
    return validate_value(key, raw)


_LIST_SEPARATORS = re.compile(r"[\s,;]+")


def parse_list_text(key: str, text: str) -> object:
    """A SYMBOL_LIST or NUMBER_LIST value typed as text ("BTC, ETH" or "2 4 6"), validated."""
    defn = definition(key)
    if defn.type not in (SettingType.SYMBOL_LIST, SettingType.NUMBER_LIST):
        raise SettingValidationError(key, f"{defn.label} ({key}) is not a list setting")
    items: list[object] = [item for item in _LIST_SEPARATORS.split(text.strip()) if item]
    if defn.type is SettingType.NUMBER_LIST:
        numbers: list[object] = []
        for item in items:
            try:
                numbers.append(float(str(item)))
            except ValueError:
                numbers.append(item)  # validate_value reports it with the allowed range
        items = numbers
    return validate_value(key, items)


def confirmation_for(key: str, old: object, new: object) -> str | None:
    """The confirmation text to show before changing ``key`` from ``old`` to ``new``, or None.

    Switches ask only when being switched off, numbers only when lowered (e.g. a shorter position length
    deletes history), anything else on every real change.
    """
    defn = definition(key)
    if defn.confirm_on_change is None or old == new:
        return None
    if defn.type is SettingType.BOOL:
        return defn.confirm_on_change if old is True and new is False else None
    if defn.type in (SettingType.INT, SettingType.FLOAT) and isinstance(old, (int, float)):
        assert isinstance(new, (int, float))
        return defn.confirm_on_change if new < old else None
    return defn.confirm_on_change
