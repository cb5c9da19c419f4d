"""Strategies tab on real services (offscreen): auto-optimal over cached real candles, the sortable/filterable
results table, backtest of the chosen row with the equity curve and trades on the price chart, cancel from the UI
within a second, saving results as a preset and applying it to a connection; screenshot strategies-light."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from cts_desktop.app import create_qapp
from cts_desktop.application.application import Application
from cts_desktop.services import Services
from cts_desktop.storage.candles import store_candles
from cts_desktop.storage.models import Backtest, Connection
from cts_desktop.storage.models_presets import ConnectionPreset
from cts_desktop.ui.tabs.strategies import StrategiesTab
from cts_desktop.ui.tabs.strategies_model import COLUMNS
from cts_desktop.ui.theme import apply_theme
from tests.helpers.waiting import until
from tests.ui.conftest import save_screenshot

pytestmark = pytest.mark.asyncio(loop_factories=["qasync"])

DATA = Path(__file__).resolve().parents[1] / "data" / "bybit_BTCUSDT-PERP_5m_20251006.csv"
SYMBOL = "BTC/USDT:USDT"
CONN = "bybit-hist"


def seed(services: Services) -> np.ndarray:
    raw = np.loadtxt(DATA, delimiter=",", skiprows=1)
    with services.db.session() as s:
        s.add(Connection(id=CONN, name="Bybit history", exchange="bybit"))
    with services.db.session() as s:
        store_candles(s, CONN, SYMBOL, "5m", raw.tolist())
    return raw


async def make_tab(services: Services) -> tuple[StrategiesTab, np.ndarray]:
    create_qapp()
    apply_theme(QApplication.instance(), "light")  # type: ignore[arg-type]
    services.start(asyncio.get_running_loop())
    raw = seed(services)
    tab = StrategiesTab(Application(services).strategies)
    tab.resize(1600, 960)
    tab.show()
    await tab.refresh()
    f = tab.form
    f.connection.setCurrentIndex(f.connection.findData(CONN))
    f.symbols.setText(SYMBOL)
    f.timeframe.setCurrentText("5m")
    f.set_period(int(raw[0, 0]), int(raw[-1, 0]) + 300_000)
    return tab, raw


def column(name: str) -> int:
    return next(i for i, c in enumerate(COLUMNS) if c.header == name)


async def test_auto_optimal_results_backtest_presets(services: Services) -> None:
    tab, _raw = await make_tab(services)
    f = tab.form
    f.indication.setCurrentIndex(f.indication.findData("rsi"))
    f.set_param_range("period", 9, 21, 6)
    f.set_param_range("oversold", 25, 35, 5)
    f.set_param_range("overbought", 65, 75, 5)
    f.tp.setText("2, 4, 8, 12")
    f.sl.setText("0.4, 0.8, 1.2")
    f.per_48h.setValue(1.0)
    expected = 3 * 3 * 3 * 4 * 3 * 4 * 2  # params × TP × SL × (off + 3 trailing) × directions
    assert f"{expected:,} configurations" in f.count.text()
    # Block and DCA are axes: each doubles the grid, "only" keeps just the adjusted half
    f.block.setChecked(True)
    f.dca.setChecked(True)
    assert f"{expected * 4:,} configurations" in f.count.text()
    f.dca_only.setChecked(True)
    assert f"{expected * 2:,} configurations" in f.count.text()
    f.dca_distances.setText("1.0, 0.5, 1.5, 2.0")
    assert "increase" in f.count.text()
    f.dca_distances.setText("0.5, 1.0, 1.5, 2.0")
    for box in (f.block, f.dca, f.dca_only):
        box.setChecked(False)
    assert f"{expected:,} configurations" in f.count.text()

    await tab._run(tab.run_optimal(), "auto-optimal")
    assert tab.last_error == ""
    assert tab.model.rowCount() == expected
    assert f"{expected:,} configurations" in tab.status.text()
    # ranked: valid rows first, rank 1 at the top
    rows = tab.model.rows
    n_valid = sum(r.valid for r in rows)
    assert 0 < n_valid < expected
    assert all(r.valid for r in rows[:n_valid])
    # the best row was backtested: equity and trades drawn, and the same trade count as its grid cell
    assert tab.report is not None and tab.report.metrics is not None
    assert tab.report.metrics.trades == rows[0].trades == tab.trades_chart.marked
    assert tab.equity.points == len(tab.report.equity) > 0
    assert "Sharpe" in tab.summary.text()

    # sort by net result, descending, through the header (numbers, not text)
    tab.table.sortByColumn(column("Net %"), Qt.SortOrder.DescendingOrder)
    nets = [tab.proxy.row_at(i).net_pct for i in range(tab.proxy.rowCount())]
    assert nets == sorted(nets, reverse=True)
    # filters
    tab.filter.setText("short")
    assert 0 < tab.proxy.rowCount() < expected
    assert all(tab.proxy.row_at(i).direction == -1 for i in range(tab.proxy.rowCount()))
    tab.valid_only.setChecked(True)
    assert all(tab.proxy.row_at(i).valid for i in range(tab.proxy.rowCount()))
    tab.filter.setText("")
    assert tab.proxy.rowCount() == n_valid
    tab.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    tab.table.selectRow(0)
    tab.table.selectionModel().select(tab.proxy.index(1, 0), tab.table.selectionModel().SelectionFlag.Select
                                      | tab.table.selectionModel().SelectionFlag.Rows)
    chosen = tab.selected_rows()
    assert len(chosen) == 2 and chosen == rows[:2]

    await tab._run(tab.backtest_selected(), "backtest")
    assert tab.report.metrics.trades == chosen[0].trades + chosen[1].trades

    tab.preset_name.setText("RSI best two")
    await tab.save_preset()
    assert "RSI best two" in tab.preset_type.currentText() and "2 sets" in tab.preset_type.currentText()
    tab.apply_connection.setCurrentIndex(tab.apply_connection.findData(CONN))
    await tab.apply_preset()
    with services.db.session() as s:
        assigned = s.get(ConnectionPreset, CONN)
        assert assigned is not None and assigned.preset_type_id == tab.preset_type.currentData()
        kinds = sorted(str(b.params["kind"]) for b in s.query(Backtest).all())
    assert kinds == ["backtest", "backtest", "optimal"]  # two backtests (best row, the selection), one grid
    predefined = [tab.preset_type.itemText(i) for i in range(tab.preset_type.count())]
    assert sum("predefined" in t for t in predefined) == 5

    # the saved preset backtests as a whole: its two fixed sets give the same trades as the selection did
    before = len(tab.report.trades)
    await tab._run(tab.backtest_preset(), "preset backtest")
    assert tab.last_error == "" and len(tab.report.trades) == before
    assert "Preset RSI best two (2 fixed sets)" in tab.summary.text()
    # a predefined preset (sets with ranges) runs its grids
    tab.preset_type.setCurrentIndex(next(i for i in range(tab.preset_type.count())
                                         if tab.preset_type.itemText(i).startswith("Scalping")))
    await tab._run(tab.backtest_preset(), "preset backtest")
    assert tab.last_error == "" and "Preset Scalping" in tab.status.text()
    assert {r.indication for r in tab.model.rows} == {"direction", "move"}
    tab.preset_type.setCurrentIndex(tab.preset_type.findText("RSI best two", Qt.MatchFlag.MatchStartsWith))
    # stored runs are listed and open again: the optimal run's ranked rows, a backtest's equity and trades
    tab.valid_only.setChecked(False)
    texts = [tab.runs.itemText(i) for i in range(tab.runs.count())]
    assert len(texts) == 5 and "auto-optimal rsi" in texts[-1]
    tab.runs.setCurrentIndex(4)
    tab.model.set_rows([])
    await tab.open_run()
    assert tab.model.rows == rows[:500]
    tab.runs.setCurrentIndex(2)  # the backtest of the two chosen rows
    tab.equity.show_equity([])
    tab.trades_chart.show_trades(None, [])
    await tab.open_run()
    assert tab.equity.points == len(tab.report.equity)
    assert tab.trades_chart.marked == len(tab.report.trades) == chosen[0].trades + chosen[1].trades
    assert f"{chosen[0].trades + chosen[1].trades} trades" in tab.summary.text()
    tab.runs.setCurrentIndex(4)
    await tab.open_run()
    tab.table.selectRow(0)
    path = save_screenshot(tab, "strategies-light")
    assert path.stat().st_size > 20_000
    tab.close()
    tab.deleteLater()


async def test_cancel_from_the_ui_within_a_second(services: Services) -> None:
    tab, _raw = await make_tab(services)
    f = tab.form
    f.indication.setCurrentIndex(f.indication.findData("sma"))
    f.set_param_range("short", 5, 15, 1)
    f.tp.setText(", ".join(str(x) for x in range(2, 31)))  # with the SL ratios: ~3.9 million cells
    f.sl.setText(", ".join(f"{0.1 + 0.1 * i:.1f}" for i in range(30)))
    f.set_param_range("long", 25, 75, 1)
    tab.optimal_button.click()
    await until(lambda: tab._latest is not None and tab._latest.done > 0, 30, "the first progress")
    assert tab.busy
    # the bar moves once 0.1 % of the ~3.9 million cells are done
    await until(lambda: tab.progress.value() > 0, 10, "the progress bar moving")
    assert "ETA" in tab.status.text()
    clicked = time.monotonic()
    tab.cancel_button.click()
    await until(lambda: not tab.busy, 5, "the run cancelled", interval=0.01)
    assert time.monotonic() - clicked < 1.0
    assert "cancelled" in tab.status.text()
    assert tab.optimal_button.isEnabled() and not tab.cancel_button.isEnabled()
    tab.close()


async def test_dca_and_block_grid_in_the_tab(services: Services) -> None:
    """A small grid with DCA and Block: adjusted rows are listed with their adjustment, and the backtest of a DCA
    row shows positions that were added to (size above one entry)."""
    tab, _raw = await make_tab(services)
    f = tab.form
    f.indication.setCurrentIndex(f.indication.findData("rsi"))
    f.set_param_range("period", 14, 14, 1)
    f.set_param_range("oversold", 30, 30, 5)
    f.set_param_range("overbought", 70, 70, 5)
    f.tp.setText("10")
    f.sl.setText("1.0")
    f.trailing.setChecked(False)
    f.per_48h.setValue(0.0)
    f.block.setChecked(True)
    f.dca.setChecked(True)
    assert "8 configurations" in f.count.text()  # 2 directions × (plain, block, DCA, both)
    await tab._run(tab.run_optimal(), "auto-optimal")
    assert tab.last_error == ""
    labels = {tab.model.data(tab.model.index(i, column("Adjust"))) for i in range(tab.model.rowCount())}
    assert labels == {"—", "block 2×2", "DCA 4", "block 2×2 DCA 4"}
    dca_long = next(i for i, r in enumerate(tab.model.rows) if r.adjust.label == "DCA 4" and r.direction == 1)
    await tab.backtest_rows([tab.model.rows[dca_long]])
    assert tab.report is not None and tab.report.metrics is not None
    assert tab.report.metrics.trades == tab.model.rows[dca_long].trades
    sizes = [t.size for t in tab.report.trades]
    assert max(sizes) > 1.0
    # the stored run keeps each position's size and average entry
    tab.runs.setCurrentIndex(0)  # the newest run: this backtest
    tab.trades_chart.show_trades(None, [])
    await tab.open_run()
    stored = await tab.part.run(int(tab.runs.currentData()))
    assert stored is not None and [t.size for t in stored.trades] == sizes
    assert all(t.avg_entry <= t.entry_price for t in stored.trades)  # a long averages down
    assert tab.trades_chart.marked == len(sizes)
    tab.close()
