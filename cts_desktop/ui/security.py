"""Security actions of the window: opting in to the encrypted secrets file, unlocking it."""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QWidget

from cts_desktop.services import Services
from cts_desktop.storage.secrets import SecretStoreError
from cts_desktop.ui.secrets_dialog import PassphraseDialog

log = logging.getLogger("cts.ui.security")


class SecurityActions:
    def __init__(self, services: Services, parent: QWidget | None = None) -> None:
        self.services = services
        self.parent = parent
        self.dialog: PassphraseDialog | None = None

    def can_create(self) -> bool:
        """Offered only where no OS keyring exists and no encrypted file is configured yet."""
        return not self.services.secrets.status().usable and self.services.secrets_file is None

    def is_locked(self) -> bool:
        return self.services.secrets_locked

    def open_create_dialog(self) -> PassphraseDialog:
        return self._open(create=True)

    def open_unlock_dialog(self) -> PassphraseDialog:
        return self._open(create=False)

    def _open(self, create: bool) -> PassphraseDialog:
        def check(passphrase: str) -> str | None:
            try:
                if create:
                    self.services.enable_encrypted_secrets(passphrase)
                else:
                    self.services.unlock_secrets(passphrase)
            except SecretStoreError as error:
                return str(error)
            return None

        self.dialog = PassphraseDialog(create, check, self.parent)
        self.dialog.open()
        return self.dialog
