"""Passphrase dialog for the encrypted secrets file: create (twice, >= 8 characters) or unlock (once).

The dialog never closes on a bad passphrase: the caller checks it (e.g. by opening the file) and either accepts the
dialog or shows the error in it. It is opened with ``open()`` so the qasync loop keeps running.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

MIN_LENGTH = 8


class PassphraseDialog(QDialog):
    def __init__(
        self, create: bool, check: Callable[[str], str | None], parent: QWidget | None = None
    ) -> None:
        """``check(passphrase)`` returns None when accepted, or the message to show."""
        super().__init__(parent)
        self.creating = create
        self.check = check
        self.setWindowTitle("Encrypted secrets file" if create else "Unlock secrets")
        intro = QLabel(
            "No OS keyring is available. API keys can be kept in a file encrypted with a passphrase that only you "
            "know; it is never stored. You will be asked for it at every start."
            if create
            else "Enter the passphrase of your encrypted secrets file."
        )
        intro.setWordWrap(True)
        self.first = QLineEdit()
        self.first.setEchoMode(QLineEdit.EchoMode.Password)
        self.second = QLineEdit()
        self.second.setEchoMode(QLineEdit.EchoMode.Password)
        self.error = QLabel("")
        self.error.setObjectName("dialogError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d64541;")
        form = QFormLayout()
        form.addRow("Passphrase", self.first)
        if create:
            form.addRow("Repeat", self.second)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.submit)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def submit(self) -> None:
        passphrase = self.first.text()
        if self.creating and len(passphrase) < MIN_LENGTH:
            self.show_error(f"Use at least {MIN_LENGTH} characters.")
            return
        if self.creating and passphrase != self.second.text():
            self.show_error("The two passphrases differ.")
            return
        problem = self.check(passphrase)
        if problem:
            self.show_error(problem)
            return
        self.first.clear()
        self.second.clear()
        self.accept()

    def show_error(self, message: str) -> None:
        self.error.setText(message)
