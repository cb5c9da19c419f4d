"""The connection editor: keys and every per-connection option (DOMAIN Part 2 §8.1, §8.4, §9.7).

Keys: the fields are always empty; what is stored shows only as a masked key and "stored" for the secret and the
passphrase. "Save keys" hands what was typed to the Connections part (→ keyring) and clears the fields at once, so a
secret never stays in — or comes back to — a widget. The passphrase row appears only where the exchange needs one (ccxt
``requiredCredentials``).

Options: spin boxes bound to the allowed ranges and steps, dropdowns for choices, switches for flags; "Save
options" validates everything with :func:`~cts_desktop.application.connection_data.validate_edit` (the part checks
again) and emits one :class:`~cts_desktop.application.connection_data.ConnectionEdit`.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application import connection_data as cd
from cts_desktop.application.connections import ConnectionSettings, RateLimit

PF_FIELDS = (("live_pf_min_main", "PF min · Main"), ("live_pf_min_real", "PF min · Real"))
WINS_OVER_SETTINGS = ("A value set here wins over Settings › Strategy (Main / Real minimum avg PF, Maximum drawdown "
                      "time) for this connection's sets; \"as in Settings\" follows the Settings value.")
AS_IN_SETTINGS = "as in Settings"
VOLUME_MULTIPLIES = ("These multiply with Settings › Overall › Base volume factor (all connections): neither "
                     "replaces the other. The live factor is also the one on this connection's Dashboard card.")
MAIN_SYMBOLS_EITHER = ("Settings › Overall › Use main symbols does the same for every connection: either one on is "
                       "enough. Symbol order and number: Settings › Overall › Symbols (all connections).")


def _note(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


def _optional(box: QDoubleSpinBox) -> QDoubleSpinBox:
    """One step below the range means "not set": the box shows "as in Settings" there."""
    box.setMinimum(box.minimum() - box.singleStep())
    box.setSpecialValueText(AS_IN_SETTINGS)
    return box


def _value_or_none(box: QDoubleSpinBox, decimals: int = 1) -> float | None:
    return None if box.value() <= box.minimum() + 1e-9 else round(box.value(), decimals)


def _spin(low: float, high: float, step: float, decimals: int = 1, suffix: str = "") -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(decimals)
    box.setSuffix(suffix)
    box.setKeyboardTracking(False)
    box.setMaximumWidth(140)
    return box


def _combo(items: list[tuple[str, str]]) -> QComboBox:
    box = QComboBox()
    for value, label in items:
        box.addItem(label, value)
    box.setMaximumWidth(320)
    return box


def _select(box: QComboBox, value: object) -> None:
    index = box.findData(value)
    box.setCurrentIndex(max(index, 0))


class KeysBox(QGroupBox):
    """API key, secret and (where needed) passphrase; ``save_requested(key, secret, passphrase)``."""

    save_requested = Signal(str, str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("API keys (kept in the OS keyring, never in the database)", parent)
        self.key = QLineEdit()
        self.secret = QLineEdit()
        self.password = QLineEdit()
        for edit in (self.secret, self.password):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        for edit in (self.key, self.secret, self.password):
            edit.setClearButtonEnabled(True)
        self.stored = QLabel("")
        self.stored.setObjectName("metricDetail")
        self.stored.setWordWrap(True)
        self.stored.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)  # no phantom height
        self.save = QPushButton("Save keys")
        self.save.setToolTip("Store the keys in the OS keyring; the connection stays disabled until a test passes")
        self.form = QFormLayout()
        self.form.addRow("API key", self.key)
        self.form.addRow("API secret", self.secret)
        self.form.addRow("Passphrase", self.password)
        row = QHBoxLayout()
        row.addWidget(self.stored, 1)
        row.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addLayout(row)
        self.save.clicked.connect(self._save)

    def show_detail(self, detail: cd.ConnectionDetail) -> None:
        self.clear_typed()
        replay = detail.config.is_replay
        self.form.setRowVisible(self.password, detail.needs_passphrase)
        for edit in (self.key, self.secret, self.password):
            edit.setEnabled(not replay and detail.secrets_problem is None)
        self.save.setEnabled(not replay and detail.secrets_problem is None)
        self.key.setPlaceholderText(f"stored: {detail.key_masked} — type to replace" if detail.key_masked
                                    else "paste the API key")
        self.secret.setPlaceholderText("stored — type to replace" if detail.has_secret else "paste the API secret")
        self.password.setPlaceholderText("stored — type to replace" if detail.has_password
                                         else "the passphrase chosen when the key was created")
        if replay:
            text = "Keys are generated for the built-in simulator; nothing to enter."
        elif detail.secrets_problem:
            text = detail.secrets_problem
        elif detail.key_masked and detail.has_secret:
            text = f"Key {detail.key_masked} and its secret are stored" + (
                " with a passphrase." if detail.has_password else ".")
        else:
            text = "No keys stored yet: the connection stays disabled until keys are saved and a test passes."
        self.stored.setText(text)

    def clear_typed(self) -> None:
        for edit in (self.key, self.secret, self.password):
            edit.clear()

    def _save(self) -> None:
        key, secret, password = self.key.text(), self.secret.text(), self.password.text()
        self.clear_typed()  # the typed secret leaves the widget at once, whatever the outcome
        self.save_requested.emit(key, secret, password)


class OptionsBox(QGroupBox):
    """Every option of a connection in sub-tabs; ``save_requested(ConnectionEdit)`` after local validation."""

    save_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Options", parent)
        self.exchange_id = ""
        self.base_settings = ConnectionSettings()  # the loaded settings: fields this form does not show survive
        self.name = QLineEdit()
        self.name.setMaxLength(120)
        self.exchange = QLabel("")
        self.api_type = _combo(list(cd.API_TYPES))
        self.testnet = QCheckBox("Use the exchange's testnet / demo endpoints")
        self.margin = _combo([("cross", "Cross"), ("isolated", "Isolated")])
        self.position = _combo([("hedge", "Hedge (long and short at once)"), ("one-way", "One-way")])
        self.live_vf = _spin(*cd.VOLUME_FACTOR, suffix=" ×")
        self.preset_vf = _spin(*cd.VOLUME_FACTOR, suffix=" ×")
        self.use_main = QCheckBox("Trade only the main symbols (and the forced ones)")
        self.pf = {name: _optional(_spin(*cd.PF_MIN)) for name, _ in PF_FIELDS}
        self.drawdown = _optional(_spin(*cd.DRAWDOWN_HOURS, decimals=0, suffix=" h"))
        self.rate_default = QCheckBox("Use the exchange's default limits")
        self.rate_second = _spin(*cd.RATE_PER_SECOND, 0.5, suffix=" /s")
        self.rate_minute = QSpinBox()
        self.rate_minute.setRange(*cd.RATE_PER_MINUTE)
        self.rate_minute.setSuffix(" /min")
        self.rate_minute.setMaximumWidth(140)
        self.rate_concurrent = QSpinBox()
        self.rate_concurrent.setRange(*cd.RATE_CONCURRENT)
        self.rate_concurrent.setMaximumWidth(140)
        self.problems = QLabel("")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet("color: #d64541;")
        self.save = QPushButton("Save options")
        self.revert = QPushButton("Revert")

        self.pages = QTabWidget()
        self.pages.addTab(self._form(("Name", self.name), ("Exchange", self.exchange),
                                     ("Account / API type", self.api_type), ("Testnet", self.testnet),
                                     ("Margin type", self.margin), ("Position mode", self.position)), "General")
        self.pages.addTab(self._form(("", _note(VOLUME_MULTIPLIES)), ("Live volume factor", self.live_vf),
                                     ("Preset volume factor", self.preset_vf)), "Volume")
        self.pages.addTab(self._form(("Main symbols", self.use_main), ("", _note(MAIN_SYMBOLS_EITHER))), "Symbols")
        self.pages.addTab(self._limits_page(), "PF limits")
        self.pages.addTab(self._form(("", self.rate_default), ("Requests per second", self.rate_second),
                                     ("Requests per minute", self.rate_minute),
                                     ("Concurrent requests", self.rate_concurrent)), "Rate limits")
        buttons = QHBoxLayout()
        buttons.addWidget(self.problems, 1)
        buttons.addWidget(self.revert)
        buttons.addWidget(self.save)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        layout.addLayout(buttons)
        self.rate_default.toggled.connect(self._rate_mode)
        self.save.clicked.connect(self._save)

    @staticmethod
    def _form(*rows: tuple[str, QWidget]) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        for label, widget in rows:
            form.addRow(label, widget)
        return page

    def _limits_page(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        form.addRow(_note(WINS_OVER_SETTINGS))
        for name, label in PF_FIELDS:
            form.addRow(label, self.pf[name])
        form.addRow("Max drawdown time", self.drawdown)
        return page

    # --- state ----------------------------------------------------------------------------------------------

    def show_detail(self, detail: cd.ConnectionDetail) -> None:
        c = detail.config
        s = self.base_settings = c.settings
        self.exchange_id = c.exchange_id
        self.name.setText(c.name)
        self.exchange.setText(detail.exchange.name + f" ({c.exchange_id})" if detail.exchange else c.exchange_id)
        _select(self.api_type, detail.api_type)
        self.testnet.setChecked(c.is_testnet)
        self.testnet.setEnabled(detail.testnet_supported and not c.is_replay)
        self.testnet.setToolTip("" if detail.testnet_supported else "ccxt knows no testnet for this exchange")
        _select(self.margin, c.margin_mode)
        _select(self.position, c.position_mode)
        self.live_vf.setValue(s.live_volume_factor)
        self.preset_vf.setValue(s.preset_volume_factor)
        self.use_main.setChecked(s.use_main_symbols)
        for name, box in self.pf.items():
            own = getattr(s, name)
            box.setValue(box.minimum() if own is None else float(own))
        self.drawdown.setValue(self.drawdown.minimum() if s.max_drawdown_hours is None else s.max_drawdown_hours)
        rate = s.rate_limit or cd.default_rate_limit(c.exchange_id)
        self.rate_default.setChecked(s.rate_limit is None)
        self.rate_second.setValue(rate.per_second)
        self.rate_minute.setValue(rate.per_minute)
        self.rate_concurrent.setValue(rate.concurrent)
        self._rate_mode(s.rate_limit is None)
        self.problems.clear()

    def _rate_mode(self, default: bool) -> None:
        for box in (self.rate_second, self.rate_minute, self.rate_concurrent):
            box.setEnabled(not default)
        if default and self.exchange_id:
            rate = cd.default_rate_limit(self.exchange_id)
            self.rate_second.setValue(rate.per_second)
            self.rate_minute.setValue(rate.per_minute)
            self.rate_concurrent.setValue(rate.concurrent)

    def edit(self) -> cd.ConnectionEdit:
        rate = None if self.rate_default.isChecked() else RateLimit(
            round(self.rate_second.value(), 2), self.rate_minute.value(), self.rate_concurrent.value())
        settings = replace(
            self.base_settings,
            live_volume_factor=round(self.live_vf.value(), 1),
            preset_volume_factor=round(self.preset_vf.value(), 1),
            use_main_symbols=self.use_main.isChecked(),
            max_drawdown_hours=_value_or_none(self.drawdown, 0),
            rate_limit=rate,
            **{name: _value_or_none(box) for name, box in self.pf.items()},
        )
        return cd.ConnectionEdit(
            name=self.name.text().strip(), api_type=str(self.api_type.currentData()),
            is_testnet=self.testnet.isChecked(), margin_mode=str(self.margin.currentData()),
            position_mode=str(self.position.currentData()), settings=settings,
        )

    def _save(self) -> None:
        edit = self.edit()
        problems = cd.validate_edit(edit)
        self.problems.setText("\n".join(problems))
        if not problems:
            self.save_requested.emit(edit)
