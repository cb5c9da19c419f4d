"""Decide whether the keyring backend `keyring` picked is one we may keep secrets in.

Why this exists: `keyring` silently falls back to `fail.Keyring` (every call raises) or an empty chainer on headless
Linux, to `null.Keyring` (every write is dropped) when disabled, and to keyrings.alt's `PlaintextKeyring` whenever that
package is installed. None of these may hold API keys. This module classifies the active backend once, with a message
the UI can show verbatim, and hands `SecretStore` a backend that is safe to use (or none).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from enum import StrEnum

from keyring.backend import KeyringBackend

_PLAINTEXT_MARKERS = ("plaintext", "unencrypted", "plain_text", "cleartext")


class BackendKind(StrEnum):
    """What kind of backend is (or is not) available."""

    SYSTEM = "system"  # a recommended OS keyring (Secret Service, KWallet, macOS Keychain, Windows Credential Locker)
    CONFIGURED = "configured"  # explicitly configured, not plaintext, but not a recommended OS keyring (e.g. tests)
    ENCRYPTED_FILE = "encrypted_file"  # the user opted in to the passphrase-protected file
    NONE = "none"  # no usable backend at all
    REFUSED = "refused"  # only plaintext/unencrypted backends are available, and we refuse them


@dataclass(frozen=True)
class BackendStatus:
    """The outcome of detection: the kind, a display name, a user-facing message, and the backend to use."""

    kind: BackendKind
    name: str
    message: str
    backend: KeyringBackend | None = field(default=None, repr=False, compare=False)

    @property
    def usable(self) -> bool:
        return self.backend is not None

    @property
    def is_os_keyring(self) -> bool:
        return self.kind is BackendKind.SYSTEM


def backend_display_name(backend: KeyringBackend) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def is_plaintext_backend(backend: KeyringBackend | type[KeyringBackend]) -> bool:
    """True for keyrings.alt's PlaintextKeyring and anything whose class or module name says it stores plain text."""
    cls = backend if isinstance(backend, type) else type(backend)
    if cls.__module__.startswith("keyrings.alt") and cls.__name__ == "PlaintextKeyring":
        return True
    names = [f"{klass.__module__}.{klass.__qualname__}".lower() for klass in cls.__mro__]
    return any(marker in name for name in names for marker in _PLAINTEXT_MARKERS)


def no_keyring_message() -> str:
    """The headless-Linux explanation, with the options the user actually has."""
    if sys.platform.startswith("linux"):
        where = (
            "No OS keyring is available: no Secret Service (gnome-keyring) or KWallet answers on the D-Bus session "
            "bus — typical for a headless or minimal Linux session."
        )
        fixes = (
            "Options: (1) install and unlock gnome-keyring (e.g. `apt install gnome-keyring dbus-x11`, then run the "
            "app under `dbus-launch` with `gnome-keyring-daemon --unlock` started) or use KWallet in a KDE session; "
            "or (2) opt in to the passphrase-protected encrypted secrets file."
        )
    else:
        where = "No OS keyring is available (the system keychain/credential store could not be reached)."
        fixes = (
            "Options: (1) unlock or enable the system keychain/credential store; "
            "or (2) opt in to the passphrase-protected encrypted secrets file."
        )
    return f"{where} {fixes} Secrets are never stored in plain text."


def _refused_message(names: list[str]) -> str:
    joined = ", ".join(names)
    return (
        f"Refusing keyring backend {joined}: it stores secrets in plain text. "
        "Remove keyrings.alt (or its keyringrc.cfg/PYTHON_KEYRING_BACKEND setting) and use an OS keyring "
        "(gnome-keyring, KWallet, macOS Keychain, Windows Credential Locker), or opt in to the "
        "passphrase-protected encrypted secrets file."
    )


def _is_fail_or_null(backend: KeyringBackend) -> bool:
    from keyring.backends import fail, null

    return isinstance(backend, fail.Keyring | null.Keyring)


def _priority(backend: KeyringBackend) -> float:
    try:
        return float(backend.priority)
    except Exception:
        return float("-inf")


def classify_backend(backend: KeyringBackend) -> BackendStatus:
    """Classify one concrete backend instance (see `BackendKind`)."""
    from keyring.backends.chainer import ChainerBackend

    from cts_desktop.storage.secrets_file import EncryptedFileKeyring

    name = backend_display_name(backend)
    if isinstance(backend, EncryptedFileKeyring):
        return BackendStatus(
            BackendKind.ENCRYPTED_FILE, name, f"Using the encrypted secrets file {backend.path}.", backend
        )
    if _is_fail_or_null(backend):
        return BackendStatus(BackendKind.NONE, name, no_keyring_message())
    if is_plaintext_backend(backend):
        return BackendStatus(BackendKind.REFUSED, name, _refused_message([name]))
    if isinstance(backend, ChainerBackend):
        return _classify_chain(backend)
    if _priority(backend) >= 1:
        return BackendStatus(BackendKind.SYSTEM, name, f"Using the OS keyring {name}.", backend)
    return BackendStatus(
        BackendKind.CONFIGURED,
        name,
        f"Using the explicitly configured keyring backend {name}; it is not a recommended OS keyring.",
        backend,
    )


def _classify_chain(chain: KeyringBackend) -> BackendStatus:
    """A chainer is only as good as its members: empty means none; plaintext members are dropped, never written to."""
    name = backend_display_name(chain)
    try:
        members: list[KeyringBackend] = list(type(chain).backends)  # type: ignore[attr-defined]
    except Exception as exc:  # a third-party backend failing during discovery
        return BackendStatus(
            BackendKind.NONE, name, f"Keyring discovery failed ({type(exc).__name__}). {no_keyring_message()}"
        )
    if not members:
        return BackendStatus(BackendKind.NONE, name, no_keyring_message())
    safe = [m for m in members if not is_plaintext_backend(m) and not _is_fail_or_null(m)]
    refused = [backend_display_name(m) for m in members if is_plaintext_backend(m)]
    if not safe:
        if refused:
            return BackendStatus(BackendKind.REFUSED, name, _refused_message(refused))
        return BackendStatus(BackendKind.NONE, name, no_keyring_message())
    if refused:
        # Writing through the chainer could land in the plaintext member; use the best safe member directly.
        best = max(safe, key=_priority)
        status = classify_backend(best)
        note = f" Ignored plaintext backend(s): {', '.join(refused)}."
        return BackendStatus(status.kind, status.name, status.message + note, status.backend)
    kind = BackendKind.SYSTEM if all(_priority(m) >= 1 for m in safe) else BackendKind.CONFIGURED
    member_names = ", ".join(backend_display_name(m) for m in safe)
    return BackendStatus(kind, name, f"Using the OS keyring chain: {member_names}.", chain)


def detect_backend(backend: KeyringBackend | None = None) -> BackendStatus:
    """Classify `backend`, or the one `keyring` selects for this process (env, keyringrc.cfg, or auto-detection).

    Never raises: a broken configuration (e.g. PYTHON_KEYRING_BACKEND naming a missing class) is reported as NONE.
    """
    if backend is None:
        try:
            import keyring

            backend = keyring.get_keyring()
        except Exception as exc:
            return BackendStatus(
                BackendKind.NONE,
                "unavailable",
                f"The keyring configuration could not be loaded ({type(exc).__name__}). {no_keyring_message()}",
            )
    return classify_backend(backend)
