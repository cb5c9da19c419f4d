"""Accessible widgets (issue 19): on every tab and every page inside it, each control a user works with (buttons,
fields, spin boxes, combos, check boxes, sliders, tables, tab bars, charts) has a name a screen reader announces —
what Qt's accessibility interface reports, so a name Qt derives from a button's text or a field's label counts.
Where a setting's label is not enough its help text is the description."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox

from cts_desktop.domain.settings import SETTINGS
from cts_desktop.services import Services
from cts_desktop.ui.accessibility import plain
from cts_desktop.ui.main_window import MainWindow
from tests.ui.conftest import open_window
from tests.ui.widget_audit import accessible_name, each_view, interactive_widgets

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def _unnamed_controls(window: MainWindow) -> tuple[int, list[str]]:
    unnamed: list[str] = []
    checked = 0
    async for path in each_view(window):
        for widget in interactive_widgets(window.tabs.currentWidget(), window):
            checked += 1
            if not accessible_name(widget):
                unnamed.append(f"{' › '.join(path)}: {type(widget).__name__} under "
                               f"{type(widget.parentWidget()).__name__}")
    return checked, sorted(set(unnamed))


async def test_every_control_on_every_tab_has_an_accessible_name(services: Services) -> None:
    gui = open_window(services)
    window = gui.window
    try:
        checked, unnamed = await _unnamed_controls(window)
        # what a sighted user reads next to a control is its name: a setting's label (the slider says so too)
        defn = next(d for d in SETTINGS if d.key == "system.position_length")
        row = window.settings.rows[defn.key]
        field = row.editor.findChild(QAbstractSpinBox)
        slider = row.editor.findChild(QAbstractSlider)
        field_name = accessible_name(field) if field is not None else ""
        slider_name = accessible_name(slider) if slider is not None else ""
        description = field.accessibleDescription() if field is not None else ""
        bar_name = accessible_name(window.tabs.tabBar())
    finally:
        await gui.shutdown()
    assert checked > 300, f"only {checked} controls looked at"
    assert not unnamed, "\n".join(unnamed)
    assert bar_name
    assert field_name == plain(defn.label)
    assert slider_name == f"{plain(defn.label)} slider"
    assert description == plain(defn.help)  # the setting's help, as its tooltip says
