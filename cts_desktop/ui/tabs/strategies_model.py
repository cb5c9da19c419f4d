"""Results table of the Strategies tab: auto-optimal rows (or backtested sets) in a Qt model, sortable by the
numbers themselves (not their text) and filterable by text and by "valid only"."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt

from cts_desktop.application.strategies import OptimalRow
from cts_desktop.ui.table import SORT_ROLE, Column, Index, RowTableModel


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


def _row(r: OptimalRow) -> OptimalRow:
    return r


def _figure(name: str, header: str, digits: int = 2) -> Column:
    """A figure that may be NaN ("—") or infinite; sorted by the number, NaN lowest."""
    return Column(name, header, lambda v: _num(v, digits), numeric=True, sort_key=_sort_value)


COLUMNS: list[Column] = [
    Column(_row, "Rank", lambda r: ""),  # shown and sorted by the position in the ranking (ResultsModel.data)
    Column("symbol", "Symbol"),
    Column(_row, "Indication", lambda r: f"{r.indication}({','.join(f'{p:g}' for p in r.params)})",
           sort_key=lambda r: r.indication),
    Column("direction", "Side", lambda d: "long" if d > 0 else "short"),
    Column(lambda r: r.exit.tp, "TP", lambda v: f"{v:g}", numeric=True),
    Column(lambda r: r.exit.sl, "SL", lambda v: f"{v:g}", numeric=True),
    Column(lambda r: r.exit, "Trailing", lambda e: f"{e.trail_start:g}/{e.trail_stop:g}" if e.trailing else "off",
           sort_key=lambda e: e.trail_start * 10 + e.trail_stop),
    Column(lambda r: r.adjust.label, "Adjust", lambda label: label or "—"),
    Column("trades", "Trades", numeric=True),
    _figure("win_rate_pct", "Win %", 1),
    Column("net_pct", "Net %", _num, numeric=True),
    _figure("gross_pf", "Gross PF"),
    _figure("pf_a", "PF 25"),
    _figure("pf_b", "PF 50"),
    _figure("per_48h", "Trades/48 h", 1),
    Column("drawdown_time_h", "DD time h", lambda v: _num(v, 1), numeric=True),
    Column("max_drawdown_pct", "Max DD %", _num, numeric=True),
    Column(_row, "Valid", lambda r: "yes" if r.valid else r.reason, sort_key=lambda r: int(r.valid),
           tooltip=lambda r: r.reason),
]


class ResultsModel(RowTableModel):
    """The results, ranked: the Rank column is the position in the given order (the proxy sorts and filters)."""

    def __init__(self) -> None:
        super().__init__(COLUMNS, key=None, cap=1_000_000)

    def set_rows(self, rows: Sequence[Any]) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if index.isValid() and index.column() == 0 and role in (Qt.ItemDataRole.DisplayRole, SORT_ROLE):
            return str(index.row() + 1) if role == Qt.ItemDataRole.DisplayRole else index.row()
        return super().data(index, role)


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
        hay = " ".join(c.fmt(c.value(row)) for c in COLUMNS[1:]).lower()
        return all(part in hay for part in self.text.split())

    def row_at(self, proxy_row: int) -> OptimalRow:
        model = self.sourceModel()
        assert isinstance(model, ResultsModel)
        return model.rows[self.mapToSource(self.index(proxy_row, 0)).row()]
