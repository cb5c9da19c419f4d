"""Scrolling the Settings page with the mouse wheel scrolls the page: a slider, spin box or combo box under the
pointer keeps its value (and nothing is saved) unless it has keyboard focus; with focus the wheel changes it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QScrollArea, QWidget

from cts_desktop.domain.settings import Tab
from cts_desktop.services import Services
from cts_desktop.ui.settings_editors import ChoiceEditor, NumberEditor
from tests.helpers.waiting import until
from tests.ui.test_settings_tab import make_tab, settle, stored_row

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def wheel_over(widget: QWidget, notches: int = -1) -> None:
    """One real wheel event (a notch down by default) at the widget's centre, delivered the way Qt delivers it."""
    centre = QPointF(widget.rect().center())
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0),
                        QPoint(0, 120 * notches), Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                        Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(widget, event)


def scroll_area_of(widget: QWidget) -> QScrollArea:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    assert isinstance(parent, QScrollArea)
    return parent


async def test_the_wheel_scrolls_the_page_and_changes_only_a_focused_control(services: Services) -> None:
    tab = make_tab(services, Tab.SYSTEM)
    tab.resize(1000, 400)  # short, so the page has something to scroll
    tab.show()
    await settle(tab)
    editor = tab.rows["system.cleanup_interval_hours"].editor
    assert isinstance(editor, NumberEditor)
    level = tab.rows["system.log_level"].editor
    assert isinstance(level, ChoiceEditor)
    scroll = scroll_area_of(editor)
    bar = scroll.verticalScrollBar()
    assert bar.maximum() > 0, "the page must be taller than the window for this test"
    before = (editor.spin.value(), editor.slider.value(), level.combo.currentIndex())

    for target in (editor.spin, editor.slider, level.combo):
        bar.setValue(0)
        wheel_over(target)
        await settle(tab)
        assert bar.value() > 0, f"the page did not scroll under {type(target).__name__}"
    assert (editor.spin.value(), editor.slider.value(), level.combo.currentIndex()) == before
    assert stored_row(services, "system.cleanup_interval_hours") is None  # nothing was saved
    assert stored_row(services, "system.log_level") is None

    # clicked into (keyboard focus): the wheel changes the value as before
    tab.activateWindow()
    editor.spin.setFocus(Qt.FocusReason.MouseFocusReason)
    await until(editor.spin.hasFocus, 5, "focus on the spin box")
    wheel_over(editor.spin, notches=1)
    assert editor.spin.value() != before[0]
