"""One editor per setting, chosen from its schema type: slider + spin box + unit for a ranged number, a switch for
a flag, a dropdown for a choice, a list editor for symbol and number lists, a line edit for text.

An editor never writes anything itself: when the user finishes an edit it emits ``edited(key, value)`` and the
Settings tab validates, asks for confirmation where the schema wants one, and stores. What the user typed is
checked with the schema's own ``validate_value`` — an out-of-range or off-grid number, a malformed list — and
the schema's message is shown under the editor; nothing is written and nothing is clamped. The slider can only
reach valid values; the spin box accepts any number so a typed mistake is explained rather than silently fixed.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QSlider,
    QToolButton,
    QWidget,
)

from cts_desktop.domain.settings import (
    SettingDef,
    SettingType,
    SettingValidationError,
    allowed_text,
    parse_list_text,
    step_decimals,
    validate_value,
)

_TYPED_LIMIT = 1e12  # the spin box accepts any number a user could mean; the schema decides what is allowed


def format_value(defn: SettingDef, value: object) -> str:
    """Display text of a value: numbers without float noise, lists comma-separated, flags on/off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, tuple | list):
        return ", ".join(format_value(defn, v) for v in value)
    if isinstance(value, float):
        text = f"{value:.{max(step_decimals(defn.key), 2) + 2}f}".rstrip("0").rstrip(".")
        return text or "0"
    if defn.type is SettingType.CHOICE and defn.choice_labels:
        for choice, label in zip(defn.choices, defn.choice_labels, strict=False):
            if choice == value and type(choice) is type(value):
                return label
    return str(value)


class SchemaSpinBox(QDoubleSpinBox):
    """A spin box whose arrows stay inside the schema range but whose text accepts any number, so a typed
    out-of-range value reaches validation (and its message) instead of being clamped by Qt."""

    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.defn = defn
        self.setDecimals(step_decimals(defn.key))
        self.setRange(-_TYPED_LIMIT, _TYPED_LIMIT)
        self.setSingleStep(float(defn.step or 1))
        self.setKeyboardTracking(False)
        self.setAccelerated(True)
        self.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.setFixedWidth(120)
        self.setButtonSymbols(QDoubleSpinBox.ButtonSymbols.UpDownArrows)

    def stepBy(self, steps: int) -> None:
        low = float(self.defn.minimum if self.defn.minimum is not None else -_TYPED_LIMIT)
        high = float(self.defn.maximum if self.defn.maximum is not None else _TYPED_LIMIT)
        target = min(high, max(low, self.value() + steps * self.singleStep()))
        self.setValue(target)
        self.editingFinished.emit()

    def stepEnabled(self) -> QDoubleSpinBox.StepEnabledFlag:
        flags = QDoubleSpinBox.StepEnabledFlag.StepNone
        if self.defn.minimum is None or self.value() > self.defn.minimum:
            flags |= QDoubleSpinBox.StepEnabledFlag.StepDownEnabled
        if self.defn.maximum is None or self.value() < self.defn.maximum:
            flags |= QDoubleSpinBox.StepEnabledFlag.StepUpEnabled
        return flags

    def typed_value(self) -> int | float:
        value = round(self.value(), self.decimals())
        return round(value) if self.defn.type is SettingType.INT else value


class SettingEditor(QWidget):
    """Base: the editing control(s) of one setting plus its error line (owned by the row that places it)."""

    edited = Signal(str, object)  # key, the value the user asks for (not yet validated against other settings)
    preview = Signal(str, object)  # key, a value being typed (valid on its own), for live counts

    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.defn = defn
        self.key = defn.key
        self.error = QLabel("")
        self.error.setObjectName("settingError")
        self.error.setStyleSheet("color: #c0392b;")  # readable on the light and the dark palette
        self.error.setWordWrap(True)
        self.error.hide()
        self.stored: object = defn.default
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(6)

    def show_value(self, value: object) -> None:
        """Show the stored value (called after a write, a reset, an import or a refused change)."""
        self.stored = value
        self._display(value)

    def _display(self, value: object) -> None:
        raise NotImplementedError

    def is_editing(self) -> bool:
        """True while the user has focus in a text field (a refresh must not overwrite what is being typed)."""
        focus = self.focusWidget()
        return focus is not None and focus.hasFocus() and isinstance(focus, QLineEdit | QDoubleSpinBox)

    def has_error(self) -> bool:
        return not self.error.isHidden()

    def show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))

    def _submit(self, value: object) -> None:
        """Check the value on its own (range, grid, type) and pass it on, or show the schema's message."""
        try:
            normalised = validate_value(self.key, value)
        except SettingValidationError as error:
            self.show_error(error.message)
            return
        self.show_error(None)
        if normalised != self.stored:
            self.edited.emit(self.key, normalised)


class NumberEditor(SettingEditor):
    """Slider over the value grid + spin box for exact entry + unit."""

    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(defn, parent)
        assert defn.minimum is not None and defn.maximum is not None
        self.step = float(defn.step or 1)
        self.positions = max(1, round((defn.maximum - defn.minimum) / self.step))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, self.positions)
        self.slider.setPageStep(max(1, self.positions // 10))
        self.slider.setTracking(False)  # valueChanged on release (or a key press): one write per gesture
        self.slider.setMinimumWidth(160)
        self.slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.spin = SchemaSpinBox(defn)
        self.unit = QLabel(defn.unit)
        self.unit.setFixedWidth(70)
        self.layout_.addWidget(self.slider, 1)
        self.layout_.addWidget(self.spin)
        self.layout_.addWidget(self.unit)
        self.slider.sliderMoved.connect(self._slider_moved)
        self.slider.valueChanged.connect(self._slider_released)
        self.spin.editingFinished.connect(self._spin_finished)

    def _value_at(self, position: int) -> int | float:
        assert self.defn.minimum is not None
        value = self.defn.minimum + position * self.step
        if self.defn.type is SettingType.INT:
            return round(value)
        return round(value, step_decimals(self.key))

    def _position_of(self, value: float) -> int:
        assert self.defn.minimum is not None
        return min(self.positions, max(0, round((value - self.defn.minimum) / self.step)))

    def _display(self, value: object) -> None:
        assert isinstance(value, int | float)
        for widget in (self.slider, self.spin):
            widget.blockSignals(True)
        self.slider.setSliderPosition(self._position_of(float(value)))
        self.slider.setValue(self._position_of(float(value)))
        self.spin.setValue(float(value))
        for widget in (self.slider, self.spin):
            widget.blockSignals(False)

    def _slider_moved(self, position: int) -> None:
        self.spin.blockSignals(True)
        self.spin.setValue(float(self._value_at(position)))
        self.spin.blockSignals(False)

    def _slider_released(self, position: int) -> None:
        value = self._value_at(position)
        self._slider_moved(position)
        self._submit(value)

    def _spin_finished(self) -> None:
        value = self.spin.typed_value()
        if math.isclose(float(value), float(self.stored), rel_tol=0, abs_tol=1e-12) and not self.has_error():
            return
        self._submit(value)
        if not self.has_error():
            self.slider.blockSignals(True)
            self.slider.setValue(self._position_of(float(value)))
            self.slider.blockSignals(False)

    def type_text(self, text: str) -> None:
        """Enter ``text`` as if typed and confirmed with Enter (used by tests and by paste)."""
        self.spin.lineEdit().setText(text)
        self.spin.interpretText()
        self.spin.editingFinished.emit()


class FlagEditor(SettingEditor):
    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(defn, parent)
        self.box = QCheckBox("On")
        self.box.setObjectName("settingSwitch")
        self.layout_.addWidget(self.box)
        self.layout_.addStretch(1)
        self.box.toggled.connect(self._toggled)

    def _display(self, value: object) -> None:
        self.box.blockSignals(True)
        self.box.setChecked(bool(value))
        self.box.setText("On" if value else "Off")
        self.box.blockSignals(False)

    def _toggled(self, checked: bool) -> None:
        self.box.setText("On" if checked else "Off")
        self._submit(checked)


class ChoiceEditor(SettingEditor):
    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(defn, parent)
        self.combo = QComboBox()
        labels = defn.choice_labels or tuple(str(c) for c in defn.choices)
        for choice, label in zip(defn.choices, labels, strict=True):
            self.combo.addItem(label, choice)
        self.combo.setMinimumWidth(160)
        self.layout_.addWidget(self.combo)
        self.layout_.addStretch(1)
        self.combo.activated.connect(self._chosen)

    def _display(self, value: object) -> None:
        self.combo.blockSignals(True)
        for index, choice in enumerate(self.defn.choices):
            if choice == value and type(choice) is type(value):
                self.combo.setCurrentIndex(index)
        self.combo.blockSignals(False)

    def _chosen(self, index: int) -> None:
        self._submit(self.defn.choices[index])


class TextEditor(SettingEditor):
    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(defn, parent)
        self.line = QLineEdit()
        self.line.setClearButtonEnabled(True)
        self.layout_.addWidget(self.line, 1)
        self.line.editingFinished.connect(lambda: self._submit(self.line.text()))

    def _display(self, value: object) -> None:
        self.line.setText(str(value))


class ListEditor(SettingEditor):
    """Items typed as text ("BTC, ETH" or "2 4 6"); parsed and checked by the schema when Enter is pressed or
    the field is left, previewed while typing (so the matrix count updates before anything is stored)."""

    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(defn, parent)
        self.line = QLineEdit()
        self.line.setPlaceholderText("comma- or space-separated")
        self.count = QLabel("")
        self.count.setMinimumWidth(64)
        self.unit = QLabel(defn.unit)
        self.layout_.addWidget(self.line, 1)
        self.layout_.addWidget(self.count)
        if defn.unit:
            self.layout_.addWidget(self.unit)
        self.line.editingFinished.connect(self._finished)
        self.line.textEdited.connect(self._typed)

    def _display(self, value: object) -> None:
        self.line.setText(format_value(self.defn, value))
        self._show_count(value)

    def _show_count(self, value: object) -> None:
        items = len(value) if isinstance(value, tuple | list) else 0
        self.count.setText(f"{items} item{'s' if items != 1 else ''}")

    def _parse(self) -> object:
        return parse_list_text(self.key, self.line.text())

    def _typed(self, _text: str) -> None:
        try:
            value = self._parse()
        except SettingValidationError:
            return
        self._show_count(value)
        self.preview.emit(self.key, value)

    def _finished(self) -> None:
        try:
            value = self._parse()
        except SettingValidationError as error:
            self.show_error(error.message)
            return
        self._submit(value)

    def type_text(self, text: str) -> None:
        self.line.setText(text)
        self.line.editingFinished.emit()


def make_editor(defn: SettingDef, parent: QWidget | None = None) -> SettingEditor:
    if defn.type in (SettingType.INT, SettingType.FLOAT):
        return NumberEditor(defn, parent)
    if defn.type is SettingType.BOOL:
        return FlagEditor(defn, parent)
    if defn.type is SettingType.CHOICE:
        return ChoiceEditor(defn, parent)
    if defn.type in (SettingType.SYMBOL_LIST, SettingType.NUMBER_LIST):
        return ListEditor(defn, parent)
    return TextEditor(defn, parent)


class ResetButton(QToolButton):
    """↺ — back to the default (enabled only when the value differs from it)."""

    def __init__(self, defn: SettingDef, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setText("↺")
        self.setAutoRaise(True)
        self.setToolTip(f"Reset to the default: {format_value(defn, defn.default)} {defn.unit}".rstrip())


def caption_of(defn: SettingDef) -> str:
    """The grey caption next to an editor: what is allowed, plus the restart note where it applies."""
    text = allowed_text(defn.key)
    if defn.restart_required:
        text += " · takes effect after restart"
    return text
