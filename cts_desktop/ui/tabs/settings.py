"""Settings tab: every setting of the schema by tab and group, each with the editor its type calls for, a reset
per setting and per group, confirmations for risky changes, the live configuration-set count, import/export as
JSON and the database choice.

Writes go through the application's Settings part to the SettingsStore (validated, one transaction, a
SettingsChanged event on the bus for running engines and the UI), off the GUI thread. A change whose schema
definition asks for confirmation (an engine switched off, the position length lowered, another database) opens a
non-blocking dialog first; lowering the position length says how many stored results will be trimmed and trims
them once confirmed. Pages are built when first shown so
the window opens fast; a table view lists every value with its default and allowed range.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.settings import SettingsImportError, SettingsPart
from cts_desktop.domain.settings import (
    SETTINGS,
    SettingDef,
    SettingsValidationErrors,
    SettingType,
    SettingValidationError,
    Tab,
    allowed_text,
    confirmation_for,
    definition,
    groups_of,
    settings_of,
    validate_many,
)
from cts_desktop.ui.accessibility import make_accessible
from cts_desktop.ui.settings_editors import ResetButton, SettingEditor, format_value, make_editor
from cts_desktop.ui.settings_matrix import MatrixCountLabel, depends_on
from cts_desktop.ui.table import DataTable, text_table
from cts_desktop.ui.tabs.settings_backups import BackupsPanel
from cts_desktop.ui.tabs.settings_database import DatabasePanel
from cts_desktop.ui.tabs.settings_notifications import NotificationsPanel
from cts_desktop.ui.tasks import spawn

log = logging.getLogger("cts.ui.settings")

POSITION_LENGTH = "system.position_length"
DATABASE_URL = "system.database_url"  # edited by the database panel, not by a generic editor
MATRIX_GROUPS = {(Tab.STRATEGY, "Configuration matrix"), (Tab.INDICATIONS, "Main indications")}


def _text(value: object) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def _caption(defn: SettingDef) -> str:
    if defn.type in (SettingType.INT, SettingType.FLOAT) and defn.minimum is not None:
        step = format_value(defn, defn.step) if defn.step is not None else ""
        low, high = format_value(defn, defn.minimum), format_value(defn, defn.maximum)
        return f"{low}–{high}{(' ' + defn.unit) if defn.unit and not defn.unit.startswith('×') else ''}" + (
            f", step {step}" if step else ""
        )
    if defn.type in (SettingType.SYMBOL_LIST, SettingType.NUMBER_LIST):
        return f"up to {defn.max_items} items" if defn.max_items else ""
    return ""


class SettingRow:
    """Label, editor, caption, reset button and the error line of one setting, placed in a group's grid."""

    def __init__(self, defn: SettingDef, grid: QGridLayout, row: int) -> None:
        self.defn = defn
        self.label = QLabel(defn.label)
        self.label.setToolTip(f"<b>{defn.label}</b> <code>{defn.key}</code><br>{defn.help}<br><i>Allowed: "
                              f"{allowed_text(defn.key)}</i>")
        self.label.setMinimumWidth(280)  # the longest label fits, so every group lines up
        self.editor: SettingEditor = make_editor(defn)
        self.editor.setToolTip(defn.help)
        self.caption = QLabel(_caption(defn))
        self.caption.setObjectName("settingCaption")
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        self.caption.setToolTip(allowed_text(defn.key))
        self.reset = ResetButton(defn)
        self.shown = False
        grid.addWidget(self.label, row, 0)
        grid.addWidget(self.editor, row, 1)
        grid.addWidget(self.caption, row, 2)
        grid.addWidget(self.reset, row, 3)
        grid.addWidget(self.editor.error, row + 1, 1, 1, 2)

    def show_value(self, value: object, force: bool = False) -> None:
        """Show the stored value; a periodic refresh leaves an unchanged or currently edited field alone."""
        if force or (value != self.editor.stored and not self.editor.is_editing()) or not self.shown:
            self.editor.show_value(value)
            self.shown = True
        self.reset.setEnabled(value != self.defn.default)


class SettingsTab(QWidget):
    HEADERS = ("Group", "Setting", "Value", "Unit", "Default", "Allowed", "Key")

    def __init__(self, part: SettingsPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.rows: dict[str, SettingRow] = {}
        self.group_resets: dict[tuple[Tab, str], QPushButton] = {}
        self.matrix_labels: list[MatrixCountLabel] = []
        self.confirm_box: QMessageBox | None = None
        self.file_dialog: QFileDialog | None = None
        self.database: DatabasePanel | None = None
        self.backups: BackupsPanel | None = None
        self.notifications: NotificationsPanel | None = None
        self.busy = False

        self.pages = QTabWidget()
        self.stacks: dict[Tab, QStackedWidget] = {}
        self.tables: dict[Tab, DataTable] = {}
        self._built: set[Tab] = set()
        self._table_values: dict[str, object] = {}
        for tab in Tab:
            stack = QStackedWidget()
            stack.addWidget(QWidget())  # placeholder until the form is built
            table = text_table(f"settings.{tab.name.lower()}", *self.HEADERS)
            stack.addWidget(table)
            self.stacks[tab] = stack
            self.tables[tab] = table
            self.pages.addTab(stack, tab.value)
        self.pages.currentChanged.connect(lambda index: self.build_page(list(Tab)[index]))

        self.status = QLabel("Changes are saved as soon as an edit is finished and reach running engines at once.")
        self.status.setObjectName("settingsStatus")
        self.status.setWordWrap(True)
        self.import_button = QPushButton("Import JSON…")
        self.export_button = QPushButton("Export JSON…")
        self.table_button = QPushButton("Table view")
        self.table_button.setCheckable(True)
        self.import_button.clicked.connect(self.choose_import_file)
        self.export_button.clicked.connect(self.choose_export_file)
        self.table_button.toggled.connect(self.show_tables)
        bar = QHBoxLayout()
        bar.addWidget(self.status, 1)
        for button in (self.table_button, self.import_button, self.export_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)
        self.build_page(Tab.OVERALL)

    # --- building -------------------------------------------------------------------------------------------

    def build_all(self) -> None:
        for tab in Tab:
            self.build_page(tab)

    def build_page(self, tab: Tab) -> None:
        if tab in self._built:
            return
        self._built.add(tab)
        values = self.part.values()
        content = QWidget()
        column = QVBoxLayout(content)
        for group in groups_of(tab):
            column.addWidget(self._build_group(tab, group, values))
            if tab is Tab.SYSTEM and group == "Database":
                self.database = DatabasePanel(self.part, self)
                self.backups = BackupsPanel(self.part.database, self)
                column.addWidget(self.database)
                column.addWidget(self.backups)
            if tab is Tab.MONITORING and group == "Notifications":
                self.notifications = NotificationsPanel(self.part.notifications)
                column.addWidget(self.notifications)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # rows wrap, never scroll sideways
        scroll.setWidget(content)
        stack = self.stacks[tab]
        old = stack.widget(0)
        stack.removeWidget(old)
        old.deleteLater()
        stack.insertWidget(0, scroll)
        stack.setCurrentIndex(1 if self.table_button.isChecked() else 0)
        make_accessible(stack)

    def _build_group(self, tab: Tab, group: str, values: Mapping[str, object]) -> QGroupBox:
        box = QGroupBox()
        box.setObjectName("settingsGroup")
        outer = QVBoxLayout(box)
        outer.setContentsMargins(9, 6, 9, 6)
        header = QHBoxLayout()
        header.addWidget(QLabel(f"<b>{group}</b>"))
        header.addStretch(1)
        reset = QPushButton("Reset group")
        reset.setToolTip(f"Reset every setting of {tab.value} › {group} to its default")
        reset.clicked.connect(lambda _=False, t=tab, g=group: self.reset_group(t, g))
        reset.setEnabled(any(values[d.key] != d.default for d in settings_of(tab) if d.group == group))
        self.group_resets[(tab, group)] = reset
        header.addWidget(reset, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(header)
        if (tab, group) in MATRIX_GROUPS:
            label = MatrixCountLabel()
            label.show_stored(values)
            self.matrix_labels.append(label)
            outer.addWidget(label)
        grid = QGridLayout()
        grid.setColumnStretch(1, 1)
        grid.setColumnMinimumWidth(2, 150)
        grid.setVerticalSpacing(2)
        outer.addLayout(grid)
        row = 0
        for defn in settings_of(tab):
            if defn.group != group or defn.key == DATABASE_URL:
                continue
            setting = SettingRow(defn, grid, row)
            setting.show_value(values[defn.key])
            setting.editor.edited.connect(self._edited)
            setting.editor.preview.connect(self._preview)
            setting.reset.clicked.connect(lambda _=False, d=defn: self.request_change({d.key: d.default}))
            self.rows[defn.key] = setting
            row += 2
        return box

    def show_tables(self, on: bool) -> None:
        for stack in self.stacks.values():
            stack.setCurrentIndex(1 if on else 0)
        self.table_button.setText("Form view" if on else "Table view")

    # --- showing values -------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        """Show the stored values (after an import, a reset, or a change made elsewhere)."""
        values = self.part.values()
        self.show_values(values)
        if self.database is not None:
            self.database.show_state()
        if self.backups is not None:
            await self.backups.refresh()

    def show_values(self, values: Mapping[str, object], force: bool = False) -> None:
        for key, row in self.rows.items():
            row.show_value(values[key], force)
        for (tab, group), button in self.group_resets.items():
            button.setEnabled(any(values[d.key] != d.default for d in settings_of(tab) if d.group == group))
        for label in self.matrix_labels:
            label.show_stored(values)
        if values == self._table_values:
            return
        self._table_values = dict(values)
        for tab, table in self.tables.items():
            table.fill(
                [
                    (d.group, d.label, _text(values[d.key]), d.unit, _text(d.default), allowed_text(d.key), d.key)
                    for d in SETTINGS
                    if d.tab is tab
                ]
            )

    def _preview(self, key: str, value: object) -> None:
        if depends_on(key):
            for label in self.matrix_labels:
                label.preview(key, value)

    # --- changing ---------------------------------------------------------------------------------------------

    def _edited(self, key: str, value: object) -> None:
        self.request_change({key: value})

    def reset_group(self, tab: Tab, group: str) -> None:
        values = self.part.values()
        changes = {d.key: d.default for d in settings_of(tab) if d.group == group and values[d.key] != d.default}
        if changes:
            self.request_change(changes)

    def request_change(self, changes: dict[str, object]) -> None:
        """Validate ``changes`` as a whole, confirm where the schema asks, then store them (all or nothing)."""
        current = self.part.values()
        try:
            normalised = validate_many(changes, base=current)
        except SettingsValidationErrors as errors:
            self._show_errors(errors.errors, changes)
            return
        normalised = {k: v for k, v in normalised.items() if current[k] != v}
        if not normalised:
            self.show_values(current, force=True)
            return
        for key in normalised:
            if key in self.rows:
                self.rows[key].editor.show_error(None)
        spawn(self._confirm_and_apply(normalised, current), "settings change")

    def _show_errors(self, errors: list[SettingValidationError], changes: Mapping[str, object]) -> None:
        for error in errors:
            target = next((k for k in error.keys if k in changes and k in self.rows), None)
            if target is None:
                target = next((k for k in error.keys if k in self.rows), None)
            if target is not None:
                self.rows[target].editor.show_error(error.message)
        self.status.setText("Not saved: " + "; ".join(e.message for e in errors))
        self.show_values(self.part.values(), force=True)  # editors back to stored values; messages stay

    async def _confirm_and_apply(self, changes: dict[str, object], current: Mapping[str, object]) -> None:
        texts = [ask for key, new in changes.items() if (ask := confirmation_for(key, current[key], new))]
        if texts:
            new_length = changes.get(POSITION_LENGTH)
            if isinstance(new_length, int) and new_length < int(str(current[POSITION_LENGTH])):
                count = await self.part.trim_preview(new_length)
                texts.append(
                    f"{count:,} stored result{'s' if count != 1 else ''} will be deleted: every configuration set "
                    f"keeps only its newest {new_length}."
                )
            if not await self.confirm("\n\n".join(texts)):
                self.status.setText("Change cancelled; nothing was saved.")
                self.show_values(self.part.values(), force=True)
                return
        await self.apply(changes)

    async def confirm(self, text: str, title: str = "Confirm change") -> bool:
        """Ask with a non-blocking dialog (``open()``) and await the answer; never a nested event loop."""
        box = QMessageBox(QMessageBox.Icon.Question, title, text,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def finished(_result: int) -> None:
            if not answer.done():
                answer.set_result(box.clickedButton() is box.button(QMessageBox.StandardButton.Yes))

        box.finished.connect(finished)
        self.confirm_box = box
        box.open()
        try:
            return await answer
        finally:
            self.confirm_box = None
            box.deleteLater()

    async def apply(self, changes: dict[str, object]) -> None:
        try:
            normalised, trimmed = await self.part.apply(changes)
        except SettingsValidationErrors as errors:
            self._show_errors(errors.errors, changes)
            return
        except Exception as exc:
            log.exception("saving settings failed")
            self.status.setText(f"Not saved: {exc}")
            self.show_values(self.part.values(), force=True)
            return
        names = ", ".join(definition(k).label for k in normalised)
        restart = [definition(k).label for k in normalised if definition(k).restart_required]
        message = f"Saved {names}." + (" Running engines use it now." if not restart else "")
        if restart:
            message += f" {', '.join(restart)} takes effect after a restart."
        if trimmed:
            message += f" {trimmed:,} stored results were trimmed."
        self.status.setText(message)
        self.show_values(self.part.values())

    # --- import / export ------------------------------------------------------------------------------------

    def _file_dialog(self, title: str, save: bool) -> QFileDialog:
        dialog = QFileDialog(self, title)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave if save else QFileDialog.AcceptMode.AcceptOpen)
        dialog.setFileMode(QFileDialog.FileMode.AnyFile if save else QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilter("Settings (*.json);;All files (*)")
        dialog.setDefaultSuffix("json")
        dialog.setOption(QFileDialog.Option.DontUseNativeDialog, True)  # open() is non-blocking on every OS
        if save:
            dialog.selectFile("cts-desktop-settings.json")
        self.file_dialog = dialog
        return dialog

    def choose_export_file(self) -> None:
        dialog = self._file_dialog("Export settings", save=True)
        dialog.fileSelected.connect(lambda path: spawn(self.export_to(path), "settings export"))
        dialog.open()

    def choose_import_file(self) -> None:
        dialog = self._file_dialog("Import settings", save=False)
        dialog.fileSelected.connect(lambda path: spawn(self.import_from(path), "settings import"))
        dialog.open()

    async def export_to(self, path: str) -> None:
        try:
            await self.part.export(path)
        except OSError as exc:
            self.status.setText(f"Export failed: {exc.strerror or exc}")
            return
        self.status.setText(f"Exported every setting to {path} (no secrets are part of it).")

    async def import_from(self, path: str) -> None:
        try:
            text = await asyncio.to_thread(_read_text, path)
            incoming = self.part.import_preview(text)
        except (OSError, UnicodeDecodeError) as exc:
            self.status.setText(f"Import failed: cannot read {path}: {exc}")
            return
        except SettingsImportError as exc:
            self.status.setText(f"Import refused, nothing was changed: {exc}")
            return
        current = self.part.values()
        changed = {k: v for k, v in incoming.items() if current[k] != v}
        texts = [ask for key, new in changed.items() if (ask := confirmation_for(key, current[key], new))]
        new_length = changed.get(POSITION_LENGTH)
        if isinstance(new_length, int) and new_length < int(str(current[POSITION_LENGTH])):
            count = await self.part.trim_preview(new_length)
            texts.append(f"{count:,} stored results will be deleted (sets keep their newest {new_length}).")
        summary = f"Import {len(changed)} changed setting{'s' if len(changed) != 1 else ''} from {path}?"
        if not await self.confirm("\n\n".join([summary, *texts]), "Import settings"):
            self.status.setText("Import cancelled; nothing was changed.")
            return
        try:
            count, trimmed = await self.part.import_document(text)
        except SettingsImportError as exc:
            self.status.setText(f"Import refused, nothing was changed: {exc}")
            return
        ignored = self.part.ignored_in_import(text)
        self.status.setText(
            f"Imported {path}: {count} setting{'s' if count != 1 else ''} changed"
            + (f", {trimmed:,} stored results trimmed." if trimmed else ".")
            + (f" Ignored {len(ignored)} removed setting{'s' if len(ignored) != 1 else ''} (they did nothing): "
               + ", ".join(ignored) + "." if ignored else "")
        )
        self.show_values(self.part.values())


def _read_text(path: str) -> str:
    with open(path, encoding="utf-8") as source:
        return source.read()
