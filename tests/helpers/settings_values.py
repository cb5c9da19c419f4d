"""Hypothesis strategies producing valid values for any setting of the schema (built from its definition)."""

from __future__ import annotations

from hypothesis import strategies as st

from cts_desktop.domain.settings import SettingDef, SettingType, validate_value


def _grid(defn: SettingDef, integer: bool) -> st.SearchStrategy[object]:
    assert defn.minimum is not None and defn.maximum is not None
    step = defn.step or (1 if integer else (defn.maximum - defn.minimum) / 1000 or 1)
    count = round((defn.maximum - defn.minimum) / step)
    decimals = max(0, len(repr(float(step)).split(".")[1].rstrip("0"))) if not integer else 0

    def at(k: int) -> object:
        value = defn.minimum + k * step  # type: ignore[operator]
        return round(value) if integer else round(value, decimals + 2)

    return st.integers(0, count).map(at)


def valid_values(defn: SettingDef) -> st.SearchStrategy[object]:
    kind = defn.type
    if kind is SettingType.BOOL:
        base: st.SearchStrategy[object] = st.booleans()
    elif kind is SettingType.INT:
        base = _grid(defn, integer=True)
    elif kind is SettingType.FLOAT:
        base = _grid(defn, integer=False)
    elif kind is SettingType.CHOICE:
        base = st.sampled_from(list(defn.choices))
    elif kind is SettingType.SYMBOL_LIST:
        low, high = defn.min_items, defn.max_items if defn.max_items is not None else 12
        base = st.lists(st.text("ABCDEFGHXYZ0123", min_size=1, max_size=8), min_size=low, max_size=high,
                        unique=True)
    elif kind is SettingType.NUMBER_LIST:
        low, high = defn.min_items, defn.max_items if defn.max_items is not None else 8
        element = _grid(defn, integer=False)
        base = st.lists(element, min_size=low, max_size=high, unique=True).map(sorted)
    else:
        return st.just(defn.default)

    def ok(value: object) -> bool:
        try:
            validate_value(defn.key, value)
        except ValueError:
            return False
        return True

    return base.filter(ok) | st.just(defn.default)
