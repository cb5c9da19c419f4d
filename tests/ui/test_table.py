"""The one table base: what the user arranged (column order, widths, hidden columns, sort) is there again after the
widget is built anew — as after a restart — and the CSV export writes exactly what the table shows."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cts_desktop.app import create_qapp
from cts_desktop.ui.table import Column, DataTable, RowTableModel, fmt_num, sign_colour


@dataclass(frozen=True, slots=True)
class Fill:
    id: int
    symbol: str
    pnl: float | None


COLUMNS = [Column("id", "#", numeric=True), Column("symbol", "Symbol"),
           Column("pnl", "PnL", fmt_num(2), numeric=True, colour=sign_colour)]
ROWS = [Fill(1, "BTC/USDT:USDT", 5.0), Fill(2, "ETH/USDT:USDT", -1.5), Fill(3, "SOL/USDT:USDT", None)]


def make_table() -> DataTable:
    create_qapp()
    table = DataTable(RowTableModel(COLUMNS), "test.fills")
    table.resize(500, 200)
    table.fill(ROWS)
    return table


def test_column_state_survives_a_restart_of_the_widget() -> None:
    table = make_table()
    header = table.horizontalHeader()
    header.moveSection(2, 0)  # PnL first
    header.resizeSection(2, 173)
    table.show_column(0, False)
    table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    assert table.column_texts(2) == ["5.00", "-1.50", ""]
    table.deleteLater()
    QApplication.sendPostedEvents()

    again = make_table()  # a new widget reading the saved state, as at the next start
    header = again.horizontalHeader()
    assert again.restored
    assert [header.logicalIndex(v) for v in range(3)] == [2, 0, 1]
    assert header.sectionSize(2) == 173
    assert header.isSectionHidden(0)
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (2, Qt.SortOrder.DescendingOrder)
    assert again.column_texts(1) == ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]  # sorted by PnL, None last

    again.reset_columns()
    fresh = make_table()
    header = fresh.horizontalHeader()
    assert [header.logicalIndex(v) for v in range(3)] == [0, 1, 2] and not header.isSectionHidden(0)
    assert fresh.column_texts(0) == ["1", "2", "3"]  # the given order again


def test_a_table_whose_columns_changed_starts_fresh() -> None:
    table = make_table()
    table.horizontalHeader().moveSection(2, 0)
    other = DataTable(RowTableModel(COLUMNS[:2]), "test.fills")  # the same name, other columns (a new version)
    assert not other.restored


def test_csv_export_writes_what_the_table_shows(tmp_path: Path) -> None:
    table = make_table()
    table.sortByColumn(2, Qt.SortOrder.AscendingOrder)
    path = tmp_path / "fills.csv"
    assert table.export_csv(str(path)) == 3
    assert table.message == f"3 rows written to {path}"
    with path.open(encoding="utf-8", newline="") as f:
        assert list(csv.reader(f)) == [["#", "Symbol", "PnL"], ["2", "ETH/USDT:USDT", "-1.50"],
                                       ["1", "BTC/USDT:USDT", "5.00"], ["3", "SOL/USDT:USDT", ""]]
    assert table.export_csv(str(tmp_path / "missing" / "x.csv")) == 0
    assert table.message.startswith("Export failed:")


def test_copy_and_the_context_menu() -> None:
    table = make_table()
    table.selectRow(1)
    assert table.copy_selection() == "2\tETH/USDT:USDT\t-1.50"
    assert QApplication.clipboard().text() == "2\tETH/USDT:USDT\t-1.50"
    assert table.selected_rows() == [ROWS[1]]
    menu = table._menu(table.rect().center())
    assert [a.text() for a in menu.actions()] == ["Copy", "Export CSV…", "Columns", "Reset columns"]
    menu.close()
    table.show_column(0, False)
    table.show_column(1, False)
    table.show_column(2, False)  # the last visible column stays
    assert not table.horizontalHeader().isSectionHidden(2)


def test_a_burst_of_column_resizes_writes_the_state_file_once(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Fitting rows, a scroll bar appearing or a drag resize columns many times in a row: the state is written once
    the widths settle (each write took ~13 ms on the GUI thread), and the last width is the one restored."""
    table = make_table()
    qtbot.addWidget(table)
    writes: list[str] = []
    save = DataTable.save_state

    def counted(self: DataTable) -> None:
        writes.append(self.name)
        save(self)

    monkeypatch.setattr(DataTable, "save_state", counted)
    header = table.horizontalHeader()
    for width in range(60, 100, 2):  # a drag: twenty widths
        header.resizeSection(1, width)
    assert writes == []
    qtbot.waitUntil(lambda: len(writes) == 1, timeout=5000)
    again = make_table()
    qtbot.addWidget(again)
    assert again.restored and again.horizontalHeader().sectionSize(1) == 98
    header.resizeSection(1, 120)  # changed just before the window closes: saved when it hides
    table.show()
    table.hide()
    assert len(writes) == 2 and make_table().horizontalHeader().sectionSize(1) == 120
