"""Journal tab: the closed Real positions (times, side, quantity, entry/exit, fees, funding, net, close reason,
set) filtered by connection, kind, symbol, reason and time, with their net per day, week or month as bars
(paper and live apart) and CSV export; the Equity page draws each connection's equity and balance from the
balance snapshots, paper and live as separate curves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.journal import PERIODS, EquityCurve, JournalFilter, JournalPart, JournalRow, PnlBar
from cts_desktop.ui.charts.plots import ThemedPlot
from cts_desktop.ui.table import Column, DataTable, RowTableModel, fmt_duration, fmt_num, fmt_price, sign_colour
from cts_desktop.ui.tasks import spawn
from cts_desktop.ui.theme import current_theme, on_theme_changed

ANY = "(any)"
RANGES = {"all time": None, "24 h": timedelta(hours=24), "7 days": timedelta(days=7), "30 days": timedelta(days=30)}
KIND_COLOURS = {"paper": "#5c8dd6", "live": "#e0a030"}
PERIOD_S = {"day": 86400, "week": 7 * 86400, "month": 30 * 86400}


def _when(v: datetime | None) -> str:
    return "" if v is None else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


JOURNAL_COLUMNS = [
    Column("id", "#", numeric=True), Column("connection_id", "Connection"), Column("kind", "Kind"),
    Column("symbol", "Symbol"), Column("side", "Side"), Column("quantity", "Qty", fmt_num(4), True),
    Column("entry_price", "Entry", fmt_price, True), Column("exit_price", "Exit", fmt_price, True),
    Column("realized_pnl", "Realised", fmt_num(2), True, sign_colour), Column("fees", "Fees", fmt_num(4), True),
    Column("funding", "Funding", fmt_num(4), True, sign_colour),
    Column("net", "Net", fmt_num(2), True, sign_colour), Column("close_reason", "Reason"),
    Column("set_text", "Set"), Column("opened_at", "Opened (UTC)", _when), Column("closed_at", "Closed (UTC)", _when),
    Column("held_s", "Held", fmt_duration, True),
]


class JournalTab(QWidget):
    def __init__(self, part: JournalPart, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.part = part
        self.model = RowTableModel(JOURNAL_COLUMNS, cap=100_000)
        self.table = DataTable(self.model, "journal.trades")
        self.table.setAccessibleName("Closed trades")
        self.connection = QComboBox()
        self.connection.addItem(ANY)
        self.kind = QComboBox()
        self.kind.addItems([ANY, "paper", "live"])
        self.symbol = QComboBox()
        self.symbol.addItem(ANY)
        self.reason = QComboBox()
        self.reason.addItem(ANY)
        self.range = QComboBox()
        self.range.addItems(list(RANGES))
        self.period = QComboBox()
        self.period.addItems(list(PERIODS))
        for combo in (self.connection, self.kind, self.symbol, self.reason, self.range, self.period):
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # names arrive after the show
        self.summary = QLabel("")
        self.summary.setObjectName("metricDetail")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(lambda: self.table.ask_export(self.summary.setText))
        bar = QHBoxLayout()
        for label, widget in (("Connection", self.connection), ("Kind", self.kind), ("Symbol", self.symbol),
                              ("Reason", self.reason), ("Closed", self.range), ("Bars per", self.period)):
            bar.addWidget(QLabel(label))
            bar.addWidget(widget)
        bar.addStretch(1)
        bar.addWidget(self.export_button)
        theme = current_theme()
        self.bars_plot = ThemedPlot("Net result per day (USDT)", "USDT", theme=theme)
        trades = QSplitter(Qt.Orientation.Vertical)
        trades.addWidget(self.table)
        trades.addWidget(self.bars_plot)
        trades.setSizes([420, 220])
        trades_page = QWidget()
        trades_layout = QVBoxLayout(trades_page)
        trades_layout.setContentsMargins(0, 0, 0, 0)
        trades_layout.addLayout(bar)
        trades_layout.addWidget(self.summary)
        trades_layout.addWidget(trades, 1)
        self.equity_plot = ThemedPlot("Equity (balance with unrealised PnL) per connection", "USDT", theme=theme)
        self.equity_note = QLabel("")
        self.equity_note.setObjectName("metricDetail")
        equity_page = QWidget()
        equity_layout = QVBoxLayout(equity_page)
        equity_layout.setContentsMargins(0, 0, 0, 0)
        equity_layout.addWidget(self.equity_note)
        equity_layout.addWidget(self.equity_plot, 1)
        self.pages = QTabWidget()
        self.pages.addTab(trades_page, "Trades")
        self.pages.addTab(equity_page, "Equity")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.pages)
        for combo in (self.connection, self.kind, self.symbol, self.reason, self.range, self.period):
            combo.currentIndexChanged.connect(lambda _i: spawn(self.refresh(), "journal filter"))
        self.pages.currentChanged.connect(lambda _i: spawn(self.refresh(), "journal page"))
        self._theme_listener = on_theme_changed(self.apply_theme)
        self.destroyed.connect(self._theme_listener)
        self.rows: list[JournalRow] = []
        self.bars: list[PnlBar] = []
        self.curves: list[EquityCurve] = []

    def apply_theme(self, theme: str) -> None:
        self.bars_plot.apply_theme(theme)
        self.equity_plot.apply_theme(theme)

    @staticmethod
    def _pick(combo: QComboBox) -> str:
        text = combo.currentText()
        return "" if text in (ANY, "") else text

    def current_filter(self) -> JournalFilter:
        span = RANGES[self.range.currentText()]
        return JournalFilter(connection_id=self._pick(self.connection), symbol=self._pick(self.symbol),
                             kind=self._pick(self.kind), reason=self._pick(self.reason),
                             since=None if span is None else datetime.now(UTC) - span)

    @staticmethod
    def _offer(combo: QComboBox, values: set[str]) -> None:
        """Add the values a filter can take (a value once offered stays: a filter never loses its choice)."""
        have = {combo.itemText(i) for i in range(combo.count())} - {ANY}
        if values - have:
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems([ANY, *sorted(have | values)])
            combo.setCurrentText(current or ANY)
            combo.blockSignals(False)

    async def refresh(self) -> None:
        self.rows = await self.part.rows(self.current_filter())
        everything = self.rows if not any(self._pick(c) for c in (self.connection, self.symbol, self.reason)) \
            else []
        if everything:
            self._offer(self.connection, {r.connection_id for r in everything})
            self._offer(self.symbol, {r.symbol for r in everything})
            self._offer(self.reason, {r.close_reason for r in everything if r.close_reason})
        self.table.fill(self.rows)
        period = self.period.currentText()
        self.bars = self.part.bars(self.rows, period)
        self.show_bars(period)
        totals = {kind: sum((r.net for r in self.rows if r.kind == kind), start=0) for kind in ("paper", "live")}
        counts = {kind: sum(1 for r in self.rows if r.kind == kind) for kind in ("paper", "live")}
        self.summary.setText(" · ".join(f"{kind}: {counts[kind]} closed, net {float(totals[kind]):+,.2f} USDT"
                                        for kind in ("live", "paper")))
        if self.pages.currentIndex() == 1:
            await self.refresh_equity()

    def show_bars(self, period: str) -> None:
        plot = self.bars_plot
        plot.clear()
        plot.set_title(f"Net result per {period} (USDT), paper and live apart")
        width = PERIOD_S[period] * 0.4
        for offset, kind in ((-0.2, "paper"), (0.2, "live")):
            bars = [b for b in self.bars if b.kind == kind]
            if bars:
                plot.bars([b.start.timestamp() + PERIOD_S[period] * (0.5 + offset) for b in bars],
                          [float(b.net) for b in bars], [KIND_COLOURS[kind]] * len(bars), width, name=kind)

    async def refresh_equity(self) -> None:
        connection = self._pick(self.connection)
        self.curves = await self.part.equity(connection)
        plot = self.equity_plot
        plot.clear()
        palette = ["#5c8dd6", "#e0a030", "#2e9d57", "#c0392b", "#8e44ad", "#16a085"]
        for index, curve in enumerate(self.curves):
            if not curve.points:
                continue
            x = [p.ts.timestamp() for p in curve.points]
            plot.line(x, [float(p.equity) for p in curve.points], palette[index % len(palette)],
                      name=f"{curve.connection_id} {curve.kind} equity")
        self.equity_note.setText("No balance snapshot yet: the engine stores one at every exchange sync."
                                 if not self.curves else
                                 " · ".join(f"{c.connection_id} {c.kind}: {len(c.points)} points, last equity "
                                            f"{float(c.points[-1].equity):,.2f}" for c in self.curves if c.points))
