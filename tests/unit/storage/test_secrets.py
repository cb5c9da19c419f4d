"""SecretStore over keyring, backend detection (no plaintext, clear headless message), and the encrypted file."""

from __future__ import annotations

import os
import secrets as std_secrets
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import keyring
import keyring.core
import pytest
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null
from keyring.errors import InitError, KeyringLocked, PasswordDeleteError

from cts_desktop.storage.keyring_memory import MemoryKeyring
from cts_desktop.storage.secrets import (
    SERVICE_NAME,
    BackendKind,
    EncryptedFileKeyring,
    ScryptParams,
    SecretRef,
    SecretStore,
    SecretStoreError,
    detect_backend,
    is_plaintext_backend,
    masked,
)

REPO_ROOT = Path(__file__).resolve().parents[3]
FAST_KDF = ScryptParams(log2_n=10, r=8, p=1)  # the file format is the same; only the unlock cost differs


def new_secret() -> str:
    return std_secrets.token_urlsafe(27)


def new_passphrase() -> str:
    return "pp-" + std_secrets.token_urlsafe(12)


@pytest.fixture
def isolated_backend_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backend classes defined in a test register globally in keyring; give them a throw-away registry."""
    monkeypatch.setattr(KeyringBackend, "_classes", set(KeyringBackend._classes))  # type: ignore[attr-defined]


class RecordingKeyring(MemoryKeyring):
    """A memory keyring that remembers whether anything was written, to prove refused backends stay untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def set_password(self, service: str, username: str, password: str) -> None:
        self.writes += 1
        super().set_password(service, username, password)


def make_backend(name: str, module: str, priority: float, base: type[KeyringBackend] = RecordingKeyring) -> type:
    cls = type(name, (base,), {"priority": priority})
    cls.__module__ = module
    return cls


# -- SecretRef and masking -------------------------------------------------------------------------------------------


def test_ref_keys_follow_the_scope_owner_field_scheme() -> None:
    assert SecretRef.connection("7", "api_key").key == "connection:7:api_key"
    assert SecretRef.replay(3, "api_secret").key == "replay:3:api_secret"
    db = SecretRef.database("postgresql+psycopg://trader:pw-123@db.local:5432/cts")
    assert db.key == "database:postgresql+psycopg://trader@db.local:5432/cts:password"
    assert "pw-123" not in db.key
    assert SecretRef.parse(db.key) == db
    assert SecretRef.parse("connection:7:api_key") == SecretRef.connection(7, "api_key")


@pytest.mark.parametrize(
    ("scope", "owner", "field"),
    [
        ("", "1", "api_key"),
        ("con:nection", "1", "api_key"),
        ("connection", "", "api_key"),
        ("connection", "1", "api:key"),
        ("connection", " 1", "api_key"),
        ("database", "postgresql://u:secretpw@h/db", "password"),
    ],
)
def test_invalid_refs_are_rejected(scope: str, owner: str, field: str) -> None:
    with pytest.raises(SecretStoreError) as info:
        SecretRef(scope, owner, field)
    assert "secretpw" not in str(info.value)


def test_masked_shows_only_the_ends_of_long_values() -> None:
    value = "abcd" + "0123456789" + "wxyz"
    assert masked(value) == "abcd…wxyz"
    assert masked("short-12345") == "••••"
    assert masked("") == "••••"
    assert masked(None) == "••••"
    assert SecretStore.masked(value) == "abcd…wxyz"


# -- SecretStore on the in-memory keyring ----------------------------------------------------------------------------


def test_set_get_has_delete_round_trip_on_the_memory_keyring() -> None:
    backend = keyring.get_keyring()
    assert isinstance(backend, MemoryKeyring)
    store = SecretStore()
    ref = SecretRef.connection("bybit-x03", "api_secret")
    value = new_secret()

    assert store.get(ref) is None
    assert not store.has(ref)
    store.set(ref, value)
    assert store.get(ref) == value
    assert store.has(ref)
    assert backend.get_password(SERVICE_NAME, "connection:bybit-x03:api_secret") == value

    other = SecretRef.connection("bybit-x03", "api_key")
    assert store.get(other) is None

    store.delete(ref)
    assert store.get(ref) is None
    store.delete(ref)  # idempotent
    assert not store.has(ref)


def test_status_and_backend_name_for_an_explicitly_configured_backend() -> None:
    store = SecretStore()
    assert store.status().kind is BackendKind.CONFIGURED
    assert store.status().usable
    assert "MemoryKeyring" in store.backend_name()


@pytest.mark.parametrize("empty", ["", "   ", "\n"])
def test_set_rejects_empty_values(empty: str) -> None:
    store = SecretStore()
    ref = SecretRef.connection(1, "api_key")
    with pytest.raises(SecretStoreError, match="empty"):
        store.set(ref, empty)
    assert not store.has(ref)


def test_on_secret_listener_sees_values_on_set_and_get() -> None:
    seen: list[str] = []
    store = SecretStore(on_secret=seen.append)
    ref = SecretRef.connection(1, "api_key")
    value = new_secret()
    store.set(ref, value)
    assert seen == [value]

    reader_seen: list[str] = []
    SecretStore(on_secret=reader_seen.append).get(ref)
    assert reader_seen == [value]
    SecretStore(on_secret=reader_seen.append).get(SecretRef.connection(2, "api_key"))
    assert reader_seen == [value]  # nothing stored → nothing reported


class ExplodingKeyring(MemoryKeyring):
    """Raises a backend error that echoes its arguments, as some D-Bus errors do."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise RuntimeError(f"D-Bus said no to {username}={password}")

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("collection is locked")


def test_backend_errors_become_secret_store_errors_without_the_secret() -> None:
    store = SecretStore(ExplodingKeyring())
    ref = SecretRef.connection(5, "api_secret")
    value = new_secret()
    with pytest.raises(SecretStoreError) as info:
        store.set(ref, value)
    assert value not in str(info.value)
    assert "RuntimeError" in str(info.value) and "connection:5:api_secret" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__

    with pytest.raises(SecretStoreError, match="locked"):
        store.get(ref)


class NoCollectionKeyring(MemoryKeyring):
    """What SecretService raises when gnome-keyring runs without an unlocked collection and cannot prompt."""

    def set_password(self, service: str, username: str, password: str) -> None:
        raise InitError("Failed to create the collection: Prompt dismissed..")


def test_locked_or_collectionless_keyring_names_the_way_out() -> None:
    with pytest.raises(SecretStoreError) as info:
        SecretStore(NoCollectionKeyring()).set(SecretRef.connection(1, "api_key"), new_secret())
    message = str(info.value)
    assert "gnome-keyring-daemon --unlock" in message and "encrypted secrets file" in message


class StickyKeyring(MemoryKeyring):
    """Claims a delete failed and keeps the value, like a read-only collection."""

    def delete_password(self, service: str, username: str) -> None:
        raise PasswordDeleteError("read-only collection")


def test_delete_that_really_failed_is_reported() -> None:
    store = SecretStore(StickyKeyring())
    ref = SecretRef.connection(1, "api_key")
    store.delete(ref)  # nothing there: fine
    store.set(ref, new_secret())
    with pytest.raises(SecretStoreError, match="could not delete"):
        store.delete(ref)


# -- backend detection -----------------------------------------------------------------------------------------------


def test_fail_keyring_means_no_backend_with_a_clear_message() -> None:
    status = detect_backend(fail.Keyring())
    assert status.kind is BackendKind.NONE and not status.usable and not status.is_os_keyring
    for option in ("gnome-keyring", "KWallet", "encrypted secrets file", "never stored in plain text"):
        assert option in status.message

    store = SecretStore(fail.Keyring())
    with pytest.raises(SecretStoreError) as info:
        store.set(SecretRef.connection(1, "api_key"), new_secret())
    assert "No OS keyring is available" in str(info.value)
    assert store.backend_name().startswith("none")


def test_null_keyring_is_not_accepted_because_it_drops_writes() -> None:
    status = detect_backend(null.Keyring())
    assert status.kind is BackendKind.NONE and not status.usable


def test_detect_backend_reads_the_process_keyring_by_default() -> None:
    status = detect_backend()
    assert status.kind is BackendKind.CONFIGURED
    assert status.backend is keyring.get_keyring()


def test_broken_keyring_configuration_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring.core, "_keyring_backend", None)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "cts_desktop.no_such_module.NoSuchKeyring")
    status = detect_backend()
    assert status.kind is BackendKind.NONE
    assert "could not be loaded" in status.message and "gnome-keyring" in status.message


@pytest.mark.usefixtures("isolated_backend_registry")
def test_a_recommended_backend_counts_as_an_os_keyring() -> None:
    system_cls = make_backend("FakeSecretService", "tests_fake.SecretService", priority=5)
    status = detect_backend(system_cls())
    assert status.kind is BackendKind.SYSTEM and status.is_os_keyring and status.usable


@pytest.mark.usefixtures("isolated_backend_registry")
@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("PlaintextKeyring", "keyrings.alt.file"),
        ("UnencryptedFileKeyring", "somevendor.backends"),
        ("Keyring", "somevendor.plaintext_store"),
    ],
)
def test_plaintext_backends_are_refused(name: str, module: str) -> None:
    backend = make_backend(name, module, priority=0.5)()
    assert is_plaintext_backend(backend)
    store = SecretStore(backend)
    assert store.status().kind is BackendKind.REFUSED
    assert "plain text" in store.status().message
    with pytest.raises(SecretStoreError, match="plain text"):
        store.set(SecretRef.connection(1, "api_key"), new_secret())
    assert backend.writes == 0


@pytest.mark.usefixtures("isolated_backend_registry")
def test_a_chain_never_writes_to_its_plaintext_member() -> None:
    plaintext = make_backend("PlaintextKeyring", "keyrings.alt.file", priority=9)()
    system = make_backend("FakeKWallet", "tests_fake.kwallet", priority=5)()
    chain_cls = type("TestChain", (chainer.ChainerBackend,), {"backends": [plaintext, system]})
    status = detect_backend(chain_cls())
    assert status.kind is BackendKind.SYSTEM
    assert status.backend is system
    assert "Ignored plaintext" in status.message

    store = SecretStore(chain_cls())
    store.set(SecretRef.connection(1, "api_key"), new_secret())
    assert plaintext.writes == 0 and system.writes == 1


@pytest.mark.usefixtures("isolated_backend_registry")
def test_empty_or_plaintext_only_chains_are_unusable() -> None:
    empty = type("EmptyChain", (chainer.ChainerBackend,), {"backends": []})()
    assert detect_backend(empty).kind is BackendKind.NONE
    only_plain = make_backend("PlaintextKeyring", "keyrings.alt.file", priority=9)()
    chain = type("PlainChain", (chainer.ChainerBackend,), {"backends": [only_plain]})()
    assert detect_backend(chain).kind is BackendKind.REFUSED


# -- the encrypted file ----------------------------------------------------------------------------------------------


def test_encrypted_file_is_never_discovered_automatically() -> None:
    assert EncryptedFileKeyring.priority <= 0
    discovered = keyring.backend.get_all_keyring()
    assert not any(isinstance(b, EncryptedFileKeyring) for b in discovered)


def test_encrypted_file_round_trip_through_the_store(tmp_path: Path) -> None:
    path = tmp_path / "config" / "secrets.enc"
    passphrase = new_passphrase()
    store = SecretStore(fail.Keyring())
    store.use_encrypted_file(path, passphrase, kdf=FAST_KDF)
    assert store.status().kind is BackendKind.ENCRYPTED_FILE
    assert str(path) in store.backend_name()

    key_ref, secret_ref = SecretRef.connection(7, "api_key"), SecretRef.connection(7, "api_secret")
    key_value, secret_value = new_secret(), new_secret()
    store.set(key_ref, key_value)
    store.set(secret_ref, secret_value)
    store.delete(key_ref)
    store.delete(key_ref)

    reopened = SecretStore(fail.Keyring())
    reopened.use_encrypted_file(path, passphrase, create=False)
    assert reopened.get(secret_ref) == secret_value
    assert reopened.get(key_ref) is None

    raw = EncryptedFileKeyring(path, passphrase, create=False)
    assert raw.get_password(SERVICE_NAME, secret_ref.key) == secret_value


def test_wrong_passphrase_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    EncryptedFileKeyring(path, new_passphrase(), kdf=FAST_KDF).set_password(SERVICE_NAME, "u", new_secret())
    store = SecretStore(fail.Keyring())
    with pytest.raises(SecretStoreError, match="wrong passphrase"):
        store.use_encrypted_file(path, new_passphrase())
    assert store.status().kind is BackendKind.NONE  # the failed switch changed nothing


def test_a_modified_file_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    passphrase = new_passphrase()
    EncryptedFileKeyring(path, passphrase, kdf=FAST_KDF).set_password(SERVICE_NAME, "u", new_secret())
    blob = bytearray(path.read_bytes())
    blob[-20] ^= 0x01
    path.write_bytes(bytes(blob))
    with pytest.raises(SecretStoreError, match="damaged or was modified"):
        EncryptedFileKeyring(path, passphrase)
    path.write_bytes(b"not a secrets file at all")
    with pytest.raises(SecretStoreError, match="not a CTS Desktop secrets file"):
        EncryptedFileKeyring(path, passphrase)


def test_creation_rules(tmp_path: Path) -> None:
    with pytest.raises(SecretStoreError, match="does not exist"):
        EncryptedFileKeyring(tmp_path / "missing.enc", new_passphrase(), create=False)
    with pytest.raises(SecretStoreError, match="at least 8"):
        EncryptedFileKeyring(tmp_path / "weak.enc", "short", kdf=FAST_KDF)
    with pytest.raises(SecretStoreError, match="empty"):
        EncryptedFileKeyring(tmp_path / "empty.enc", "", kdf=FAST_KDF)
    assert not (tmp_path / "weak.enc").exists()


def test_file_bytes_hold_no_secret_username_or_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    passphrase = new_passphrase()
    store = SecretStore(fail.Keyring())
    store.use_encrypted_file(path, passphrase)  # default scrypt cost, as shipped
    ref = SecretRef.database("postgresql+psycopg://trader:x@db.internal:5432/cts")
    value = new_secret()
    store.set(ref, value)
    store.set(SecretRef.connection("bingx-x01", "api_key"), new_secret())

    blob = path.read_bytes()
    for needle in (value, ref.key, "db.internal", "bingx-x01", "connection", "api_key", SERVICE_NAME, passphrase):
        assert needle.encode("utf-8") not in blob
        assert needle.encode("utf-16-le") not in blob
    # The scrypt parameters travel in the header, so a changed default cannot lock a user out.
    assert blob[:8] == b"CTSSECv1" and blob[10] == 15
    fresh = EncryptedFileKeyring(path, passphrase, create=False, kdf=FAST_KDF)
    assert fresh.get_password(SERVICE_NAME, ref.key) == value
    assert not any(passphrase in repr(v) for v in vars(fresh).values())


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_file_mode_is_0600_after_create_and_update(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    old_umask = os.umask(0o022)
    try:
        backend = EncryptedFileKeyring(path, new_passphrase(), kdf=FAST_KDF)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        backend.set_password(SERVICE_NAME, "connection:1:api_key", new_secret())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old_umask)


def test_failed_write_keeps_old_file_and_memory_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "secrets.enc"
    passphrase = new_passphrase()
    backend = EncryptedFileKeyring(path, passphrase, kdf=FAST_KDF)
    old_value = new_secret()
    backend.set_password(SERVICE_NAME, "connection:1:api_key", old_value)
    before = path.read_bytes()

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SecretStoreError, match="could not write"):
        backend.set_password(SERVICE_NAME, "connection:1:api_key", new_secret())
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert backend.get_password(SERVICE_NAME, "connection:1:api_key") == old_value
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    from cts_desktop.storage.secrets_file import EncryptedFileKeyring
    path, passphrase, new_value = sys.argv[1:4]
    backend = EncryptedFileKeyring(path, passphrase)
    def crash(fd):  # the process dies after the temp file is written, before the rename
        os._exit(17)
    os.fsync = crash
    backend.set_password("cts-desktop", "connection:1:api_key", new_value)
    os._exit(0)
    """
)


def test_crash_mid_write_leaves_the_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "secrets.enc"
    passphrase = new_passphrase()
    old_value, new_value = new_secret(), new_secret()
    EncryptedFileKeyring(path, passphrase, kdf=FAST_KDF).set_password(SERVICE_NAME, "connection:1:api_key", old_value)
    before = path.read_bytes()

    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(path), passphrase, new_value],
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 17, done.stderr
    assert path.read_bytes() == before
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".secrets.enc.")

    reopened = EncryptedFileKeyring(path, passphrase, create=False)
    assert reopened.get_password(SERVICE_NAME, "connection:1:api_key") == old_value
    assert list(tmp_path.iterdir()) == [path]  # the stale temp file was swept on open


def test_an_encrypted_file_changed_by_another_process_is_read_again_and_never_written_over(tmp_path: Path) -> None:
    """`cts-desktop live on` writes the grant while the app keeps the file open: the app sees it, and the app's next
    write keeps it."""
    path = tmp_path / "secrets.enc"
    app = EncryptedFileKeyring(path, "correct horse battery", kdf=FAST_KDF)
    app.set_password("svc", "api_key", "key-1")
    command_line = EncryptedFileKeyring(path, "correct horse battery", create=False)
    command_line.set_password("svc", "live_grant", "grant-1")
    assert app.get_password("svc", "live_grant") == "grant-1"
    app.set_password("svc", "other", "value")
    reopened = EncryptedFileKeyring(path, "correct horse battery", create=False)
    assert {k: reopened.get_password("svc", k) for k in ("api_key", "live_grant", "other")} == {
        "api_key": "key-1", "live_grant": "grant-1", "other": "value"}
    command_line.delete_password("svc", "live_grant")
    assert app.get_password("svc", "live_grant") is None
