"""Settings tab: every setting of the schema by tab and group, with its value, default and allowed range."""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from cts_desktop.domain.settings import SETTINGS, Tab, allowed_text
from cts_desktop.facade import AppFacade
from cts_desktop.ui.widgets import ReadOnlyTable


def _text(value: object) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


class SettingsTab(QWidget):
    HEADERS = ("Group", "Setting", "Value", "Unit", "Default", "Allowed", "Key")

    def __init__(self, facade: AppFacade, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.facade = facade
        self.pages = QTabWidget()
        self.tables: dict[Tab, ReadOnlyTable] = {}
        for tab in Tab:
            table = ReadOnlyTable(self.HEADERS)
            self.tables[tab] = table
            self.pages.addTab(table, tab.value)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)

    async def refresh(self) -> None:
        values = self.facade.settings_values()
        for tab, table in self.tables.items():
            table.fill(
                [
                    (d.group, d.label, _text(values[d.key]), d.unit, _text(d.default), allowed_text(d.key), d.key)
                    for d in SETTINGS
                    if d.tab is tab
                ]
            )
