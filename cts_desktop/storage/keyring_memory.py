"""A process-local in-memory keyring backend.

Selected in tests through ``PYTHON_KEYRING_BACKEND`` so no test ever touches the user's real keyring. It is never
chosen automatically (priority 0 is below every real backend) and keeps nothing on disk.
"""

from __future__ import annotations

from keyring.backend import KeyringBackend


class MemoryKeyring(KeyringBackend):
    priority = 0

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        from keyring.errors import PasswordDeleteError

        if self._store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)
