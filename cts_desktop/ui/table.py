"""The one table of the UI (vn.py's declarative monitor, in Qt model/view form), used by every table of every tab.

* :class:`Column` declares a column: where its value comes from (an attribute, an index of a tuple row or a
  function of the row), how it is shown, sorted and coloured.
* :class:`RowTableModel` holds plain rows (dataclasses or tuples), at most ``cap`` of them; it sorts in place when a
  header is clicked and keeps that order for new data. Updating with rows of the same keys in the same order only
  signals the changed cells, so a 5-per-second refresh of an unchanged table costs nothing to repaint.
* :class:`DataTable` is the view of any table model (a :class:`RowTableModel`, a paging or a proxy model): rows
  selected whole, a context menu (copy, export CSV, show/hide columns, reset columns), CSV export of what it shows,
  and its column state — order, widths, hidden columns, sort — kept under its name in ``tables.ini`` of the app's
  config folder (:func:`keep_state_in`), so a table looks after a restart as the user left it.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractProxyModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSettings,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QHideEvent
from PySide6.QtWidgets import QAbstractItemView, QFileDialog, QHeaderView, QMenu, QTableView, QWidget

Index = QModelIndex | QPersistentModelIndex
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # what sorting compares (proxies sort by it)
STATE_ORGANISATION, STATE_FILE = "cts-desktop", "tables"
SAVE_DELAY_MS = 1000  # column widths are saved this long after they last changed


def _plain(value: Any) -> str:
    return "" if value is None else str(value)


@dataclass(frozen=True, slots=True)
class Column:
    key: str | int | Callable[[Any], Any]  # attribute of the row, index into a tuple row, or a function of the row
    header: str
    fmt: Callable[[Any], str] = _plain
    numeric: bool = False  # right-aligned
    colour: Callable[[Any], str | None] | None = None  # value → text colour (e.g. PnL sign)
    background: Callable[[Any], str | None] | None = None  # value → badge colour: bold white text, centred
    sort_key: Callable[[Any], Any] | None = None  # value → what sorting compares (default: the value)
    tooltip: Callable[[Any], str | None] | None = None

    def value(self, row: Any) -> Any:
        key = self.key
        if isinstance(key, str):
            return getattr(row, key)
        if isinstance(key, int):
            return row[key]
        return key(row)

    def order(self, row: Any) -> Any:
        value = self.value(row)
        return value if self.sort_key is None else self.sort_key(value)


def columns(*headers: str) -> list[Column]:
    """Plain text columns of tuple rows, in order."""
    return [Column(index, header) for index, header in enumerate(headers)]


def text_table(name: str, *headers: str) -> DataTable:
    """A table of tuple rows shown as given (``fill`` them), e.g. counts already formatted."""
    return DataTable(RowTableModel(columns(*headers), key=None), name)


def fmt_num(digits: int) -> Callable[[Any], str]:
    return lambda v: "" if v is None else f"{float(v):,.{digits}f}"


def fmt_price(v: Any) -> str:
    if v is None:
        return ""
    value = float(v)
    digits = 2 if abs(value) >= 100 else 4 if abs(value) >= 1 else 6
    return f"{value:,.{digits}f}"


def fmt_time(v: Any) -> str:
    return "" if not v else datetime.fromtimestamp(int(v) / 1000, UTC).strftime("%m-%d %H:%M:%S")


def fmt_duration(v: Any) -> str:
    """Seconds as "2d 5h", "3h 07m" or "4m 09s"."""
    if v is None:
        return ""
    days, rest = divmod(int(v), 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


def fmt_bool(v: Any) -> str:
    return "yes" if v else "no"


def sign_colour(v: Any) -> str | None:
    if v is None or float(v) == 0:
        return None
    return "#2e9d57" if float(v) > 0 else "#d64541"


class RowTableModel(QAbstractTableModel):
    """Rows shown through column specs; ``key`` names the attribute that identifies a row (None: its position)."""

    def __init__(self, columns: Sequence[Column], key: str | None = "id", cap: int = 500) -> None:
        super().__init__()
        self.columns = list(columns)
        self.key = key
        self.cap = cap
        self.rows: list[Any] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None
        self._bold = QFont()
        self._bold.setBold(True)

    # --- Qt interface ---------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        column = self.columns[index.column()]
        value = column.value(self.rows[index.row()])
        if role == Qt.ItemDataRole.DisplayRole:
            return column.fmt(value)
        if role == SORT_ROLE:
            return value if column.sort_key is None else column.sort_key(value)
        if role == Qt.ItemDataRole.UserRole:
            return value
        if role == Qt.ItemDataRole.ToolTipRole:
            return column.tooltip(value) if column.tooltip is not None else None
        return self._style(column, value, role)

    def _style(self, column: Column, value: Any, role: int) -> Any:
        badge = column.background(value) if column.background is not None else None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column.background is not None:
                return int(Qt.AlignmentFlag.AlignCenter)
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter) if column.numeric else None
        if role == Qt.ItemDataRole.ForegroundRole:
            colour = "white" if badge else column.colour(value) if column.colour is not None else None
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.BackgroundRole:
            return QColor(badge) if badge else None
        if role == Qt.ItemDataRole.FontRole and column.background is not None:
            return self._bold
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order) if column >= 0 else None
        self.layoutAboutToBeChanged.emit()
        self.rows = self._sorted(self.rows)
        self.layoutChanged.emit()

    # --- data -----------------------------------------------------------------------------------------------

    def _sorted(self, rows: list[Any]) -> list[Any]:
        if self._sort is None:
            return rows
        number, order = self._sort
        column = self.columns[number]
        keys = [column.order(r) for r in rows]  # once per row: tens of thousands of rows sort on the GUI thread
        present = [i for i, k in enumerate(keys) if k is not None]
        present.sort(key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        return [rows[i] for i in present] + [r for r, k in zip(rows, keys, strict=True) if k is None]

    def _keys(self, rows: list[Any]) -> list[Any]:
        return list(range(len(rows))) if self.key is None else [getattr(r, self.key) for r in rows]

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Replace the rows (the first ``cap`` kept, in the given order unless a column sort is active)."""
        new = self._sorted(list(rows)[: self.cap])
        if self._keys(self.rows) == self._keys(new):
            changed = [i for i, (a, b) in enumerate(zip(self.rows, new, strict=True)) if a != b]
            self.rows = new
            if changed:
                self.dataChanged.emit(self.index(min(changed), 0),
                                      self.index(max(changed), len(self.columns) - 1))
            return
        self.beginResetModel()
        self.rows = new
        self.endResetModel()

    def row_at(self, row: int) -> Any:
        return self.rows[row]


def write_csv(model: QAbstractItemModel, path: str) -> int:
    """Write a table as shown — header and formatted cells, in the current order; returns the rows written."""
    count, width = model.rowCount(), model.columnCount()
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([model.headerData(c, Qt.Orientation.Horizontal) for c in range(width)])
        for r in range(count):
            writer.writerow([model.index(r, c).data() or "" for c in range(width)])
    return count


def keep_state_in(folder: Path) -> None:
    """Keep the tables' column state in ``folder`` (the app's config folder), for every table of the process."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


def _state() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, STATE_ORGANISATION, STATE_FILE)


class DataTable(QTableView):
    """The view every table uses (see the module docstring). ``name`` keys its saved column state."""

    def __init__(self, model: QAbstractItemModel, name: str, *, sortable: bool = True,
                 resize: QHeaderView.ResizeMode = QHeaderView.ResizeMode.Interactive,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setModel(model)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(20)
        header = self.horizontalHeader()
        header.setSectionResizeMode(resize)
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # the given order until a header is clicked
        self.restored = self._restore()
        self.setSortingEnabled(sortable)
        if not self.restored:
            self.resizeColumnsToContents()  # no rows yet: every header reads whole until rows size the columns
        self._sized = self.restored
        self.dialog: QFileDialog | None = None
        self.message = ""  # the last export's outcome
        # the table's own actions on the rows under the menu (e.g. close a position), added above the common ones
        self.row_actions: Callable[[QMenu, list[Any]], None] | None = None
        self.last_menu: QMenu | None = None
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(lambda pos: self._menu(pos, on_header=True))
        # a column width is saved once the widths have settled: each write of the state file took ~13 ms on the GUI
        # thread, and widths change in bursts (fitting the first rows resizes every column; a scroll bar appearing
        # resizes the stretched last one; a drag resizes on every mouse move)
        self._save_later = QTimer(self)
        self._save_later.setSingleShot(True)
        self._save_later.setInterval(SAVE_DELAY_MS)
        self._save_later.timeout.connect(self.save_state)
        header.sectionResized.connect(self._resized)
        for signal in (header.sectionMoved, header.sortIndicatorChanged):
            signal.connect(self._changed)
        model.modelReset.connect(self._rows_arrived)
        model.rowsInserted.connect(self._rows_arrived)

    # --- rows -------------------------------------------------------------------------------------------------

    @property
    def source(self) -> QAbstractItemModel:
        """The model under any proxy."""
        model = self.model()
        while isinstance(model, QAbstractProxyModel):
            model = model.sourceModel()
        return model

    def fill(self, rows: Sequence[Any]) -> None:
        """New rows for a :class:`RowTableModel`."""
        source = self.source
        assert isinstance(source, RowTableModel), f"{self.name} does not hold a RowTableModel"
        source.set_rows(rows)

    def set_widths(self, widths: Sequence[int]) -> None:
        """The table's own first column widths (instead of fitting the first rows), unless the user's were restored."""
        if not self.restored:
            header = self.horizontalHeader()
            for column, width in enumerate(widths):  # never narrower than the column's title
                header.resizeSection(column, max(width, header.sectionSizeHint(column)))
            self._sized = True

    def _rows_arrived(self) -> None:
        """The columns fit the first rows, unless the user's sizes were restored."""
        if not self._sized and self.model().rowCount():
            self._sized = True
            self.resizeColumnsToContents()

    def row_count(self) -> int:
        return self.model().rowCount()

    def text(self, row: int, column: int) -> str:
        """The text shown in a cell (view order: after any sort or filter)."""
        return str(self.model().index(row, column).data() or "")

    def column_texts(self, column: int) -> list[str]:
        return [self.text(row, column) for row in range(self.row_count())]

    def selected_rows(self) -> list[Any]:
        """The source rows of the selection, in view order."""
        source = self.source
        assert isinstance(source, RowTableModel)
        out = []
        for index in sorted(self.selectionModel().selectedRows(), key=lambda i: i.row()):
            model: QAbstractItemModel = self.model()
            while isinstance(model, QAbstractProxyModel):
                index = model.mapToSource(index)
                model = model.sourceModel()
            out.append(source.row_at(index.row()))
        return out

    # --- export and copy --------------------------------------------------------------------------------------

    def export_csv(self, path: str) -> int:
        try:
            count = write_csv(self.model(), path)
        except OSError as error:
            self.message = f"Export failed: {error}"
            return 0
        self.message = f"{count} rows written to {path}"
        return count

    def ask_export(self, on_done: Callable[[str], None] | None = None) -> QFileDialog:
        """Choose a file without a nested event loop (``open`` + ``fileSelected``), then export to it."""
        dialog = QFileDialog(self.window(), "Export table as CSV", f"{self.name.replace('.', '-')}.csv",
                             "CSV files (*.csv)")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")

        def chosen(path: str) -> None:
            self.export_csv(path)
            if on_done is not None:
                on_done(self.message)

        dialog.fileSelected.connect(chosen)
        self.dialog = dialog
        dialog.open()
        return dialog

    def copy_selection(self) -> str:
        """The selected rows as tab-separated text, also put on the clipboard."""
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        text = "\n".join("\t".join(self.text(r, c) for c in self._visible_columns()) for r in rows)
        QGuiApplication.clipboard().setText(text)
        return text

    def _visible_columns(self) -> list[int]:
        header = self.horizontalHeader()
        logical = [header.logicalIndex(v) for v in range(header.count())]
        return [c for c in logical if not header.isSectionHidden(c)]

    def _menu(self, pos: QPoint, on_header: bool = False) -> QMenu:
        menu = QMenu(self)
        if not on_header and self.row_actions is not None:
            index = self.indexAt(pos)
            if index.isValid() and not self.selectionModel().isRowSelected(index.row(), index.parent()):
                self.selectRow(index.row())  # the row under the mouse, as a file manager does
            rows = self.selected_rows() if isinstance(self.source, RowTableModel) else []
            if rows:
                self.row_actions(menu, rows)
                menu.addSeparator()
        if not on_header:
            menu.addAction("Copy", self.copy_selection).setEnabled(self.selectionModel().hasSelection())
        menu.addAction("Export CSV…", self.ask_export)
        shown = menu.addMenu("Columns")
        header = self.horizontalHeader()
        for column in range(header.count()):
            action = shown.addAction(str(self.model().headerData(column, Qt.Orientation.Horizontal)))
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            action.toggled.connect(lambda on, c=column: self.show_column(c, on))
        menu.addAction("Reset columns", self.reset_columns)
        widget = header if on_header else self.viewport()
        menu.popup(widget.mapToGlobal(pos))
        self.last_menu = menu
        return menu

    # --- column state -----------------------------------------------------------------------------------------

    def show_column(self, column: int, shown: bool) -> None:
        if not shown and len(self._visible_columns()) <= 1:
            return  # the last visible column stays
        self.horizontalHeader().setSectionHidden(column, not shown)
        self.save_state()

    def _changed(self) -> None:
        if self._sized:  # before the first rows fit the columns, resizes come from the layout, not the user
            self.save_state()

    def _resized(self) -> None:
        if self._sized:
            self._save_later.start()

    def hideEvent(self, event: QHideEvent) -> None:
        """A width changed just before the window closes is saved now, not lost with the timer."""
        if self._save_later.isActive():
            self.save_state()
        super().hideEvent(event)

    def _signature(self) -> str:
        model = self.model()
        return "|".join(str(model.headerData(c, Qt.Orientation.Horizontal)) for c in range(model.columnCount()))

    def save_state(self) -> None:
        self._save_later.stop()
        state = _state()
        state.setValue(f"{self.name}/columns", self._signature())
        state.setValue(f"{self.name}/header", self.horizontalHeader().saveState())

    def _restore(self) -> bool:
        state = _state()
        saved = state.value(f"{self.name}/header")
        if saved is None or state.value(f"{self.name}/columns") != self._signature():
            return False  # never saved, or the table's columns changed since
        return bool(self.horizontalHeader().restoreState(saved))

    def reset_columns(self) -> None:
        """Back to the table's own layout: every column shown, in order, fitted to the contents, unsorted."""
        header = self.horizontalHeader()
        for column in range(header.count()):
            header.setSectionHidden(column, False)
            header.moveSection(header.visualIndex(column), column)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.resizeColumnsToContents()
        self.save_state()
