"""A terse way to declare the settings of one tab, group by group, in display order.

The definition modules read like the settings table they implement; the builder fills in tab and group so a
definition cannot end up on the wrong tab by a copy-paste slip.
"""

from __future__ import annotations

from collections.abc import Sequence

from cts_desktop.domain.settings_schema.model import SettingDef, SettingType, Tab
from cts_desktop.domain.settings_schema.validation import decimals_of


class TabBuilder:
    """Collects ``SettingDef``s for one tab; ``group()`` sets the group for the definitions that follow."""

    def __init__(self, tab: Tab) -> None:
        self._tab = tab
        self._group = ""
        self._defs: list[SettingDef] = []

    def group(self, name: str) -> None:
        self._group = name

    def build(self) -> tuple[SettingDef, ...]:
        return tuple(self._defs)

    def _add(self, key: str, kind: SettingType, default: object, label: str, help: str, **extra: object) -> None:
        if not self._group:
            raise ValueError(f"setting {key} declared before any group")
        self._defs.append(
            SettingDef(
                key=key, type=kind, default=default, label=label, help=help, tab=self._tab, group=self._group,
                **extra,  # type: ignore[arg-type]
            )
        )

    def integer(
        self, key: str, label: str, default: int, low: int, high: int, step: int = 1, *, help: str,
        unit: str = "", confirm: str | None = None, restart: bool = False,
    ) -> None:
        self._add(
            key, SettingType.INT, default, label, help, minimum=low, maximum=high, step=step, unit=unit,
            confirm_on_change=confirm, restart_required=restart,
        )

    def decimal(
        self, key: str, label: str, default: float, low: float, high: float, step: float, *, help: str,
        unit: str = "", confirm: str | None = None,
    ) -> None:
        self._add(
            key, SettingType.FLOAT, float(default), label, help, minimum=low, maximum=high, step=step, unit=unit,
            confirm_on_change=confirm,
        )

    def flag(
        self, key: str, label: str, default: bool, *, help: str, confirm: str | None = None,
        restart: bool = False,
    ) -> None:
        self._add(key, SettingType.BOOL, default, label, help, confirm_on_change=confirm, restart_required=restart)

    def choice(
        self, key: str, label: str, default: object, choices: Sequence[tuple[object, str]], *, help: str,
        unit: str = "", confirm: str | None = None,
    ) -> None:
        self._add(
            key, SettingType.CHOICE, default, label, help, unit=unit, confirm_on_change=confirm,
            choices=tuple(value for value, _ in choices), choice_labels=tuple(text for _, text in choices),
        )

    def text(
        self, key: str, label: str, default: str, max_length: int, *, help: str, text_format: str = "",
        confirm: str | None = None, restart: bool = False,
    ) -> None:
        self._add(
            key, SettingType.TEXT, default, label, help, maximum=max_length, text_format=text_format,
            confirm_on_change=confirm, restart_required=restart,
        )

    def symbols(
        self, key: str, label: str, default: Sequence[str], *, help: str, min_items: int = 0, max_items: int,
    ) -> None:
        self._add(
            key, SettingType.SYMBOL_LIST, tuple(default), label, help, min_items=min_items, max_items=max_items,
        )

    def numbers(
        self, key: str, label: str, default: Sequence[float], low: float, high: float, step: float, *,
        help: str, min_items: int = 1, max_items: int, unit: str = "", keep_order: bool = False,
    ) -> None:
        self._add(
            key, SettingType.NUMBER_LIST, tuple(float(x) for x in default), label, help, minimum=low,
            maximum=high, step=step, unit=unit, min_items=min_items, max_items=max_items, keep_order=keep_order,
        )


def grid(low: float, high: float, step: float) -> tuple[float, ...]:
    """Evenly stepped values from ``low`` to ``high`` inclusive, rounded to the step's decimals."""
    digits = max(decimals_of(step), decimals_of(low))
    count = round((high - low) / step)
    return tuple(round(low + index * step, digits) for index in range(count + 1))
