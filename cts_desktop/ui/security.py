"""Security actions of the window: opting in to the encrypted secrets file, unlocking it."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from cts_desktop.application.security import SecretStoreError, SecurityPart
from cts_desktop.ui.secrets_dialog import PassphraseDialog

log = logging.getLogger("cts.ui.security")


class SecurityActions:
    def __init__(self, part: SecurityPart, parent: QWidget | None = None) -> None:
        self.part = part
        self.parent = parent
        self.dialog: PassphraseDialog | None = None
        self.on_changed: Callable[[], None] | None = None  # after the secrets file was created or unlocked

    def can_create(self) -> bool:
        """Offered only where no OS keyring exists and no encrypted file is configured yet."""
        return self.part.can_create()

    def is_locked(self) -> bool:
        return self.part.is_locked()

    def open_create_dialog(self) -> PassphraseDialog:
        return self._open(create=True)

    def open_unlock_dialog(self) -> PassphraseDialog:
        return self._open(create=False)

    def _open(self, create: bool) -> PassphraseDialog:
        def check(passphrase: str) -> str | None:
            try:
                if create:
                    self.part.create(passphrase)
                else:
                    self.part.unlock(passphrase)
            except SecretStoreError as error:
                return str(error)
            if self.on_changed is not None:
                self.on_changed()
            return None

        self.dialog = PassphraseDialog(create, check, self.parent)
        self.dialog.open()
        return self.dialog
