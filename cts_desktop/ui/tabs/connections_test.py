"""The connection test panel: Test button, the BTC price and balance it read, the plain verdict, and an expandable
log that fills live while the test runs (steps and HTTP requests from the application's trace, then the test's own
timestamped log). The test runs in a worker thread; this panel only awaits it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from cts_desktop.application.connections import ConnectionSwitches
from cts_desktop.ui.tasks import spawn

OK_STYLE = "color: #2e9d57; font-weight: 600;"
FAIL_STYLE = "color: #d64541; font-weight: 600;"


class ConnectionTestPanel(QGroupBox):
    def __init__(self, switches: ConnectionSwitches, parent: QWidget | None = None) -> None:
        super().__init__("Connection test", parent)
        self.switches = switches
        self.connection_id: str | None = None
        self.api_url: str | None = None  # tests point the adapter at a running simulator
        self.running = False
        self.on_finished: Any = None  # called with the result (or None after an error)
        self.results: dict[str, tuple[Any, list[str]]] = {}  # this session's tests: price, account and trace
        self.button = QPushButton("Test connection")
        self.button.setToolTip("Server time, BTC price, signed balance and account settings; a pass enables the "
                               "connection")
        self.price = QLabel("—")
        self.balance = QLabel("—")
        self.account = QLabel("—")
        self.tested = QLabel("—")
        for label in (self.price, self.balance, self.account, self.tested):
            label.setObjectName("factValue")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.log_button = QToolButton()
        self.log_button.setText("Log ▸")
        self.log_button.setCheckable(True)
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setObjectName("chartInfo")  # monospace
        self.log.setMinimumHeight(150)
        self.log.hide()
        facts = QGridLayout()
        facts.setHorizontalSpacing(14)
        facts.setVerticalSpacing(0)
        for col, (caption, widget) in enumerate((("BTC price", self.price), ("Balance USDT", self.balance),
                                                 ("Account", self.account), ("Last test", self.tested))):
            title = QLabel(caption)
            title.setObjectName("metricDetail")
            facts.addWidget(title, 0, col)
            facts.addWidget(widget, 1, col)
        facts.setColumnStretch(2, 1)
        head = QHBoxLayout()
        head.addWidget(self.button)
        head.addLayout(facts, 1)
        foot = QHBoxLayout()
        foot.addWidget(self.message, 1)
        foot.addWidget(self.log_button)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(foot)
        layout.addWidget(self.log)
        self.button.clicked.connect(lambda: spawn(self.run_test(), "connection test"))
        self.log_button.toggled.connect(self.show_log)

    def show_log(self, shown: bool) -> None:
        self.log_button.setChecked(shown)
        self.log_button.setText("Log ▾" if shown else "Log ▸")
        self.log.setVisible(shown)

    def show_stored(self, config: Any) -> None:
        """The last stored test of ``config`` (after a selection change)."""
        self.connection_id = config.id
        last = config.last_test
        seen = self.results.get(config.id)
        if last is not None and seen is not None and seen[0].tested_at_ms == last.tested_at_ms:
            self.show_result(*seen)
            return
        self.price.setText("—")
        self.account.setText("—")
        if last is None:
            self.balance.setText("—")
            self.tested.setText("never")
            self._verdict(None, "Not tested yet." if not config.is_replay else
                          "The offline simulator needs no test; Test checks it anyway.")
            self.log.setPlainText("")
            return
        self.balance.setText("—" if last.balance_total is None else f"{last.balance_total:,.2f}")
        self.tested.setText(datetime.fromtimestamp(last.tested_at_ms / 1000).strftime("%Y-%m-%d %H:%M:%S"))
        self._verdict(last.passed, last.message)
        self.log.setPlainText(last.log)

    def _verdict(self, passed: bool | None, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet("" if passed is None else OK_STYLE if passed else FAIL_STYLE)

    def append(self, line: str) -> None:
        self.log.appendPlainText(line)

    async def run_test(self) -> Any:
        if self.connection_id is None or self.running:
            return None
        self.running = True
        self.button.setEnabled(False)
        self.button.setText("Testing…")
        self.log.clear()
        self.show_log(True)
        self._verdict(None, "Testing…")
        result = None
        trace: list[str] = []

        def on_line(text: str) -> None:
            trace.append(text)
            self.append(text)

        try:
            result = await self.switches.test(self.connection_id, on_line, api_url=self.api_url)
            self.results[self.connection_id] = (result, trace)
            self.show_result(result, trace)
        except Exception as error:  # refused before it started (no keys): the message, also in the log pane
            self._verdict(False, str(error))
            self.append(f"{datetime.now():%H:%M:%S} test not run: {error}")
        finally:
            self.running = False
            self.button.setEnabled(True)
            self.button.setText("Test connection")
        if self.on_finished is not None:
            self.on_finished(result)
        return result

    def show_result(self, result: Any, trace: list[str]) -> None:
        self.price.setText("—" if result.btc_price is None else f"{result.btc_price:,.2f}")
        balance = result.balance
        self.balance.setText("—" if balance is None else f"{balance.total:,.2f}")
        self.balance.setToolTip("" if balance is None else f"free {balance.free:,.2f} · used {balance.used:,.2f}")
        account = result.account
        self.account.setText("—" if account is None else
                             f"{account.position_mode} · {account.margin_mode} · "
                             f"{account.max_leverage or '?'}× max")
        self.tested.setText(datetime.fromtimestamp(result.tested_at_ms / 1000).strftime("%Y-%m-%d %H:%M:%S"))
        verdict = result.message + (" The connection is enabled." if result.passed else
                                    " The connection stays disabled.")
        self._verdict(result.passed, verdict)
        self.log.setPlainText(result.log_text() + "\n\nRequests:\n" + "\n".join(trace))
