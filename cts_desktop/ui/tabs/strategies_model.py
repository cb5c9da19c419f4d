"""Results table of the Strategies tab: auto-optimal rows (or backtested sets) in a Qt model, sortable by the
numbers themselves (not their text) and filterable by text and by "valid only"."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt

from cts_desktop.application.strategies import OptimalRow

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()


def _num(value: float, digits: int = 2) -> str:
    if math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    return f"{value:.{digits}f}"


def _sort_value(value: float) -> float:
    if math.isnan(value):
        return -1e300
    return 1e300 if value == math.inf else value


COLUMNS: list[tuple[str, Callable[[OptimalRow], Any], Callable[[OptimalRow], str]]] = [
    ("Rank", lambda r: 0, lambda r: ""),
    ("Symbol", lambda r: r.symbol, lambda r: r.symbol),
    ("Indication", lambda r: r.indication, lambda r: f"{r.indication}({','.join(f'{p:g}' for p in r.params)})"),
    ("Side", lambda r: r.direction, lambda r: "long" if r.direction > 0 else "short"),
    ("TP", lambda r: r.exit.tp, lambda r: f"{r.exit.tp:g}"),
    ("SL", lambda r: r.exit.sl, lambda r: f"{r.exit.sl:g}"),
    ("Trailing", lambda r: r.exit.trail_start * 10 + r.exit.trail_stop,
     lambda r: f"{r.exit.trail_start:g}/{r.exit.trail_stop:g}" if r.exit.trailing else "off"),
    ("Adjust", lambda r: r.adjust.label, lambda r: r.adjust.label or "—"),
    ("Trades", lambda r: r.trades, lambda r: str(r.trades)),
    ("Win %", lambda r: _sort_value(r.win_rate_pct), lambda r: _num(r.win_rate_pct, 1)),
    ("Net %", lambda r: r.net_pct, lambda r: _num(r.net_pct)),
    ("Gross PF", lambda r: _sort_value(r.gross_pf), lambda r: _num(r.gross_pf)),
    ("PF 25", lambda r: _sort_value(r.pf_a), lambda r: _num(r.pf_a)),
    ("PF 50", lambda r: _sort_value(r.pf_b), lambda r: _num(r.pf_b)),
    ("Trades/48 h", lambda r: _sort_value(r.per_48h), lambda r: _num(r.per_48h, 1)),
    ("DD time h", lambda r: r.drawdown_time_h, lambda r: _num(r.drawdown_time_h, 1)),
    ("Max DD %", lambda r: r.max_drawdown_pct, lambda r: _num(r.max_drawdown_pct)),
    ("Valid", lambda r: int(r.valid), lambda r: "yes" if r.valid else r.reason),
]


_TEXT_COLUMNS = {"Trailing", "Adjust", "Valid"}


class ResultsModel(QAbstractTableModel):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[OptimalRow] = []

    def set_rows(self, rows: list[OptimalRow]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = _ROOT) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section][0]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return str(index.row() + 1) if col == 0 else COLUMNS[col][2](row)
        if role == SORT_ROLE:
            return index.row() if col == 0 else COLUMNS[col][1](row)
        if role == Qt.ItemDataRole.TextAlignmentRole and col >= 4 and COLUMNS[col][0] not in _TEXT_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and col == len(COLUMNS) - 1:
            return row.reason
        return None


class ResultsFilter(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`; keeps rows whose text matches the filter and, optionally, only valid rows."""

    def __init__(self) -> None:
        super().__init__()
        self.setSortRole(SORT_ROLE)
        self.valid_only = False
        self.text = ""

    def set_text(self, text: str) -> None:
        self._begin_filter_change()
        self.text = text.strip().lower()
        self._end_filter_change()

    def set_valid_only(self, on: bool) -> None:
        self._begin_filter_change()
        self.valid_only = on
        self._end_filter_change()

    # Qt 6.10 deprecated invalidateFilter(): the filter change is bracketed by begin/endFilterChange instead
    # (kept working on older Qt through invalidate(), which re-filters and re-sorts).
    def _begin_filter_change(self) -> None:
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()

    def _end_filter_change(self) -> None:
        if hasattr(self, "endFilterChange"):
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - Qt < 6.10
            self.invalidate()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        model = self.sourceModel()
        assert isinstance(model, ResultsModel)
        row = model.rows[source_row]
        if self.valid_only and not row.valid:
            return False
        if not self.text:
            return True
        hay = " ".join(c[2](row) for c in COLUMNS[1:]).lower()
        return all(part in hay for part in self.text.split())

    def row_at(self, proxy_row: int) -> OptimalRow:
        model = self.sourceModel()
        assert isinstance(model, ResultsModel)
        return model.rows[self.mapToSource(self.index(proxy_row, 0)).row()]
