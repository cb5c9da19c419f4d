"""An opt-in, passphrase-protected secrets file for machines without an OS keyring (headless Linux).

Why: `keyring` offers nothing safe there, and keyrings.alt's file backends are either plaintext or silently become the
default once installed. This backend is a `KeyringBackend` so `SecretStore` treats it like any keyring, but it is never
discovered automatically (priority -1, not viable, and it cannot be built without a path and a passphrase).

File layout (one file, e.g. ``<config dir>/secrets.enc``)::

    magic "CTSSECv1" | version u8 | kdf u8 (1 = scrypt) | log2(n) u8 | r u32 | p u32 | salt_len u8 | salt
    | key_check 32 bytes | nonce 12 bytes | AES-256-GCM ciphertext (AAD = every byte before it)

scrypt derives 64 bytes from the passphrase and the random salt: the first 32 are the AES key, the last 32 key an
HMAC-SHA256 of the magic stored as ``key_check`` — it tells a wrong passphrase apart from a damaged file. The whole
mapping (service, username, password) is one JSON document, padded to a 512-byte multiple and encrypted as a single
blob, so the file shows neither secrets nor usernames nor their exact lengths. Every write goes to a temp file in the
same folder (mode 0600), is fsynced and then renamed over the old file with `os.replace`, so a crash leaves either
the old file or the new one. The passphrase itself is never stored; only the derived key is kept in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import struct
import tempfile
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from cts_desktop.storage.durable import fsync_folder
from cts_desktop.storage.secrets_errors import SecretStoreError

MAGIC = b"CTSSECv1"
FORMAT_VERSION = 1
KDF_SCRYPT = 1
NONCE_LENGTH = 12
KEY_CHECK_LENGTH = 32
MIN_PASSPHRASE_LENGTH = 8
_PAD_BLOCK = 512
_FIXED = struct.Struct(">BBBIIB")  # version, kdf, log2_n, r, p, salt_len
_KEY_CHECK_LABEL = MAGIC + b" key check"


@dataclass(frozen=True)
class ScryptParams:
    """scrypt cost parameters; stored in the file header so a file stays readable if the defaults change.

    The default (n = 2**15, r = 8, p = 1) needs 32 MiB and roughly 0.1 s — paid once per unlock, not per secret.
    """

    log2_n: int = 15
    r: int = 8
    p: int = 1
    salt_length: int = 16

    def validate(self) -> None:
        # Bounds also protect against a crafted header asking for gigabytes of memory.
        if not (10 <= self.log2_n <= 22 and 1 <= self.r <= 32 and 1 <= self.p <= 16):
            raise SecretStoreError(
                f"unsupported scrypt parameters n=2**{self.log2_n}, r={self.r}, p={self.p} "
                "(allowed: n 2**10..2**22, r 1..32, p 1..16)"
            )
        if not 16 <= self.salt_length <= 64:
            raise SecretStoreError(f"unsupported scrypt salt length {self.salt_length} (allowed 16..64)")


@dataclass(frozen=True)
class _Header:
    params: ScryptParams
    salt: bytes
    key_check: bytes

    def prefix(self, nonce: bytes) -> bytes:
        """Header bytes up to and including the nonce; authenticated as AES-GCM associated data."""
        fixed = _FIXED.pack(
            FORMAT_VERSION, KDF_SCRYPT, self.params.log2_n, self.params.r, self.params.p, len(self.salt)
        )
        return MAGIC + fixed + self.salt + self.key_check + nonce


def _parse(path: Path, blob: bytes) -> tuple[_Header, bytes, bytes, bytes]:
    """Split a file into (header, nonce, associated data, ciphertext); raise a plain error if it is not ours."""
    not_ours = SecretStoreError(f"{path} is not a CTS Desktop secrets file, or it is truncated")
    if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + _FIXED.size:
        raise not_ours
    version, kdf, log2_n, r, p, salt_len = _FIXED.unpack_from(blob, len(MAGIC))
    if version != FORMAT_VERSION or kdf != KDF_SCRYPT:
        raise SecretStoreError(f"{path} uses secrets-file format {version}/kdf {kdf}, which this version cannot read")
    params = ScryptParams(log2_n=log2_n, r=r, p=p, salt_length=salt_len)
    params.validate()
    offset = len(MAGIC) + _FIXED.size
    end_of_prefix = offset + salt_len + KEY_CHECK_LENGTH + NONCE_LENGTH
    if len(blob) < end_of_prefix + 16:  # 16 = the GCM tag
        raise not_ours
    salt = blob[offset : offset + salt_len]
    key_check = blob[offset + salt_len : offset + salt_len + KEY_CHECK_LENGTH]
    nonce = blob[end_of_prefix - NONCE_LENGTH : end_of_prefix]
    return _Header(params, salt, key_check), nonce, blob[:end_of_prefix], blob[end_of_prefix:]


def _derive(passphrase: str, salt: bytes, params: ScryptParams) -> tuple[bytes, bytes]:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    normalized = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    material = Scrypt(salt=salt, length=64, n=2**params.log2_n, r=params.r, p=params.p).derive(normalized)
    enc_key, check_key = material[:32], material[32:]
    key_check = hmac.new(check_key, _KEY_CHECK_LABEL, hashlib.sha256).digest()
    return enc_key, key_check


def atomic_write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with owner-only permissions (0600 on POSIX)."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp creates the file 0600 whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    fsync_folder(path.parent)


class EncryptedFileKeyring(KeyringBackend):
    """A keyring backend kept in one AES-GCM file under a scrypt-derived key. Explicit opt-in only.

    Construction opens (or, with ``create=True``, creates) the file and checks the passphrase at once, so a wrong
    passphrase fails here with ``SecretStoreError("wrong passphrase …")`` rather than on the first read. Thread-safe;
    a change another process made to the file (a command-line tool beside the running app) is read before the next
    get, set or delete.
    """

    priority = -1
    viable = False  # keyring's discovery must never instantiate this

    def __init__(
        self,
        path: Path | str,
        passphrase: str,
        *,
        create: bool = True,
        kdf: ScryptParams | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._path = Path(path)
        self._lock = threading.Lock()
        if not passphrase:
            raise SecretStoreError("the secrets-file passphrase must not be empty")
        if self._path.exists():
            self._header, self._key, self._entries = self._open(passphrase)
        elif create:
            self._header, self._key = self._new_key(passphrase, kdf or ScryptParams())
            self._entries = {}
            self._write(self._entries)
        else:
            raise SecretStoreError(f"the encrypted secrets file {self._path} does not exist")
        self._seen = self._stamp()
        self._sweep_stale_temp_files()

    @property
    def path(self) -> Path:
        return self._path

    # -- KeyringBackend --------------------------------------------------------------------------------------------

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            self._refresh()
            return self._entries.get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._refresh()
            updated = {svc: dict(users) for svc, users in self._entries.items()}
            updated.setdefault(service, {})[username] = password
            self._write(updated)
            self._entries = updated

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            self._refresh()
            if username not in self._entries.get(service, {}):
                raise PasswordDeleteError(f"no secret stored for {username}")
            updated = {svc: dict(users) for svc, users in self._entries.items()}
            del updated[service][username]
            if not updated[service]:
                del updated[service]
            self._write(updated)
            self._entries = updated

    # -- file handling ---------------------------------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = self._path.stat()
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _refresh(self) -> None:
        """Read the file again when another process (``cts-desktop live on`` beside a running app) replaced it, so
        neither sees stale entries nor writes over the other's. A file under another passphrase is left alone."""
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return
        try:
            header, nonce, aad, ciphertext = _parse(self._path, self._path.read_bytes())
            if header.salt != self._header.salt or header.key_check != self._header.key_check:
                return
            self._entries = self._decode(AESGCM(self._key).decrypt(nonce, ciphertext, aad))
            self._seen = stamp
        except (SecretStoreError, InvalidTag, OSError):
            return

    def _new_key(self, passphrase: str, params: ScryptParams) -> tuple[_Header, bytes]:
        if len(passphrase) < MIN_PASSPHRASE_LENGTH:
            raise SecretStoreError(f"the secrets-file passphrase must have at least {MIN_PASSPHRASE_LENGTH} characters")
        params.validate()
        salt = os.urandom(params.salt_length)
        key, key_check = _derive(passphrase, salt, params)
        return _Header(params, salt, key_check), key

    def _open(self, passphrase: str) -> tuple[_Header, bytes, dict[str, dict[str, str]]]:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            blob = self._path.read_bytes()
        except OSError as exc:
            raise SecretStoreError(f"could not read the encrypted secrets file {self._path}: {exc.strerror}") from None
        header, nonce, aad, ciphertext = _parse(self._path, blob)
        key, key_check = _derive(passphrase, header.salt, header.params)
        if not hmac.compare_digest(key_check, header.key_check):
            raise SecretStoreError(f"wrong passphrase for the encrypted secrets file {self._path}")
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise SecretStoreError(
                f"the encrypted secrets file {self._path} is damaged or was modified (authentication failed)"
            ) from None
        return header, key, self._decode(plaintext)

    def _decode(self, plaintext: bytes) -> dict[str, dict[str, str]]:
        damaged = SecretStoreError(f"the encrypted secrets file {self._path} has an unreadable payload")
        try:
            document = json.loads(plaintext.decode("utf-8"))
        except ValueError:
            raise damaged from None
        entries = document.get("entries") if isinstance(document, dict) else None
        if not isinstance(entries, dict):
            raise damaged
        result: dict[str, dict[str, str]] = {}
        for service, users in entries.items():
            if not isinstance(users, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in users.items()
            ):
                raise damaged
            result[str(service)] = dict(users)
        return result

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        payload = json.dumps({"format": FORMAT_VERSION, "entries": entries}, separators=(",", ":")).encode("utf-8")
        payload += b" " * (-len(payload) % _PAD_BLOCK)  # hide exact lengths; JSON ignores trailing spaces
        nonce = os.urandom(NONCE_LENGTH)  # fresh per write: the key is reused across writes
        aad = self._header.prefix(nonce)
        blob = aad + AESGCM(self._key).encrypt(nonce, payload, aad)
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write_private(self._path, blob)
            self._seen = self._stamp()
        except OSError as exc:
            raise SecretStoreError(
                f"could not write the encrypted secrets file {self._path}: {exc.strerror or type(exc).__name__}"
            ) from None

    def _sweep_stale_temp_files(self) -> None:
        """Remove temp files a crash left behind; they are encrypted, but clutter and stale copies are not wanted."""
        with contextlib.suppress(OSError):
            for stale in self._path.parent.glob(f".{self._path.name}.*.tmp"):
                with contextlib.suppress(OSError):
                    stale.unlink()
