"""Accessible widgets (issue 19): on every tab and every page inside it, each control a user works with (buttons,
fields, spin boxes, combos, check boxes, sliders, tables, tab bars, charts) has a name a screen reader announces —
what Qt's accessibility interface reports, so a name Qt derives from a button's text or a field's label counts.
Where a setting's label is not enough its help text is the description."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractSlider, QAbstractSpinBox

from cts_desktop.services import Services
from cts_desktop.ui.accessibility import plain
from tests.ui.conftest import open_window
from tests.ui.widget_audit import accessible_name, each_view, interactive_widgets

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])


async def test_every_control_on_every_tab_has_an_accessible_name(services: Services) -> None:
    gui = open_window(services)
    window = gui.window
    unnamed: list[str] = []
    checked = 0
    async for path in each_view(window):
        for widget in interactive_widgets(window.tabs.currentWidget(), window):
            checked += 1
            name = accessible_name(widget)
            if not name:
                unnamed.append(f"{' › '.join(path)}: {type(widget).__name__} under "
                               f"{type(widget.parentWidget()).__name__}")
    assert checked > 300, f"only {checked} controls looked at"
    assert not unnamed, "\n".join(sorted(set(unnamed)))
    assert accessible_name(window.tabs.tabBar())

    # what a sighted user reads next to a control is its name: a setting's label, a form row's label
    from cts_desktop.domain.settings import SETTINGS

    defn = next(d for d in SETTINGS if d.key == "system.position_length")
    row = window.settings.rows[defn.key]
    field = row.editor.findChild(QAbstractSpinBox)
    assert field is not None and accessible_name(field) == plain(defn.label)
    slider = row.editor.findChild(QAbstractSlider)
    assert slider is not None and accessible_name(slider) == f"{plain(defn.label)} slider"
    assert field.accessibleDescription() == plain(defn.help)  # the setting's help, as its tooltip says
    await gui.shutdown()
