"""The Security menu: opting in to the encrypted secrets file where no OS keyring exists, unlocking it."""

from __future__ import annotations

from cts_desktop.services import Services
from cts_desktop.storage.secrets import SecretStoreError

__all__ = ["SecretStoreError", "SecurityPart"]


class SecurityPart:
    def __init__(self, services: Services) -> None:
        self.services = services

    def can_create(self) -> bool:
        """Offered only where no OS keyring exists and no encrypted file is configured yet."""
        return not self.services.secrets.status().usable and self.services.secrets_file is None

    def is_locked(self) -> bool:
        return self.services.secrets_locked

    def create(self, passphrase: str) -> None:
        """Create (or open) the encrypted secrets file and keep the secrets there (SecretStoreError)."""
        self.services.enable_encrypted_secrets(passphrase)

    def unlock(self, passphrase: str) -> None:
        """Open the configured encrypted file (SecretStoreError on a wrong passphrase)."""
        self.services.unlock_secrets(passphrase)
