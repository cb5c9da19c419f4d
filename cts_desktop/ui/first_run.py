"""The first-run guide: a dismissible panel above the tabs on the first start (and again from Help › First-run
guide) saying what a newcomer needs before the first hour is over — what Replay is, that F5 starts the engine, what
the warm-up does, what has to happen before a paper trade, where real keys go and how live trading is switched on.
Dismissing it is remembered in the window's preferences (ui.ini)."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

GUIDE_HTML = """
<b>Welcome to CTS Desktop.</b> Nothing here trades real money until you switch it on yourself.
<ol>
<li><b>Replay (offline)</b> is a built-in exchange simulator on this computer: a market with its own prices and a
funded test account. It needs no keys and no internet, and its orders move no real money.</li>
<li><b>F5</b> (or <i>Start</i> on the Dashboard, or <i>Engine › Start</i>) starts the trade engine on every enabled,
active connection — Replay is both from the start.</li>
<li>First comes the <b>warm-up</b>: the engine replays the last days of 1-minute candles of each symbol
(<i>Settings › Overall › Prehistoric data</i>) through its configuration sets, so they start with statistics. The
connection card on the Dashboard shows its progress; it takes longer the more days and symbols are chosen.</li>
<li>Before a <b>paper trade</b> a set has to earn it on pseudo trades: it is judged after its first closed results
(<i>Settings › Strategy › Promotion gates</i>), becomes Main when its profit factor is good enough and Real when its
recent window is too. Only Real sets open (paper) positions — so the first one can take a while; the Sets tab and
<i>Monitoring › Decisions</i> show how far each set is and why nothing opened yet.</li>
<li><b>Real keys</b> go in the <i>Connections</i> tab: choose Bybit X03 or BingX X01 (or add another exchange), paste
the API key and secret and run <i>Test connection</i>; a passed test enables the connection.</li>
<li><b>Live trading</b> stays off until you tick <i>Live trade</i> on a connection (Connections tab or its Dashboard
card) and type the connection's name to confirm. Until then every position is paper.</li>
</ol>
"""

_KEY = "first_run_guide_dismissed"
MAX_TEXT_HEIGHT = 150  # px: on a small screen the guide's text scrolls instead of squeezing the tabs below it
MIN_TEXT_HEIGHT = 90  # px: and shows its first points at least


def _ui_settings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "cts-desktop", "ui")


def guide_dismissed() -> bool:
    return str(_ui_settings().value(_KEY, "false")).lower() == "true"


def mark_guide_dismissed() -> None:
    settings = _ui_settings()
    settings.setValue(_KEY, "true")
    settings.sync()


def forget_guide_dismissed() -> None:
    """The guide shows again at the next start (as on the very first)."""
    settings = _ui_settings()
    settings.remove(_KEY)
    settings.sync()


class FirstRunGuide(QFrame):
    """The panel; hidden once dismissed (remembered), shown again by :meth:`reopen`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("firstRunGuide")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel(GUIDE_HTML)
        self.text.setWordWrap(True)
        self.text.setAccessibleName("First-run guide")
        self.dismiss = QPushButton("Got it — hide this guide")
        self.dismiss.setAccessibleName("Hide the first-run guide")
        self.dismiss.setToolTip("It stays available under Help › First-run guide")
        self.dismiss.clicked.connect(self.dismissed)
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.text)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setMinimumHeight(MIN_TEXT_HEIGHT)
        self.scroll.setMaximumHeight(MAX_TEXT_HEIGHT)
        self.scroll.setAccessibleName("First-run guide text")
        button = QVBoxLayout()
        button.addStretch(1)
        button.addWidget(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(button)
        self.setVisible(not guide_dismissed())

    def dismissed(self) -> None:
        mark_guide_dismissed()
        self.hide()

    def reopen(self) -> None:
        self.show()
