"""The window-wide banner above the tabs that tells how this run began when the user should know: trading resumed
after an unclean exit (crash / power loss), or a connection that could not resume. Closed with its × button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QToolButton, QVBoxLayout, QWidget


class RunBanner(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runBanner")
        self.label = QLabel("")
        self.label.setObjectName("warningBanner")
        self.label.setWordWrap(True)
        self.close_button = QToolButton()
        self.close_button.setText("×")
        self.close_button.setToolTip("Hide this message")
        self.close_button.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button)
        self.hide()

    def show_notice(self, text: str) -> None:
        self.label.setText(text)
        self.show()


def install_banner(window: QMainWindow) -> RunBanner:
    """Put a :class:`RunBanner` above the window's central widget (the tabs)."""
    central = window.takeCentralWidget()
    holder = QWidget()
    layout = QVBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(0)
    banner = RunBanner(holder)
    layout.addWidget(banner)
    if central is not None:
        layout.addWidget(central, 1)
    window.setCentralWidget(holder)
    return banner
