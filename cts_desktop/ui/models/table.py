"""One table model for every Dashboard table, declared by a column spec (the vn.py monitor idea in model/view form).

Rows are plain dataclasses; the model keeps at most ``cap`` of them, sorts in place when a header is clicked, and
re-sorts new data the same way. Updating with rows of the same keys in the same order only signals the changed
cells, so a 5-per-second refresh of an unchanged table costs nothing to repaint. ``to_csv`` writes what the
table shows (formatted cells, current order).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # attribute of the row dataclass
    header: str
    fmt: Callable[[Any], str] = lambda v: "" if v is None else str(v)
    numeric: bool = False
    colour: Callable[[Any], str | None] | None = None  # cell value → text colour (e.g. PnL sign)


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


def fmt_bool(v: Any) -> str:
    return "yes" if v else "no"


def sign_colour(v: Any) -> str | None:
    if v is None or float(v) == 0:
        return None
    return "#2e9d57" if float(v) > 0 else "#d64541"


class RowTableModel(QAbstractTableModel):
    def __init__(self, columns: Sequence[Column], key: str = "id", cap: int = 500) -> None:
        super().__init__()
        self.columns = list(columns)
        self.key = key
        self.cap = cap
        self.rows: list[Any] = []
        self._sort: tuple[int, Qt.SortOrder] | None = None

    # --- Qt interface ---------------------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        column = self.columns[index.column()]
        value = getattr(self.rows[index.row()], column.key)
        if role == Qt.ItemDataRole.DisplayRole:
            return column.fmt(value)
        if role == Qt.ItemDataRole.TextAlignmentRole and column.numeric:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ForegroundRole and column.colour is not None:
            colour = column.colour(value)
            return QColor(colour) if colour else None
        if role == Qt.ItemDataRole.UserRole:
            return value
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].header
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        self.rows = self._sorted(self.rows)
        self.layoutChanged.emit()

    # --- data -----------------------------------------------------------------------------------------------

    def _sorted(self, rows: list[Any]) -> list[Any]:
        if self._sort is None:
            return rows
        column, order = self._sort
        key = self.columns[column].key
        present = [r for r in rows if getattr(r, key) is not None]
        missing = [r for r in rows if getattr(r, key) is None]
        present.sort(key=lambda r: getattr(r, key), reverse=order == Qt.SortOrder.DescendingOrder)
        return present + missing

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Replace the rows (newest ``cap`` kept, in the given order unless a column sort is active)."""
        new = self._sorted(list(rows)[: self.cap])
        old_keys = [getattr(r, self.key) for r in self.rows]
        new_keys = [getattr(r, self.key) for r in new]
        if old_keys == new_keys:
            changed = [i for i, (a, b) in enumerate(zip(self.rows, new, strict=True)) if a != b]
            self.rows = new
            if changed:
                self.dataChanged.emit(self.index(min(changed), 0),
                                      self.index(max(changed), len(self.columns) - 1))
            return
        self.beginResetModel()
        self.rows = new
        self.endResetModel()

    def to_csv(self, path: str) -> int:
        """Write the table as shown (header + formatted cells, current order); returns the rows written."""
        with open(path, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow([c.header for c in self.columns])
            for row in self.rows:
                writer.writerow([c.fmt(getattr(row, c.key)) for c in self.columns])
        return len(self.rows)


POSITION_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("symbol", "Symbol"),
    Column("side", "Side"), Column("paper", "Paper", fmt_bool), Column("status", "Status"),
    Column("quantity", "Qty", fmt_num(4), True), Column("entry_price", "Entry", fmt_price, True),
    Column("take_profit", "TP", fmt_price, True), Column("stop_loss", "SL", fmt_price, True),
    Column("net_pnl", "Net PnL", fmt_num(2), True, sign_colour), Column("opened_ms", "Opened (UTC)", fmt_time),
]

ORDER_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("symbol", "Symbol"),
    Column("side", "Side"), Column("order_type", "Type"), Column("reduce_only", "Reduce", fmt_bool),
    Column("quantity", "Qty", fmt_num(4), True), Column("average_price", "Avg price", fmt_price, True),
    Column("filled", "Filled", fmt_num(4), True), Column("status", "Status"), Column("paper", "Paper", fmt_bool),
    Column("created_ms", "Created (UTC)", fmt_time),
]

FILL_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("symbol", "Symbol"),
    Column("side", "Side"), Column("quantity", "Qty", fmt_num(4), True), Column("price", "Price", fmt_price, True),
    Column("fee", "Fee", fmt_num(4), True), Column("ts_ms", "Time (UTC)", fmt_time),
]
