"""Accessible names, descriptions and keyboard reach for every control, applied centrally (issue 19).

:func:`make_accessible` walks a widget tree when it is built or shown and gives each control a screen reader
cannot name yet (Qt names buttons by their text and fields by their buddy or form label) the name a sighted user
reads next to it: the label in its form or grid row (or in front of it in a row of widgets), a group's or tab's
title, a placeholder, the tooltip. Its tooltip, when it says more than the name, becomes the description. A widget
named explicitly (``setAccessibleName``) is left as it is.

Keyboard: Tab leaves tables and text panes instead of moving inside them (the arrow keys do that), so Tab walks
every control of a tab.
"""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QBoxLayout,
    QComboBox,
    QFormLayout,
    QGraphicsView,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLayout,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QStackedWidget,
    QTabBar,
    QTabWidget,
    QTextEdit,
    QWidget,
)

CONTROLS = (QAbstractButton, QLineEdit, QAbstractSpinBox, QComboBox, QAbstractSlider, QAbstractItemView, QTabBar,
            QTextEdit, QPlainTextEdit, QGraphicsView)
_TAG = re.compile(r"<[^>]+>")
_ANCESTORS = 3  # a control inside an editor widget (a spin box and slider of one setting) takes the editor's label


def plain(text: str) -> str:
    """Label or tooltip text without markup, mnemonics or a trailing colon, on one line."""
    text = _TAG.sub(" ", text.replace("<br>", " ")).replace("&&", "\0").replace("&", "").replace("\0", "&")
    text = text.replace("&nbsp;", " ").replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")
    return " ".join(text.split()).rstrip(":").strip()


_DONE = "accessibleByCts"  # a dynamic property: the widget was seen (the walk repeats cheaply on every refresh)


def make_accessible(root: QWidget) -> None:
    """Name, describe and make reachable by Tab every control under ``root`` (and ``root`` itself) not seen yet."""
    for widget in [root, *root.findChildren(QWidget)]:
        if isinstance(widget, CONTROLS) and not isinstance(widget, QScrollBar) and not widget.property(_DONE):
            _name(widget)
            _keyboard(widget)
            widget.setProperty(_DONE, True)


def _keyboard(widget: QWidget) -> None:
    if isinstance(widget, QAbstractItemView) and widget.tabKeyNavigation():
        widget.setTabKeyNavigation(False)  # arrows move between cells, Tab to the next control
    if isinstance(widget, QTextEdit | QPlainTextEdit) and not widget.tabChangesFocus():
        widget.setTabChangesFocus(True)  # no text here needs a tab character (URL lists, logs): Tab moves on
    if not widget.focusPolicy() & Qt.FocusPolicy.TabFocus:  # a chart or a tool button: reachable by Tab too
        widget.setFocusPolicy(widget.focusPolicy() | Qt.FocusPolicy.TabFocus)


def _qt_name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name).strip() if interface is not None else ""


def _tooltip(widget: QWidget) -> str:
    """The widget's tooltip, or that of the editor it is part of (a setting's help is on the whole editor)."""
    if widget.toolTip():
        return plain(widget.toolTip())
    current = widget.parentWidget()
    for _ in range(_ANCESTORS - 1):
        if current is None or isinstance(current, QStackedWidget | QTabWidget | QGroupBox | QAbstractScrollArea):
            return ""
        if current.toolTip():
            return plain(current.toolTip())
        current = current.parentWidget()
    return ""


def _name(widget: QWidget) -> None:
    tooltip = _tooltip(widget)
    if not widget.accessibleName():
        named_by_qt = _qt_name(widget) and not isinstance(widget, QComboBox)  # a combo's own name is its value
        name = "" if named_by_qt else _derived_name(widget, tooltip)
        if name:
            widget.setAccessibleName(name)
    if not widget.accessibleDescription() and tooltip and tooltip != (widget.accessibleName() or _qt_name(widget)):
        widget.setAccessibleDescription(tooltip)


def _derived_name(widget: QWidget, tooltip: str) -> str:
    own = _own_label(widget)
    if own:
        return own
    if isinstance(widget, QLineEdit) and widget.placeholderText():
        return plain(widget.placeholderText())
    if tooltip:
        return tooltip.split(". ")[0]
    return _container_title(widget)


def _own_label(widget: QWidget) -> str:
    """The label beside ``widget`` (or beside the editor widget it is part of)."""
    current: QWidget | None = widget
    for depth in range(_ANCESTORS):
        if current is None:
            return ""
        label = _label_beside(current)
        if label:
            if depth and isinstance(widget, QAbstractSlider):
                return f"{label} slider"
            return label
        current = current.parentWidget()
        if current is None or isinstance(current, QStackedWidget | QTabWidget | QGroupBox):
            return ""
    return ""


def _label_beside(widget: QWidget) -> str:
    parent = widget.parentWidget()
    if parent is None or parent.layout() is None:
        return ""
    for label in parent.findChildren(QLabel, options=Qt.FindChildOption.FindDirectChildrenOnly):
        if label.buddy() is widget and label.text():
            return plain(label.text())
    return _label_in_layout(parent.layout(), widget)


def _label_in_layout(layout: QLayout, widget: QWidget) -> str:
    index = layout.indexOf(widget)
    if index < 0:
        for i in range(layout.count()):
            inner = layout.itemAt(i).layout()
            if inner is not None:
                found = _label_in_layout(inner, widget)
                if found:
                    return found
        return ""
    if isinstance(layout, QFormLayout):
        label = layout.labelForField(widget)
        return plain(label.text()) if isinstance(label, QLabel) else ""
    if isinstance(layout, QGridLayout):
        row, column, _rows, _columns = layout.getItemPosition(index)
        for left in range(column - 1, -1, -1):
            item = layout.itemAtPosition(row, left)
            candidate = item.widget() if item is not None else None
            if isinstance(candidate, QLabel) and plain(candidate.text()):
                return " ".join(filter(None, (plain(candidate.text()), _column_heading(layout, row, column))))
        return ""
    if isinstance(layout, QBoxLayout):
        for before in range(index - 1, -1, -1):
            candidate = layout.itemAt(before).widget()
            if isinstance(candidate, QLabel) and plain(candidate.text()):
                return plain(candidate.text())
            if candidate is not None and isinstance(candidate, CONTROLS):
                return ""  # the label belongs to an earlier control
    return ""


def _column_heading(grid: QGridLayout, row: int, column: int) -> str:
    """The heading of a grid column (a label in the first row: "from", "to", "step") for a field below it."""
    item = grid.itemAtPosition(0, column) if row > 0 else None
    heading = item.widget() if item is not None else None
    return plain(heading.text()) if isinstance(heading, QLabel) else ""


def _container_title(widget: QWidget) -> str:
    """A table's or chart's name when none was given: its group's title or the tab it fills."""
    current: QWidget | None = widget
    while current is not None:
        parent = current.parentWidget()
        if isinstance(current, QGroupBox) and current.title():
            return plain(current.title())
        if isinstance(parent, QStackedWidget) and isinstance(parent.parentWidget(), QTabWidget):
            tabs = parent.parentWidget()
            assert isinstance(tabs, QTabWidget)
            return plain(tabs.tabText(tabs.indexOf(current)))
        current = parent
    return ""
