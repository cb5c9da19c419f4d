"""The live configuration-set count (DOMAIN Part 1 §3): how many sets the chosen matrix opens per firing
indication variant and per symbol, shown before a change is applied — it follows list values while they are
typed, not only what is stored."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtWidgets import QLabel, QWidget

from cts_desktop.domain.settings import (
    SettingValidationError,
    indication_variant_counts,
    matrix_axes,
)

# Settings the counts depend on: a change (or a typed preview) of one of them recomputes the label.
MATRIX_KEYS_PREFIXES = ("strategy.tp_factors", "strategy.sl_ratios", "strategy.trailing", "indications.")


def depends_on(key: str) -> bool:
    return key.startswith(MATRIX_KEYS_PREFIXES)


def describe_counts(values: Mapping[str, object]) -> str:
    """Plain text of the counts for ``values`` (keys not given take their defaults)."""
    axes = matrix_axes(values)
    per_variant = axes.set_count
    variants = indication_variant_counts(values)
    per_direction = sum(variants.values())
    per_symbol = per_variant * per_direction * 2
    kinds = ", ".join(f"{kind} {count}" for kind, count in variants.items()) or "no Main indication enabled"
    return (
        f"<b>{per_variant:,}</b> configuration sets per firing indication variant "
        f"({len(axes.tp_factors)} TP × {len(axes.sl_ratios)} SL × {len(axes.trailing)} trailing variants)<br>"
        f"<b>{per_symbol:,}</b> Main sets per symbol = {per_direction:,} indication variants ({kinds}) "
        f"× 2 directions × {per_variant:,}"
    )


class MatrixCountLabel(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("matrixCount")
        self.setWordWrap(True)
        self.stored: dict[str, object] = {}
        self.pending: dict[str, object] = {}

    def show_stored(self, values: Mapping[str, object]) -> None:
        self.stored = dict(values)
        self.pending = {k: v for k, v in self.pending.items() if self.stored.get(k) != v}
        self._render()

    def preview(self, key: str, value: object) -> None:
        if self.stored.get(key) == value:
            self.pending.pop(key, None)
        else:
            self.pending[key] = value
        self._render()

    def _render(self) -> None:
        try:
            text = describe_counts({**self.stored, **self.pending})
        except SettingValidationError as error:
            self.setText(f"Cannot count the sets: {error.message}")
            return
        if self.pending:
            text += "<br><i>Preview of values not applied yet (press Enter to apply).</i>"
        self.setText(text)
