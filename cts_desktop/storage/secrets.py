"""Secrets (exchange API keys, the PostgreSQL password) in the OS keyring, service "cts-desktop".

Nothing secret is ever written anywhere else (DOMAIN Part 1 §12). Where no OS keyring exists the store still
constructs, reports why through `status()`, and every operation raises `SecretStoreError` with that explanation until
the user opts in to the passphrase-protected file (`use_encrypted_file`). Plaintext backends are refused outright.

Every value that passes through `set` or `get` is handed to the `on_secret` listener first (wire it to
`SecretRedactor.add`), so log redaction knows a secret before any message about it can be produced.

Calls are synchronous and may block on D-Bus or scrypt; from the event loop use ``asyncio.to_thread``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from keyring.backend import KeyringBackend
from keyring.errors import InitError, KeyringLocked, NoKeyringError, PasswordDeleteError

from cts_desktop.storage.secrets_detect import (
    BackendKind,
    BackendStatus,
    classify_backend,
    detect_backend,
    is_plaintext_backend,
    no_keyring_message,
)
from cts_desktop.storage.secrets_errors import SecretStoreError
from cts_desktop.storage.secrets_file import EncryptedFileKeyring, ScryptParams

__all__ = [
    "SERVICE_NAME",
    "BackendKind",
    "BackendStatus",
    "EncryptedFileKeyring",
    "ScryptParams",
    "SecretRef",
    "SecretStore",
    "SecretStoreError",
    "detect_backend",
    "is_plaintext_backend",
    "masked",
]

SERVICE_NAME = "cts-desktop"
MASK = "••••"
_MASK_REVEAL_MIN_LENGTH = 16  # below this, showing 8 characters would give away too much of the value


def masked(value: str | None) -> str:
    """A display form that identifies a long key without revealing it: "abcd…wxyz"; short or empty → "••••"."""
    if not value or len(value) < _MASK_REVEAL_MIN_LENGTH:
        return MASK
    return f"{value[:4]}…{value[-4:]}"


def _strip_password(url: str) -> str:
    """The URL with any password removed from its user-info part (user and host kept)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host_part = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}@{host_part}" if user else host_part))


@dataclass(frozen=True)
class SecretRef:
    """The structured name of one secret; its keyring username is ``"<scope>:<owner>:<field>"``.

    ``scope`` and ``field`` are simple words (no ":"); ``owner`` may contain ":" (database URLs), which stays
    unambiguous because the key splits at the first and the last ":". A database owner must not carry a password.
    """

    scope: str
    owner: str
    field: str

    def __post_init__(self) -> None:
        for label, part in (("scope", self.scope), ("field", self.field)):
            if not part or ":" in part or part != part.strip():
                raise SecretStoreError(f"invalid secret {label} {part!r}: must be non-empty, without ':' or spaces")
        if not self.owner or self.owner != self.owner.strip():
            raise SecretStoreError("invalid secret owner: must be non-empty without surrounding spaces")
        if "://" in self.owner and _strip_password(self.owner) != self.owner:
            raise SecretStoreError("a secret owner must not contain a password; use SecretRef.database(url)")

    @property
    def key(self) -> str:
        return f"{self.scope}:{self.owner}:{self.field}"

    @classmethod
    def parse(cls, key: str) -> SecretRef:
        scope, sep1, rest = key.partition(":")
        owner, sep2, field = rest.rpartition(":")
        if not (sep1 and sep2):
            raise SecretStoreError(f"invalid secret key {key!r}: expected 'scope:owner:field'")
        return cls(scope, owner, field)

    @classmethod
    def connection(cls, connection_id: str | int, field: str) -> SecretRef:
        """An exchange credential: field is e.g. "api_key", "api_secret", "api_passphrase"."""
        return cls("connection", str(connection_id), field)

    @classmethod
    def replay(cls, connection_id: str | int, field: str) -> SecretRef:
        """A credential of the offline Replay connection (the simulator checks signatures too)."""
        return cls("replay", str(connection_id), field)

    @classmethod
    def database(cls, url: str) -> SecretRef:
        """The password of a database URL; the URL is stored in the name without its password."""
        return cls("database", _strip_password(url), "password")

    def __str__(self) -> str:
        return self.key


class SecretStore:
    """Get/set/delete secrets by `SecretRef` in one keyring backend; every failure is a `SecretStoreError`."""

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        on_secret: Callable[[str], None] | None = None,
        service: str = SERVICE_NAME,
    ) -> None:
        """Use `backend`, or the one `keyring` selects for this process; refused/absent backends are kept as status."""
        self._service = service
        self._on_secret = on_secret
        self._lock = threading.Lock()
        self._status = detect_backend(backend)

    # -- backend ---------------------------------------------------------------------------------------------------

    def status(self) -> BackendStatus:
        return self._status

    def backend_name(self) -> str:
        backend = self._status.backend
        if isinstance(backend, EncryptedFileKeyring):
            return f"encrypted file {backend.path}"
        if backend is None:
            return f"none ({self._status.kind.value}: {self._status.name})"
        return self._status.name

    def use_encrypted_file(
        self, path: Path | str, passphrase: str, *, create: bool = True, kdf: ScryptParams | None = None
    ) -> None:
        """Switch to the passphrase-protected file (explicit opt-in). The passphrase is used once and not kept."""
        file_backend = EncryptedFileKeyring(path, passphrase, create=create, kdf=kdf)
        with self._lock:
            self._status = classify_backend(file_backend)

    def _backend(self) -> KeyringBackend:
        backend = self._status.backend
        if backend is None:
            raise SecretStoreError(self._status.message)
        return backend

    # -- operations ------------------------------------------------------------------------------------------------

    def get(self, ref: SecretRef) -> str | None:
        backend = self._backend()
        try:
            value = backend.get_password(self._service, ref.key)
        except Exception as exc:
            raise self._translate(exc, "read", ref) from None
        if value is not None:
            self._notify(value)
        return value

    def set(self, ref: SecretRef, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise SecretStoreError(f"refusing to store an empty secret for {ref.key}; use delete() to remove it")
        self._notify(value)  # before the write: a backend error must already be redactable
        backend = self._backend()
        try:
            backend.set_password(self._service, ref.key, value)
        except Exception as exc:
            raise self._translate(exc, "store", ref, value) from None

    def delete(self, ref: SecretRef) -> None:
        """Remove the secret; deleting one that does not exist is not an error."""
        backend = self._backend()
        try:
            backend.delete_password(self._service, ref.key)
        except PasswordDeleteError:
            # keyring uses this both for "not there" and for real failures: only the first is fine.
            if self.has(ref):
                raise SecretStoreError(f"could not delete secret {ref.key} from {self.backend_name()}") from None
        except Exception as exc:
            raise self._translate(exc, "delete", ref) from None

    def has(self, ref: SecretRef) -> bool:
        return self.get(ref) is not None

    masked = staticmethod(masked)

    # -- helpers ---------------------------------------------------------------------------------------------------

    def _notify(self, value: str) -> None:
        if self._on_secret is not None:
            self._on_secret(value)

    def _translate(self, exc: Exception, verb: str, ref: SecretRef, value: str | None = None) -> SecretStoreError:
        """One plain message per failure; the backend's text is included only with the secret cut out."""
        if isinstance(exc, SecretStoreError):
            return exc
        where = self.backend_name()
        if isinstance(exc, NoKeyringError):
            return SecretStoreError(f"could not {verb} secret {ref.key}: {no_keyring_message()}")
        if isinstance(exc, KeyringLocked | InitError):
            # Seen with gnome-keyring started without --unlock: no unlocked collection and no prompt possible.
            return SecretStoreError(
                f"could not {verb} secret {ref.key}: the keyring {where} is locked or has no unlocked collection "
                "and cannot ask for its password here (headless session?). Unlock it (e.g. "
                "`gnome-keyring-daemon --unlock`, or log in to the desktop session) and retry, or opt in to the "
                "passphrase-protected encrypted secrets file."
            )
        detail = str(exc)
        if value:
            detail = detail.replace(value, MASK)
        detail = detail.strip().splitlines()[0][:200] if detail.strip() else ""
        suffix = f": {type(exc).__name__}" + (f" ({detail})" if detail else "")
        return SecretStoreError(f"could not {verb} secret {ref.key} in {where}{suffix}")
