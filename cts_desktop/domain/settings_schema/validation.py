"""Checking and normalising one value against its definition.

Rules that hold for every setting: a value outside its range, off its step grid, of the wrong type, or not
one of its choices is rejected with a message that names the setting (label and key) and what is allowed —
never clamped or coerced silently. ``bool`` is not a number. NaN and infinities are rejected. Float steps
are compared after rounding to the step's decimals, so 0.1 + 0.2 is accepted where 0.3 is on the grid and is
returned as 0.3.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from urllib.parse import parse_qsl, urlsplit

from cts_desktop.domain.settings_schema.model import SettingDef, SettingType, SettingValidationError

# Accepted representation noise, relative (float sums such as 0.1 + 0.2 carry ~1e-16); a typed 0.100001 on a
# 0.01 grid is far above it and is rejected, not snapped.
_GRID_TOLERANCE = 1e-9
_SYMBOL_RE = re.compile(r"[A-Z0-9]{1,20}")
_MAX_SHOWN = 80


def decimals_of(number: float) -> int:
    """Digits after the decimal point in the shortest text of ``number`` (0.05 → 2, 50 → 0)."""
    exponent = Decimal(repr(float(number))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def format_number(number: float, integer: bool = False) -> str:
    """Human text of a bound or step: 50 not 50.0, 0.01 not 1E-2."""
    if integer:
        return str(int(number))
    return format(Decimal(repr(float(number))).normalize(), "f")


def _unit_suffix(defn: SettingDef) -> str:
    if not defn.unit:
        return ""
    return defn.unit if defn.unit.startswith("×") else f" {defn.unit}"  # 125× reads better than 125 ×


def _range_text(defn: SettingDef, integer: bool) -> str:
    assert defn.minimum is not None and defn.maximum is not None
    low = format_number(defn.minimum, integer)
    high = format_number(defn.maximum, integer)
    text = f"between {low} and {high}{_unit_suffix(defn)}"
    if defn.step is not None:
        text += f" in steps of {format_number(defn.step, integer)}"
    return text


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _choice_text(defn: SettingDef) -> str:
    parts = []
    for index, choice in enumerate(defn.choices):
        shown = _show(choice)
        if index < len(defn.choice_labels) and defn.choice_labels[index] != str(choice):
            shown += f" ({defn.choice_labels[index]})"
        parts.append(shown)
    return "one of " + ", ".join(parts)


def _items_text(defn: SettingDef, noun: str) -> str:
    if defn.max_items is None:
        return f"a list of at least {defn.min_items} {noun}"
    return f"a list of {defn.min_items} to {defn.max_items} {noun}"


def describe_allowed(defn: SettingDef) -> str:
    """What the setting accepts, in words, as used in every error message and as UI help."""
    kind = defn.type
    if kind is SettingType.INT:
        return _range_text(defn, integer=True)
    if kind is SettingType.FLOAT:
        return _range_text(defn, integer=False)
    if kind is SettingType.BOOL:
        return "true or false"
    if kind is SettingType.CHOICE:
        return _choice_text(defn)
    if kind is SettingType.TEXT:
        base = f"a text of at most {format_number(defn.maximum or 0, True)} characters"
        rule = TEXT_FORMATS.get(defn.text_format)
        return f"{base}: {rule[1]}" if rule else base
    if kind is SettingType.SYMBOL_LIST:
        return _items_text(defn, "base assets (letters and digits, e.g. BTC)")
    return _items_text(defn, "numbers") + f", each {_range_text(defn, integer=False)}"


def _error(defn: SettingDef, got: str, prefix: str = "") -> SettingValidationError:
    allowed = describe_allowed(defn)
    return SettingValidationError(defn.key, f"{defn.label} ({defn.key}) must be {prefix}{allowed}, got {got}")


def _type_error(defn: SettingDef, value: object, phrase: str) -> SettingValidationError:
    return _error(defn, f"{type(value).__name__} {_show(value)}", prefix=phrase)


def _is_real_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(defn: SettingDef, value: object) -> int:
    # numbers.Integral admits numpy integers; bool is an int subclass but never a number here.
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise _type_error(defn, value, "a whole number ")
    value = int(value)
    assert defn.minimum is not None and defn.maximum is not None
    low, high = int(defn.minimum), int(defn.maximum)
    step = int(defn.step) if defn.step is not None else 1
    if not low <= value <= high or (value - low) % step != 0:
        raise _error(defn, _show(value))
    return value


def snap_to_grid(defn: SettingDef, number: float) -> float | None:
    """``number`` rounded to the step's decimals if it lies on the grid within representation noise, else None."""
    if defn.step is None:
        return number
    assert defn.minimum is not None
    digits = max(decimals_of(defn.step), decimals_of(defn.minimum))
    rounded = round(number, digits)
    if abs(rounded - number) > _GRID_TOLERANCE * max(1.0, abs(number)):
        return None
    steps = (rounded - defn.minimum) / defn.step
    if abs(steps - round(steps)) > _GRID_TOLERANCE * max(1.0, abs(steps)):
        return None
    return rounded


def _check_number(defn: SettingDef, value: object) -> float | None:
    """Normalised float for an in-range, on-grid number, else None (the caller words the error)."""
    if not _is_real_number(value):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except OverflowError:
        return None
    assert defn.minimum is not None and defn.maximum is not None
    noise = _GRID_TOLERANCE * max(1.0, abs(number)) if math.isfinite(number) else 0.0
    if not defn.minimum - noise <= number <= defn.maximum + noise:  # also rejects NaN and infinities
        return None
    snapped = snap_to_grid(defn, number)
    if snapped is None:
        return None
    digits = max(decimals_of(defn.step or 1.0), decimals_of(defn.minimum), decimals_of(defn.maximum))
    if not round(defn.minimum, digits) <= snapped <= round(defn.maximum, digits):
        return None
    return snapped


def _check_float(defn: SettingDef, value: object) -> float:
    if not _is_real_number(value):
        raise _type_error(defn, value, "a number ")
    result = _check_number(defn, value)
    if result is None:
        raise _error(defn, _show(value))
    return result


def _check_bool(defn: SettingDef, value: object) -> bool:
    if not isinstance(value, bool):
        raise _type_error(defn, value, "")
    return value


def _check_choice(defn: SettingDef, value: object) -> object:
    for choice in defn.choices:
        if type(choice) is type(value) and choice == value:
            return choice
    raise _error(defn, f"{type(value).__name__} {_show(value)}")


def _check_database_url(text: str) -> str | None:
    """Problem with a database URL, or None; a password must never be part of a setting."""
    if text == "":
        return None
    parts = urlsplit(text)
    if parts.scheme not in {"sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg"}:
        return "an unsupported URL scheme"
    if parts.password is not None or any(name.lower() == "password" for name, _ in parse_qsl(parts.query)):
        return "a URL containing a password"
    if parts.scheme.startswith("postgresql") and not parts.hostname:
        return "a PostgreSQL URL without a host"
    return None


TEXT_FORMATS: dict[str, tuple[Callable[[str], str | None], str]] = {
    "database_url": (
        _check_database_url,
        "empty (the embedded SQLite database) or an sqlite:// or postgresql[+psycopg]:// URL without a password",
    ),
}


def _check_text(defn: SettingDef, value: object) -> str:
    if not isinstance(value, str):
        raise _type_error(defn, value, "")
    text = value.strip()
    if defn.maximum is not None and len(text) > defn.maximum:
        raise _error(defn, f"a text of {len(text)} characters")
    if any(ord(char) < 32 for char in text):
        raise _error(defn, "a text with control characters")
    rule = TEXT_FORMATS.get(defn.text_format)
    if rule is not None:
        problem = rule[0](text)
        if problem is not None:
            raise _error(defn, problem)
    return text


def _check_items(defn: SettingDef, value: object) -> Sequence[object]:
    if not isinstance(value, (list, tuple)):
        raise _type_error(defn, value, "")
    return value


def _check_count(defn: SettingDef, items: Sequence[object], shown: str) -> None:
    too_many = defn.max_items is not None and len(items) > defn.max_items
    if len(items) < defn.min_items or too_many:
        raise _error(defn, f"{len(items)} items {shown}")


def _check_symbol_list(defn: SettingDef, value: object) -> tuple[str, ...]:
    items = _check_items(defn, value)
    result: list[str] = []
    for index, item in enumerate(items, start=1):
        if not isinstance(item, str):
            raise _error(defn, f"item {index} {type(item).__name__} {_show(item)}")
        # "BTC/USDT:USDT" (ccxt unified symbol) is stored as its base asset, as the quote is appended at use.
        base = item.strip().upper().split("/", 1)[0]
        if not _SYMBOL_RE.fullmatch(base):
            raise _error(defn, f"item {index} {_show(item)}")
        if base not in result:
            result.append(base)
    _check_count(defn, result, _show(value))
    return tuple(result)


def _check_number_list(defn: SettingDef, value: object) -> tuple[float, ...]:
    items = _check_items(defn, value)
    numbers: list[float] = []
    for index, item in enumerate(items, start=1):
        number = _check_number(defn, item)
        if number is None:
            raise _error(defn, f"item {index} {type(item).__name__} {_show(item)}")
        numbers.append(number)
    if not defn.keep_order:
        numbers = sorted(set(numbers))
    _check_count(defn, numbers, _show(value))
    return tuple(numbers)


_CHECKS: dict[SettingType, Callable[[SettingDef, object], object]] = {
    SettingType.INT: _check_int,
    SettingType.FLOAT: _check_float,
    SettingType.BOOL: _check_bool,
    SettingType.CHOICE: _check_choice,
    SettingType.TEXT: _check_text,
    SettingType.SYMBOL_LIST: _check_symbol_list,
    SettingType.NUMBER_LIST: _check_number_list,
}


def check_value(defn: SettingDef, value: object) -> object:
    """The normalised value (int, float, bool, the choice, stripped text, tuple) or SettingValidationError."""
    return _CHECKS[defn.type](defn, value)
