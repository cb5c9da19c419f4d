"""The parameter form of the Strategies tab: data (connection, symbols, timeframe, period), the indication with a
from–to/step range per parameter, the TP/SL/trailing axes, directions, the Block and DCA adjustments (each an axis
of the grid when on) and the validity rules of Part 2 §5.2/5.6. It shows the resulting number of configurations
while the user edits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QDateTime, QTimeZone, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.strategies import (
    COMMON,
    INDICATIONS,
    MAIN,
    CandleRequest,
    ConfigurationSetDef,
    OptimalRequest,
    ParamSpec,
)
from cts_desktop.domain.adjust import MAX_DCA_STEPS, BlockParams, DcaParams
from cts_desktop.domain.exits import ExitParams

TIMEFRAMES = ("1m", "5m", "15m", "1h")


class FormError(ValueError):
    """A field the user must correct (plain message)."""


def parse_numbers(text: str, what: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.replace(";", ",").split(",") if x.strip())
    except ValueError:
        raise FormError(f"{what}: write numbers separated by commas") from None
    if not values or any(v <= 0 for v in values):
        raise FormError(f"{what}: at least one positive number")
    return values


def parse_pairs(text: str) -> tuple[tuple[float, float], ...]:
    pairs = []
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            start, stop = (float(x) for x in part.split("/"))
        except ValueError:
            raise FormError("trailing: write start/stop pairs like 0.6/0.2, separated by commas") from None
        if start < 0 or stop <= 0:
            raise FormError("trailing: start ≥ 0 and stop > 0")
        pairs.append((start, stop))
    return tuple(pairs)


def _spin(value: float, low: float, high: float, step: float, decimals: int = 2) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _ms(edit: QDateTimeEdit) -> int:
    return int(edit.dateTime().toMSecsSinceEpoch())


class StrategyForm(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        data = QGroupBox("Data")
        f = QFormLayout(data)
        self.connection = QComboBox()
        self.symbols = QLineEdit("BTC/USDT:USDT")
        self.symbols.setToolTip("Unified ccxt symbols, separated by commas")
        self.timeframe = QComboBox()
        self.timeframe.addItems(TIMEFRAMES)
        self.timeframe.setCurrentText("5m")
        utc = QTimeZone.utc()
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        self.since = QDateTimeEdit(QDateTime.fromMSecsSinceEpoch(int((now - timedelta(days=30)).timestamp() * 1000),
                                                                 utc))
        self.until = QDateTimeEdit(QDateTime.fromMSecsSinceEpoch(int(now.timestamp() * 1000), utc))
        for edit in (self.since, self.until):
            edit.setTimeZone(utc)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm 'UTC'")
            edit.setCalendarPopup(True)
        f.addRow("Connection", self.connection)
        f.addRow("Symbols", self.symbols)
        f.addRow("Timeframe", self.timeframe)
        f.addRow("From", self.since)
        f.addRow("To", self.until)
        layout.addWidget(data)

        ind = QGroupBox("Indication")
        v = QVBoxLayout(ind)
        self.indication = QComboBox()
        for name in COMMON + MAIN:
            self.indication.addItem(name.upper() if name in COMMON else name.capitalize(), name)
        v.addWidget(self.indication)
        self.params_box = QWidget()
        self.params_grid = QGridLayout(self.params_box)
        self.params_grid.setContentsMargins(0, 0, 0, 0)
        v.addWidget(self.params_box)
        self.param_edits: list[tuple[ParamSpec, QDoubleSpinBox, QDoubleSpinBox, QDoubleSpinBox]] = []
        layout.addWidget(ind)

        ex = QGroupBox("Exits (× position cost)")
        e = QFormLayout(ex)
        self.tp = QLineEdit("2, 4, 6, 8, 10, 12")
        self.sl = QLineEdit("0.2, 0.4, 0.6, 0.8, 1.0")
        self.trailing = QCheckBox("Trailing variants")
        self.trailing.setChecked(True)
        self.trailing_pairs = QLineEdit("0.3/0.1, 0.6/0.2, 1.0/0.3")
        self.trailing_only = QCheckBox("Trailing only")
        self.long = QCheckBox("Long")
        self.short = QCheckBox("Short")
        self.long.setChecked(True)
        self.short.setChecked(True)
        sides = QWidget()
        sl_ = QGridLayout(sides)
        sl_.setContentsMargins(0, 0, 0, 0)
        sl_.addWidget(self.long, 0, 0)
        sl_.addWidget(self.short, 0, 1)
        e.addRow("TP factors", self.tp)
        e.addRow("SL ratios", self.sl)
        e.addRow(self.trailing, self.trailing_pairs)
        e.addRow("", self.trailing_only)
        e.addRow("Directions", sides)
        layout.addWidget(ex)

        adj = QGroupBox("Adjustments (each one doubles the grid: without and with it)")
        a = QFormLayout(adj)
        self.block = QCheckBox("Block")
        self.block_only = QCheckBox("Block only")
        self.block_size = QSpinBox()
        self.block_size.setRange(2, 10)
        self.block_ratio = _spin(1.0, 0.1, 3.0, 0.1, 1)
        self.block_wait = QSpinBox()
        self.block_wait.setRange(0, 3)
        for w, tip in ((self.block_size, "Positions per block"),
                       (self.block_ratio, "After a losing block the size factor is 1 + this ratio"),
                       (self.block_wait, "Positions at factor 1 after a losing block before the adjusted ones")):
            w.setToolTip(tip)
        self.dca = QCheckBox("DCA")
        self.dca_only = QCheckBox("DCA only")
        self.dca_steps = QSpinBox()
        self.dca_steps.setRange(1, MAX_DCA_STEPS)
        self.dca_distances = QLineEdit()
        self.dca_distances.setToolTip("Adverse move from the first entry (% of price) of each add-on entry")
        self.dca_sizes = QLineEdit()
        self.dca_sizes.setToolTip("Size of each add-on entry as a multiple of the first entry")
        self._block_rest = BlockParams()
        a.addRow(self._pair(self.block, self.block_only))
        a.addRow("Block size / ratio / wait", self._row(self.block_size, self.block_ratio, self.block_wait))
        a.addRow(self._pair(self.dca, self.dca_only))
        a.addRow("DCA steps", self.dca_steps)
        a.addRow("DCA distances %", self.dca_distances)
        a.addRow("DCA sizes ×", self.dca_sizes)
        self.set_adjust_defaults(BlockParams(), DcaParams())
        layout.addWidget(adj)

        rules = QGroupBox("Validity and ranking")
        r = QFormLayout(rules)
        self.pf_min = _spin(1.0, 0.1, 5.0, 0.1, 1)
        self.per_48h = _spin(5.0, 0.0, 50.0, 1.0, 1)
        self.dd_hours = _spin(12.0, 1.0, 240.0, 1.0, 0)
        self.window_a = QSpinBox()
        self.window_a.setRange(5, 60)
        self.window_a.setValue(25)
        self.window_b = QSpinBox()
        self.window_b.setRange(10, 100)
        self.window_b.setValue(50)
        self.max_configs = QSpinBox()
        self.max_configs.setRange(0, 10_000_000)
        self.max_configs.setSingleStep(1000)
        self.max_configs.setSpecialValueText("whole grid")
        self.seed = QSpinBox()
        self.seed.setRange(0, 1_000_000)
        self.max_open = QSpinBox()
        self.max_open.setRange(1, 5)
        self.max_open.setValue(1)
        r.addRow("Minimum gross PF", self.pf_min)
        r.addRow("Minimum trades per 48 h", self.per_48h)
        r.addRow("Maximum drawdown time (h)", self.dd_hours)
        r.addRow("PF windows (last N)", self._pair(self.window_a, self.window_b))
        r.addRow("Sample at most", self.max_configs)
        r.addRow("Sample seed", self.seed)
        r.addRow("Open positions per set", self.max_open)
        layout.addWidget(rules)
        self.count = QLabel("")
        self.count.setObjectName("metricDetail")
        layout.addWidget(self.count)
        layout.addStretch(1)

        self.indication.currentIndexChanged.connect(self._rebuild_params)
        for w in (self.tp, self.sl, self.trailing_pairs):
            w.textChanged.connect(self._update_count)
        for c in (self.trailing, self.trailing_only, self.long, self.short, self.block, self.block_only, self.dca,
                  self.dca_only):
            c.toggled.connect(self._update_count)
        for box in (self.block_size, self.block_wait, self.dca_steps):
            box.valueChanged.connect(self._update_count)
        self.block_ratio.valueChanged.connect(self._update_count)
        for w in (self.dca_distances, self.dca_sizes):
            w.textChanged.connect(self._update_count)
        self.max_configs.valueChanged.connect(self._update_count)
        self._rebuild_params()

    @staticmethod
    def _pair(a: QWidget, b: QWidget) -> QWidget:
        w = QWidget()
        g = QGridLayout(w)
        g.setContentsMargins(0, 0, 0, 0)
        g.addWidget(a, 0, 0)
        g.addWidget(b, 0, 1)
        return w

    @staticmethod
    def _row(*widgets: QWidget) -> QWidget:
        w = QWidget()
        g = QGridLayout(w)
        g.setContentsMargins(0, 0, 0, 0)
        for col, widget in enumerate(widgets):
            g.addWidget(widget, 0, col)
        return w

    def set_adjust_defaults(self, block: BlockParams, dca: DcaParams) -> None:
        """Block and DCA parameters from the settings (the switches stay as they are)."""
        self._block_rest = block
        self.block_size.setValue(block.size)
        self.block_ratio.setValue(block.ratio)
        self.block_wait.setValue(block.neutral_wait)
        self.dca_steps.setValue(dca.max_steps)
        self.dca_distances.setText(", ".join(f"{x:g}" for x in dca.distances))
        self.dca_sizes.setText(", ".join(f"{x:g}" for x in dca.sizes))

    def block_params(self) -> BlockParams:
        r = self._block_rest
        return BlockParams(self.block_size.value(), self.block_ratio.value(), self.block_wait.value(),
                           r.auto_disable, r.disable_win_rate, r.enable_win_rate, r.window)

    def dca_params(self) -> DcaParams:
        distances = parse_numbers(self.dca_distances.text(), "DCA distances")
        sizes = parse_numbers(self.dca_sizes.text(), "DCA sizes")
        steps = self.dca_steps.value()
        if len(distances) < steps or len(sizes) < steps:
            raise FormError(f"DCA: {steps} step(s) need {steps} distance(s) and size(s)")
        try:
            return DcaParams(distances, sizes, steps)
        except ValueError as error:
            raise FormError(str(error)) from None

    def _rebuild_params(self) -> None:
        while self.params_grid.count():
            item = self.params_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.param_edits = []
        for col, title in enumerate(("", "from", "to", "step")):
            self.params_grid.addWidget(QLabel(title), 0, col)
        kind = str(self.indication.currentData())
        for row, spec in enumerate(INDICATIONS[kind], start=1):
            decimals = 0 if spec.integer else 3
            lo = _spin(spec.default, spec.low, spec.high, spec.step, decimals)
            hi = _spin(spec.default, spec.low, spec.high, spec.step, decimals)
            st = _spin(spec.step, spec.step if spec.integer else 0.001, max(spec.high - spec.low, spec.step),
                       spec.step, decimals)
            self.params_grid.addWidget(QLabel(spec.name), row, 0)
            for col, box in enumerate((lo, hi, st), start=1):
                self.params_grid.addWidget(box, row, col)
                box.valueChanged.connect(self._update_count)
            self.param_edits.append((spec, lo, hi, st))
        self._update_count()

    def set_param_range(self, name: str, low: float, high: float, step: float) -> None:
        for spec, lo, hi, st in self.param_edits:
            if spec.name == name:
                lo.setValue(low)
                hi.setValue(high)
                st.setValue(step)
                return
        raise KeyError(name)

    # --- reading the form ---------------------------------------------------------------------------------------

    def definition(self) -> ConfigurationSetDef:
        kind = str(self.indication.currentData())
        values = []
        for spec, lo, hi, st in self.param_edits:
            if hi.value() < lo.value():
                raise FormError(f"{spec.name}: 'to' is below 'from'")
            values.append(tuple(spec.values(lo.value(), hi.value(), st.value())))
        directions = tuple(d for d, box in ((1, self.long), (-1, self.short)) if box.isChecked())
        if not directions:
            raise FormError("choose at least one direction")
        pairs = parse_pairs(self.trailing_pairs.text()) if self.trailing.isChecked() else ()
        return ConfigurationSetDef(
            name=f"{kind} grid", indication=kind, param_values=tuple(values),
            tp_values=parse_numbers(self.tp.text(), "TP factors"), sl_values=parse_numbers(self.sl.text(), "SL ratios"),
            trailing=pairs, trailing_only=self.trailing_only.isChecked() and bool(pairs), directions=directions,
            trades_per_48h_min=self.per_48h.value(), pf_min=self.pf_min.value(),
            drawdown_time_max_h=self.dd_hours.value(), eval_count_1=self.window_a.value(),
            eval_count_2=self.window_b.value(), block=self.block.isChecked(),
            block_only=self.block.isChecked() and self.block_only.isChecked(), dca=self.dca.isChecked(),
            dca_only=self.dca.isChecked() and self.dca_only.isChecked(), block_params=self.block_params(),
            dca_params=self.dca_params() if self.dca.isChecked() else DcaParams(),
        )

    def candle_request(self) -> CandleRequest:
        connection = self.connection.currentData()
        if not connection:
            raise FormError("choose a connection (its exchange provides the candles)")
        symbols = tuple(s.strip() for s in self.symbols.text().split(",") if s.strip())
        if not symbols:
            raise FormError("enter at least one symbol")
        since, until = _ms(self.since), _ms(self.until)
        if until <= since:
            raise FormError("'To' must be after 'From'")
        return CandleRequest(str(connection), symbols, self.timeframe.currentText(), since, until)

    def optimal_request(self, params: ExitParams) -> OptimalRequest:
        return OptimalRequest((self.definition(),), params, max_open=self.max_open.value(),
                              max_configs=self.max_configs.value(), seed=self.seed.value())

    def _update_count(self) -> None:
        try:
            d = self.definition()
        except (FormError, ValueError) as error:
            self.count.setText(str(error))
            return
        n = d.size()
        cap = self.max_configs.value()
        text = f"{n:,} configurations per symbol"
        if 0 < cap < n:
            text += f" — a seeded sample of {cap:,} is run"
        self.count.setText(text)
        self.changed.emit()

    def set_period(self, since_ms: int, until_ms: int) -> None:
        utc = QTimeZone.utc()
        self.since.setDateTime(QDateTime.fromMSecsSinceEpoch(since_ms, utc))
        self.until.setDateTime(QDateTime.fromMSecsSinceEpoch(until_ms, utc))
