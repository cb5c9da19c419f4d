"""Walking the main window for the layout, accessibility and keyboard tests (issue 19): every main tab, every page
of the tab widgets inside it, and on each view what a user would notice — a text cut off, an interactive widget a
screen reader cannot name, a control the Tab key never reaches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QAccessible, QFontMetrics
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QCheckBox,
    QComboBox,
    QGraphicsView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QScrollBar,
    QStyle,
    QStyleOptionButton,
    QStyleOptionComboBox,
    QTabBar,
    QTabWidget,
    QTextEdit,
    QToolButton,
    QWidget,
)

INTERACTIVE = (QAbstractButton, QLineEdit, QAbstractSpinBox, QComboBox, QAbstractSlider, QAbstractItemView, QTabBar,
               QTextEdit, QPlainTextEdit, QGraphicsView)


def settle() -> None:
    """Deliver the posted layout requests so geometries are final. Only those: processing every event here, inside
    a task of the qasync loop, ran the loop's own callbacks re-entrantly and left later tasks pending for ever."""
    for _ in range(4):
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)


def shown(widget: QWidget, window: QWidget) -> bool:
    return widget.isVisibleTo(window) and widget.isVisible()


def _inside_composite(widget: QWidget) -> bool:
    """A part of another control (a spin box's or combo's line edit, a scroll area's scroll bar, a tab widget's
    or table's own parts) — named and reached through its owner."""
    parent = widget.parentWidget()
    if isinstance(widget, QLineEdit) and isinstance(parent, QAbstractSpinBox | QComboBox):
        return True
    if isinstance(widget, QScrollBar):
        return True
    if isinstance(widget, QHeaderView):
        return True
    if isinstance(widget, QAbstractButton) and isinstance(parent, QTabBar | QAbstractSpinBox | QAbstractScrollArea):
        return True  # a tab bar's scroll arrows, a table's corner button
    if isinstance(widget, QAbstractItemView) and widget.window() is not widget and isinstance(parent, QWidget) \
            and parent.objectName() == "" and type(parent).__name__ == "QComboBoxPrivateContainer":
        return True
    while parent is not None:
        if isinstance(parent, QComboBox):
            return True  # the combo's popup list
        parent = parent.parentWidget()
    return False


def interactive_widgets(root: QWidget, window: QWidget) -> list[QWidget]:
    """The visible controls a user works with under ``root``."""
    found: list[QWidget] = [w for w in root.findChildren(QWidget) if isinstance(w, INTERACTIVE) and shown(w, window)
             and not _inside_composite(w)]
    return found


# --- views ------------------------------------------------------------------------------------------------------


def _nested_tab_widgets(root: QWidget) -> list[QTabWidget]:
    """The tab widgets directly inside ``root`` (not inside another tab widget under it)."""
    result = []
    for tabs in root.findChildren(QTabWidget):
        parent = tabs.parentWidget()
        nested = False
        while parent is not None and parent is not root:
            if isinstance(parent, QTabWidget):
                nested = True
                break
            parent = parent.parentWidget()
        if not nested:
            result.append(tabs)
    return result


def _pages(root: QWidget, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    settle()
    inner = [t for t in _nested_tab_widgets(root) if t.isVisible()]
    if not inner:
        yield path
        return
    for tabs in inner:
        first = tabs.currentIndex()
        for index in range(tabs.count()):
            if not tabs.isTabVisible(index) or not tabs.isTabEnabled(index):
                continue
            tabs.setCurrentIndex(index)
            page = tabs.widget(index)
            assert page is not None
            yield from _pages(page, (*path, tabs.tabText(index).replace("&", "")))
        tabs.setCurrentIndex(first)


async def each_view(window: QMainWindow) -> AsyncIterator[tuple[str, ...]]:
    """Show every main tab and every page of the tab widgets inside it, in turn; yields the path of the view."""
    tabs: QTabWidget = window.tabs  # type: ignore[attr-defined]
    for index in range(tabs.count()):
        tabs.setCurrentIndex(index)
        await window.refresh_current()  # type: ignore[attr-defined]
        settle()
        page = tabs.widget(index)
        assert page is not None
        for path in _pages(page, (tabs.tabText(index).replace("&", ""),)):
            yield path


# --- text that does not fit --------------------------------------------------------------------------------------


def _label_problem(label: QLabel) -> str | None:
    if not label.text() or (label.pixmap() is not None and not label.pixmap().isNull()):
        return None
    if label.wordWrap():
        needed = label.heightForWidth(label.width())
        if needed > label.height():
            return f"wrapped text needs {needed} px high, has {label.height()}"
        return None
    hint = label.sizeHint()
    if hint.width() > label.width():
        return f"needs {hint.width()} px wide, has {label.width()}"
    if hint.height() > label.height():
        return f"needs {hint.height()} px high, has {label.height()}"
    return None


def _push_button_problem(button: QPushButton) -> str | None:
    if not button.text():
        return None
    option = QStyleOptionButton()
    button.initStyleOption(option)
    style = button.style()
    contents = style.subElementRect(QStyle.SubElement.SE_PushButtonContents, option, button)
    needed = QFontMetrics(button.font()).horizontalAdvance(option.text.replace("&&", "\0").replace("&", "")
                                                          .replace("\0", "&"))
    if not button.icon().isNull():
        needed += button.iconSize().width() + 4
    if button.menu() is not None:
        needed += style.pixelMetric(QStyle.PixelMetric.PM_MenuButtonIndicator, option, button)
    if needed > contents.width():
        return f"needs {needed} px for its text, has {contents.width()}"
    return None


def _hint_problem(widget: QWidget) -> str | None:
    if widget.sizeHint().width() > widget.width():
        return f"needs {widget.sizeHint().width()} px wide, has {widget.width()}"
    return None


def _combo_problem(combo: QComboBox) -> str | None:
    """Whichever item is chosen shows whole (the widest item fits the field)."""
    if combo.count() == 0:
        return None
    option = QStyleOptionComboBox()
    combo.initStyleOption(option)
    field = combo.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxEditField, combo)
    metrics = QFontMetrics(combo.font())
    widest = max(range(combo.count()), key=lambda i: metrics.horizontalAdvance(combo.itemText(i)))
    text = combo.itemText(widest)
    needed = metrics.horizontalAdvance(text)
    if not combo.itemIcon(widest).isNull():
        needed += combo.iconSize().width() + 4
    if needed > field.width():
        return f"{text!r} needs {needed} px, has {field.width()}"
    return None


def _line_edit_problem(edit: QLineEdit) -> str | None:
    """A placeholder or a read-only text cut off (typed text scrolls, as everywhere)."""
    text = edit.placeholderText() if not edit.text() else edit.text() if edit.isReadOnly() else ""
    if not text or isinstance(edit.parentWidget(), QAbstractSpinBox | QComboBox):
        return None
    margins = edit.textMargins()
    frame = edit.style().pixelMetric(QStyle.PixelMetric.PM_DefaultFrameWidth, None, edit) if edit.hasFrame() else 0
    available = edit.width() - 2 * frame - 4 - margins.left() - margins.right()  # QLineEdit's 2 px each side
    needed = QFontMetrics(edit.font()).horizontalAdvance(text)
    return f"{text!r} needs {needed} px, has {available}" if needed > available else None


def _spin_problem(spin: QAbstractSpinBox) -> str | None:
    edit = spin.findChild(QLineEdit)
    if edit is None or not spin.text():
        return None
    available = edit.width() - 4
    needed = QFontMetrics(spin.font()).horizontalAdvance(spin.text())
    return f"{spin.text()!r} needs {needed} px, has {available}" if needed > available else None


def _header_problems(header: QHeaderView) -> list[str]:
    model = header.model()
    if model is None or header.orientation() != Qt.Orientation.Horizontal:
        return []
    metrics = QFontMetrics(header.font())
    margin = header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header)
    problems = []
    for logical in range(header.count()):
        if header.isSectionHidden(logical):
            continue
        text = str(model.headerData(logical, Qt.Orientation.Horizontal, Qt.ItemDataRole.DisplayRole) or "")
        if not text:
            continue
        needed = max(metrics.horizontalAdvance(line) for line in text.split("\n")) + 2 * margin
        if header.isSortIndicatorShown() and header.sortIndicatorSection() == logical:
            needed += header.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header) + margin
        if needed > header.sectionSize(logical):
            problems.append(f"header {text!r} needs {needed} px, has {header.sectionSize(logical)}")
    return problems


def _tab_bar_problems(bar: QTabBar) -> list[str]:
    problems = []
    for index in range(bar.count()):
        if not bar.isTabVisible(index):
            continue
        rect = bar.tabRect(index)
        if rect.width() < bar.tabSizeHint(index).width() or not bar.rect().contains(rect):
            problems.append(f"tab {bar.tabText(index)!r} shown in {rect.width()} px of {bar.tabSizeHint(index).width()}"
                            f"{'' if bar.rect().contains(rect) else ', outside the bar'}")
    return problems


def _group_problem(box: QGroupBox) -> str | None:
    if not box.title():
        return None
    needed = QFontMetrics(box.font()).horizontalAdvance(box.title()) + 20
    return f"title needs {needed} px, has {box.width()}" if needed > box.width() else None


def _describe(widget: QWidget) -> str:
    text = ""
    for attribute in ("text", "currentText", "title"):
        getter = getattr(widget, attribute, None)
        if callable(getter):
            try:
                text = str(getter())
            except TypeError:
                continue
            break
    name = widget.objectName() or widget.accessibleName()
    return f"{type(widget).__name__}{f' #{name}' if name else ''} {text[:60]!r}"


def clipped_texts(root: QWidget, window: QWidget) -> list[str]:
    """Every text under ``root`` that the widget showing it cannot show whole."""
    problems: list[str] = []
    for widget in root.findChildren(QWidget):
        if not shown(widget, window) or widget.width() <= 0:
            continue
        found: list[str] = []
        if isinstance(widget, QLabel):
            found = [p for p in [_label_problem(widget)] if p]
        elif isinstance(widget, QPushButton):
            found = [p for p in [_push_button_problem(widget)] if p]
        elif isinstance(widget, QCheckBox | QRadioButton | QToolButton) and widget.text():
            found = [p for p in [_hint_problem(widget)] if p]
        elif isinstance(widget, QComboBox):
            found = [p for p in [_combo_problem(widget)] if p]
        elif isinstance(widget, QLineEdit):
            found = [p for p in [_line_edit_problem(widget)] if p]
        elif isinstance(widget, QAbstractSpinBox):
            found = [p for p in [_spin_problem(widget)] if p]
        elif isinstance(widget, QHeaderView):
            found = _header_problems(widget)
        elif isinstance(widget, QTabBar):
            found = _tab_bar_problems(widget)
        elif isinstance(widget, QGroupBox):
            found = [p for p in [_group_problem(widget)] if p]
        problems += [f"{_describe(widget)}: {p}" for p in found]
    return problems


def squeezed_panels(root: QWidget, window: QWidget) -> list[str]:
    """Panels (widgets with a layout) narrower or lower than their layout's minimum: their content is cut off.
    Content of a scroll area may be taller than the area (it scrolls), never wider (none scrolls sideways)."""
    problems = []
    for widget in root.findChildren(QWidget):
        layout = widget.layout()
        if layout is None or not shown(widget, window) or isinstance(widget, QScrollArea):
            continue
        minimum = layout.totalMinimumSize()
        if widget.width() < minimum.width():
            problems.append(f"{_describe(widget)}: {widget.width()} px wide, its content needs {minimum.width()}")
        if widget.height() < minimum.height():
            problems.append(f"{_describe(widget)}: {widget.height()} px high, its content needs {minimum.height()}")
    return problems


# --- accessibility -----------------------------------------------------------------------------------------------


def accessible_name(widget: QWidget) -> str:
    """The name a screen reader announces (Qt's accessibility interface: the explicit name, else what Qt derives
    from the widget's text or buddy label)."""
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name).strip() if interface is not None else ""
