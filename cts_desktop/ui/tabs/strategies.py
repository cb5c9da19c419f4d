"""Strategies tab: history download, auto-optimal grid search and backtests with progress, ETA and cancel; a
sortable, filterable results table; the equity curve and the trades on the price chart; saving chosen results as
a preset configuration set and applying a preset type to a connection.

All work runs through the application's Strategies part in a worker thread; the worker only stores its newest
progress, which a timer on the GUI thread shows — so the GUI never waits and cancel is immediate.
"""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.strategies import (
    BacktestReport,
    Cancelled,
    CancelToken,
    CandleRequest,
    ConfigurationSetDef,
    FixedSet,
    OptimalRequest,
    OptimalRow,
    ProgressInfo,
    StrategiesPart,
)
from cts_desktop.domain.bars import Bars
from cts_desktop.ui.table import DataTable
from cts_desktop.ui.tabs.strategies_charts import EquityChart, TradesChart
from cts_desktop.ui.tabs.strategies_form import FormError, StrategyForm
from cts_desktop.ui.tabs.strategies_model import ResultsFilter, ResultsModel
from cts_desktop.ui.tasks import spawn

log = logging.getLogger("cts.ui.strategies")


def _eta(info: ProgressInfo) -> str:
    eta = info.eta_s
    if eta is None:
        return "ETA —"
    if eta >= 90:
        return f"ETA {eta / 60:.0f} min"
    return f"ETA {eta:.0f} s"


class StrategiesTab(QWidget):
    def __init__(self, part: StrategiesPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.form = StrategyForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # the form is as wide as it needs
        bar = scroll.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        scroll.setMinimumWidth(self.form.minimumSizeHint().width() + bar + 2 * scroll.frameWidth())

        self.download_button = QPushButton("Download history")
        self.optimal_button = QPushButton("Run auto-optimal")
        self.optimal_button.setDefault(True)
        self.backtest_button = QPushButton("Backtest selected")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.runs = QComboBox()
        self.runs.setMinimumWidth(160)
        self.runs.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.open_button = QPushButton("Open stored run")
        buttons = QHBoxLayout()
        for b in (self.download_button, self.optimal_button, self.backtest_button, self.cancel_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Stored runs"))
        buttons.addWidget(self.runs, 1)
        buttons.addWidget(self.open_button)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.status = QLabel("Ready.")
        self.status.setWordWrap(True)

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter results (e.g. long 0.6/0.2)")
        self.valid_only = QCheckBox("Valid only")
        filters = QHBoxLayout()
        filters.addWidget(self.filter, 1)
        filters.addWidget(self.valid_only)
        self.model = ResultsModel()
        self.proxy = ResultsFilter()
        self.proxy.setSourceModel(self.model)
        self.table = DataTable(self.proxy, "strategies.results", resize=QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("Backtest results")
        if not self.table.restored:
            self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        # widths from the visible rows only: measuring every row of a large result made each sort take seconds
        self.table.horizontalHeader().setResizeContentsPrecision(0)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)

        self.equity = EquityChart()
        self.trades_chart = TradesChart()
        charts = QSplitter(Qt.Orientation.Horizontal)
        charts.addWidget(self.equity)
        charts.addWidget(self.trades_chart)

        self.preset_name = QLineEdit()
        self.preset_name.setPlaceholderText("Preset name for the selected results")
        self.save_button = QPushButton("Save selected as preset")
        self.preset_type = QComboBox()
        self.apply_connection = QComboBox()
        for combo in (self.preset_type, self.apply_connection):  # every preset and connection name reads whole
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.apply_button = QPushButton("Apply to connection")
        self.preset_backtest_button = QPushButton("Backtest preset")
        self.preset_backtest_button.setToolTip(
            "Fixed sets: backtest them on the form's symbols and period; sets with ranges: run their grid "
            "(auto-optimal with the set's own rules)")
        save = QHBoxLayout()
        save.addWidget(self.preset_name, 1)
        save.addWidget(self.save_button)
        use = QHBoxLayout()  # a second row: the preset and connection names read whole at 1280 px
        use.addWidget(QLabel("Preset"))
        use.addWidget(self.preset_type)
        use.addWidget(self.preset_backtest_button)
        use.addWidget(QLabel("→"))
        use.addWidget(self.apply_connection)
        use.addWidget(self.apply_button)
        use.addStretch(1)
        presets = QVBoxLayout()
        presets.addLayout(save)
        presets.addLayout(use)

        top = QWidget()
        tv = QVBoxLayout(top)
        tv.setContentsMargins(0, 0, 0, 0)
        tv.addLayout(buttons)
        tv.addWidget(self.progress)
        tv.addWidget(self.status)
        tv.addLayout(filters)
        tv.addWidget(self.table, 1)
        tv.addWidget(self.summary)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(top)
        right.addWidget(charts)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        rv = QWidget()
        rl = QVBoxLayout(rv)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(right, 1)
        rl.addLayout(presets)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(scroll)
        main.addWidget(rv)
        main.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(main)

        self.token: CancelToken | None = None
        self._latest: ProgressInfo | None = None
        self.definitions: list[ConfigurationSetDef] = []
        self.candles: dict[str, Bars] = {}
        self.candle_info: dict[str, object] = {}
        self.report: BacktestReport | None = None
        self.last_error = ""
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._show_progress)

        self.download_button.clicked.connect(lambda: self._start(self.download(), "history download"))
        self.optimal_button.clicked.connect(lambda: self._start(self.run_optimal(), "auto-optimal"))
        self.backtest_button.clicked.connect(lambda: self._start(self.backtest_selected(), "backtest"))
        self.cancel_button.clicked.connect(self.cancel)
        self.save_button.clicked.connect(lambda: spawn(self.save_preset(), "save preset"))
        self.open_button.clicked.connect(lambda: spawn(self.open_run(), "open stored run"))
        self.preset_backtest_button.clicked.connect(lambda: self._start(self.backtest_preset(), "preset backtest"))
        self.apply_button.clicked.connect(lambda: spawn(self.apply_preset(), "apply preset"))
        self.filter.textChanged.connect(self.proxy.set_text)
        self.valid_only.toggled.connect(self.proxy.set_valid_only)

    # --- lists --------------------------------------------------------------------------------------------------

    async def refresh(self) -> None:
        self.form.set_adjust_defaults(*self.part.adjust_params())
        connections = await self.part.connections()
        for combo in (self.form.connection, self.apply_connection):
            current = combo.currentData()
            combo.blockSignals(True)
            combo.clear()
            for c in connections:
                combo.addItem(f"{c.name} ({c.exchange})", c.id)
            index = combo.findData(current)
            if index < 0:  # first visit: a connection that can work (enabled: offline, that is Replay)
                index = next((i for i, c in enumerate(connections) if c.enabled), 0)
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        await self.refresh_presets()
        await self.refresh_runs()

    async def refresh_runs(self) -> None:
        from datetime import UTC, datetime

        current = self.runs.currentData()
        self.runs.clear()
        for r in await self.part.runs():
            when = datetime.fromtimestamp(r.created_ms / 1000, UTC).strftime("%m-%d %H:%M")
            self.runs.addItem(f"#{r.id} {when} {r.name}", r.id)
        index = self.runs.findData(current)
        self.runs.setCurrentIndex(index if index >= 0 else 0)

    async def refresh_presets(self, select: int | None = None) -> None:
        current = select if select is not None else self.preset_type.currentData()
        self.preset_type.clear()
        for p in await self.part.preset_types():
            label = f"{p.name} ({p.sets} set{'s' if p.sets != 1 else ''}{', predefined' if p.predefined else ''})"
            self.preset_type.addItem(label, p.id)
        index = self.preset_type.findData(current)
        if index >= 0:
            self.preset_type.setCurrentIndex(index)

    # --- runs ---------------------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self.token is not None

    def _start(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        if self.busy:
            coro.close()
            return
        spawn(self._run(coro, what), what)

    async def _run(self, coro: Coroutine[Any, Any, None], what: str) -> None:
        self.token = CancelToken()
        self._latest = None
        self._set_busy(True)
        self.progress.setValue(0)
        self.status.setText(f"{what.capitalize()}…")
        try:
            await coro
            self.progress.setValue(1000)
        except Cancelled:
            self.status.setText(f"{what.capitalize()} cancelled.")
        except FormError as error:
            self.last_error = str(error)
            self.status.setText(str(error))
        except Exception as error:  # shown to the user, logged with its trace
            self.last_error = f"{type(error).__name__}: {error}"
            log.exception("%s failed", what)
            self.status.setText(f"{what.capitalize()} failed: {error}")
        finally:
            self.token = None
            self._set_busy(False)

    def _set_busy(self, on: bool) -> None:
        for b in (self.download_button, self.optimal_button, self.backtest_button, self.save_button,
                  self.preset_backtest_button):
            b.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        if on:
            self.timer.start()
        else:
            self.timer.stop()
            self._show_progress()

    def _on_progress(self, info: ProgressInfo) -> None:
        """Called from the worker thread: keep only the newest figures (the timer shows them)."""
        self._latest = info

    def _show_progress(self) -> None:
        info = self._latest
        if info is None or not self.busy:
            return
        self.progress.setValue(int(1000 * info.fraction))
        self.status.setText(f"{info.what}: {info.done:,} of {info.total:,} · {info.elapsed_s:.1f} s · {_eta(info)}")

    def cancel(self) -> None:
        if self.token is not None:
            self.token.cancel()
            self.status.setText("Cancelling…")

    async def download(self) -> None:
        req = self.form.candle_request()
        assert self.token is not None
        reports = await self.part.download(req, self.token, self._on_progress)
        parts = []
        for r in reports:
            gaps = f"; gaps the exchange has no candles for: {r.gap_text()}" if r.gaps else ""
            parts.append(f"{r.symbol}: {r.fetched:,} candles fetched in {r.pages} page(s){gaps}")
        self.progress.setValue(1000)
        self.status.setText("History: " + " · ".join(parts))

    async def _load_candles(self) -> dict[str, Bars]:
        req = self.form.candle_request()
        candles, problems = await self.part.candles(req)
        if not candles:
            raise FormError("; ".join(problems) or "no candles")
        self.candles = candles
        self.candle_info = {"connection_id": req.connection_id, "timeframe": req.timeframe,
                            "since_ms": req.since_ms, "until_ms": req.until_ms}
        if problems:
            log.warning("backtest data: %s", "; ".join(problems))
        return candles

    async def run_optimal(self) -> None:
        params = self.part.exit_params()
        request = self.form.optimal_request(params)
        candles = await self._load_candles()
        assert self.token is not None
        name = f"auto-optimal {request.sets[0].indication} on {', '.join(candles)}"
        run_id, result, ranked = await self.part.optimal(name, request, candles, self.token,
                                                                      self._on_progress, extra=self.candle_info)
        self.definitions = list(request.sets)
        self.model.set_rows(ranked)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        valid = result.valid_count
        shown = f" (the best {len(ranked):,} are listed)" if len(ranked) < result.evaluated else ""
        if ranked:
            self.table.selectRow(0)
            await self.backtest_rows([ranked[0]])
        self.progress.setValue(1000)
        self.status.setText(f"Auto-optimal #{run_id}: {result.evaluated:,} configurations in {result.seconds:.1f} s, "
                            f"{valid:,} valid{shown}; the best one is backtested below.")

    def selected_rows(self) -> list[OptimalRow]:
        return list(self.table.selected_rows())

    async def backtest_selected(self) -> None:
        rows = self.selected_rows()
        if not rows:
            raise FormError("select one or more results to backtest")
        await self.backtest_rows(rows)

    async def backtest_rows(self, rows: list[OptimalRow]) -> None:
        if not self.candles:
            await self._load_candles()
        by_symbol: dict[str, list[FixedSet]] = {}
        for r in rows:
            by_symbol.setdefault(r.symbol, []).append(FixedSet(r.indication, r.params, r.direction, r.exit, r.adjust))
        params = self.part.exit_params()
        max_open = self.form.max_open.value()
        reports = []
        for symbol, sets in by_symbol.items():
            if symbol not in self.candles:
                continue
            name = f"backtest of {len(sets)} set(s) on {symbol}"
            _id, report = await self.part.backtest(name, sets, {symbol: self.candles[symbol]}, params,
                                                                max_open, self.token, self._on_progress,
                                                                extra=self.candle_info)
            reports.append((symbol, report))
        if not reports:
            return
        await self.refresh_runs()
        symbol, report = reports[0]
        self.report = report
        self.equity.show_equity(report.equity)
        self.trades_chart.show_trades(self.candles[symbol], report.trades)
        if report.metrics is not None:
            self.summary.setText(self._summary_text(symbol, report.metrics.as_dict()))

    @staticmethod
    def _summary_text(symbol: str, m: dict[str, object]) -> str:
        def f(key: str, unit: str = "", d: int = 2) -> str:
            v = m.get(key)
            return "—" if not isinstance(v, int | float) or v != v else f"{v:.{d}f}{unit}"

        return (
            f"{symbol}: {m.get('trades')} trades, win rate {f('win_rate_pct', ' %', 1)}, gross PF "
            f"{f('gross_pf')}, net {f('net_pct', ' %')}, max DD {f('max_drawdown_pct', ' %')} lasting "
            f"{f('max_drawdown_hours', ' h', 1)}, avg win {f('avg_win_pct', ' %')} / loss "
            f"{f('avg_loss_pct', ' %')}, largest {f('largest_win_pct', ' %')} / {f('largest_loss_pct', ' %')}, "
            f"avg duration {f('avg_duration_min', ' min', 0)}, Sharpe {f('sharpe')}, Sortino {f('sortino')}"
        )

    async def open_run(self) -> None:
        """Show a stored run: auto-optimal rows in the table, or a backtest's equity, trades and summary."""
        run_id = self.runs.currentData()
        if run_id is None:
            return
        stored = await self.part.run(int(run_id))
        if stored is None:
            self.status.setText("That run no longer exists.")
            return
        p = stored.params
        if stored.kind == "optimal":
            self.model.set_rows(stored.rows)
            self.definitions = stored.definitions
            self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
            self.status.setText(f"Run #{stored.id} ({stored.name}): the best {len(stored.rows):,} of "
                                f"{stored.summary.get('evaluated', 0):,} configurations, "
                                f"{stored.summary.get('valid', 0):,} valid.")
        else:
            self.equity.show_equity(stored.equity)
            symbol = str((p.get("symbols") or [""])[0])
            self.summary.setText(self._summary_text(symbol, stored.summary))
            self.status.setText(f"Run #{stored.id}: {stored.name}.")
        if "connection_id" in p:

            req = CandleRequest(str(p["connection_id"]), tuple(str(x) for x in p.get("symbols", [])),
                                str(p["timeframe"]), int(p["since_ms"]), int(p["until_ms"]))
            self.candles, _problems = await self.part.candles(req)
            self.candle_info = {k: p[k] for k in ("connection_id", "timeframe", "since_ms", "until_ms")}
        if stored.kind != "optimal" and stored.trades:
            symbol = stored.trades[0].symbol
            self.trades_chart.show_trades(self.candles.get(symbol), [t for t in stored.trades if t.symbol == symbol])

    # --- presets ------------------------------------------------------------------------------------------------

    async def backtest_preset(self) -> None:
        """The chosen preset on the form's symbols and period: its fixed sets as a backtest, its sets with ranges
        as their grid (auto-optimal under each set's own rules)."""
        type_id = self.preset_type.currentData()
        if type_id is None:
            raise FormError("choose a preset")
        fixed, grids, notes = await self.part.preset_run_sets(int(type_id))
        if not fixed and not grids:
            raise FormError("the preset has no active configuration sets")
        name = self.preset_type.currentText().split(" (")[0]
        candles = await self._load_candles()
        assert self.token is not None
        params = self.part.exit_params()
        messages: list[str] = []
        if grids:

            request = OptimalRequest(tuple(grids), params, max_open=self.form.max_open.value(),
                                     max_configs=self.form.max_configs.value(), seed=self.form.seed.value())
            run_id, result, ranked = await self.part.optimal(
                f"preset {name}: grid on {', '.join(candles)}", request, candles, self.token, self._on_progress,
                extra=self.candle_info)
            self.definitions = list(grids)
            self.model.set_rows(ranked)
            self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
            messages.append(f"Preset {name} #{run_id}: {result.evaluated:,} configurations of its {len(grids)} "
                            f"set(s) with ranges, {result.valid_count:,} valid.")
        if fixed:
            for symbol, bars in candles.items():
                _id, report = await self.part.backtest(
                    f"preset {name} on {symbol}", fixed, {symbol: bars}, params, self.form.max_open.value(),
                    self.token, self._on_progress, extra=self.candle_info)
                self.report = report
                self.equity.show_equity(report.equity)
                self.trades_chart.show_trades(bars, report.trades)
                if report.metrics is not None:
                    self.summary.setText(f"Preset {name} ({len(fixed)} fixed sets) — "
                                         + self._summary_text(symbol, report.metrics.as_dict()))
            messages.append(f"Preset {name}: {len(fixed)} fixed set(s) backtested.")
        await self.refresh_runs()
        self._latest = None  # the run is over: the progress timer must not overwrite the result
        self.status.setText(" ".join(messages + notes))

    async def save_preset(self) -> None:
        rows = self.selected_rows()
        name = self.preset_name.text().strip()
        if not rows or not name:
            self.status.setText("Select results and enter a preset name to save them.")
            return
        try:
            type_id = await self.part.save_preset(name, rows, self.definitions)
        except ValueError as error:
            self.status.setText(str(error))
            return
        await self.refresh_presets(select=type_id)
        self.status.setText(f"Saved {len(rows)} configuration set(s) as preset {name}.")

    async def apply_preset(self) -> None:
        type_id = self.preset_type.currentData()
        connection = self.apply_connection.currentData()
        if type_id is None or connection is None:
            self.status.setText("Choose a preset and a connection.")
            return
        await self.part.assign(str(connection), int(type_id))
        self.status.setText(f"{self.preset_type.currentText().split(' (')[0]} now applies to "
                            f"{self.apply_connection.currentText()} (Preset mode).")

