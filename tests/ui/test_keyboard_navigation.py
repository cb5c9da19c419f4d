"""Keyboard navigation (issue 19): on every tab and every page inside it, pressing Tab from the tab bar reaches
every enabled control a user works with (tables and text panes hand Tab on instead of keeping it; of a group of
radio buttons Tab reaches the chosen one, the arrow keys the others), and each main tab has a shortcut
(Alt+<underlined letter>, Ctrl+<number>)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QRadioButton, QWidget

from cts_desktop.services import Services
from tests.helpers.waiting import until
from tests.ui.conftest import open_window
from tests.ui.widget_audit import each_view, interactive_widgets, settle

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


def _tab_through(window: QWidget, start: QWidget, limit: int) -> list[QWidget]:
    """Press Tab from ``start`` until the focus comes back to it (or ``limit`` presses); the widgets it visits."""
    start.setFocus(Qt.FocusReason.TabFocusReason)
    visited: list[QWidget] = []
    for _ in range(limit):
        current = window.focusWidget() or start
        QTest.keyClick(current, Qt.Key.Key_Tab)
        focused = window.focusWidget()
        if focused is None or focused is start:
            break
        visited.append(focused)
    return visited


def _reached_by_arrows(widget: QWidget) -> bool:
    """An unchecked radio button of a group: Tab stops at the checked one, the arrow keys choose (as everywhere)."""
    return isinstance(widget, QRadioButton) and widget.autoExclusive() and not widget.isChecked()


def _owner(widget: QWidget, controls: list[QWidget]) -> QWidget:
    """The control a focused part belongs to (a spin box's line edit is the spin box)."""
    current: QWidget | None = widget
    while current is not None and current not in controls:
        current = current.parentWidget()
    return current or widget


async def test_tab_reaches_every_control_of_every_tab(services: Services) -> None:
    gui = open_window(services)
    window = gui.window
    missed: list[str] = []
    views = 0
    try:
        window.activateWindow()
        await until(window.isActiveWindow, 10, "the window to be active")
        async for path in each_view(window):
            views += 1
            settle()
            controls = [w for w in interactive_widgets(window.tabs.currentWidget(), window) if w.isEnabled()
                        and not _reached_by_arrows(w)]
            reached = _tab_through(window, window.tabs.tabBar(), 4 * len(controls) + 20)
            visited = {id(_owner(w, controls)) for w in reached}
            missed += [f"{' › '.join(path)}: {type(w).__name__} {w.accessibleName() or w.objectName()!r}"
                       for w in controls if id(w) not in visited]
    finally:
        await gui.shutdown()
    assert views >= 20
    assert not missed, "\n".join(missed)


async def test_main_tabs_have_shortcuts(services: Services) -> None:
    gui = open_window(services)
    window = gui.window
    letters = set()
    shown: list[tuple[str, int]] = []
    try:
        window.activateWindow()
        await until(window.isActiveWindow, 10, "the window to be active")
        texts = [window.tabs.tabText(index) for index in range(window.tabs.count())]
        for index, text in enumerate(texts):
            QTest.keyClick(window, Qt.Key(Qt.Key.Key_1 + index), Qt.KeyboardModifier.ControlModifier)
            shown.append((text, window.tabs.currentIndex()))
        QTest.keyClick(window, Qt.Key.Key_J, Qt.KeyboardModifier.AltModifier)
        after_alt_j = window.tabs.tabText(window.tabs.currentIndex())
    finally:
        await gui.shutdown()
    for index, (text, current) in enumerate(shown):
        assert "&" in text, f"{text} has no mnemonic"
        letters.add(text[text.index("&") + 1].lower())
        assert current == index, f"Ctrl+{index + 1} did not show {text}"
    assert len(letters) == len(texts)  # no two tabs share a letter
    assert after_alt_j == "&Journal"
