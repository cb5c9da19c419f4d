"""The live-trading lock: an engine trades real money only with a grant the user made, never because of a database
row alone (the ``is_live_trade`` column is one SQL statement away for anyone who can write the database — on a shared
PostgreSQL server, other people).

Switching live trading on (the window's typed confirmation, or ``cts-desktop live on NAME`` on the command line)
writes a **grant** into the secret store (OS keyring or the encrypted secrets file), beside the connection's keys:
connection id, live flag, the API-key fingerprint, the time and who made it, signed with HMAC-SHA256 under a random
key that lives only in the same secret store. A grant holds only for the connection it names and the keys it was
made with; switching live off in any way (the switch, an emergency stop, a failed test, new keys, disabling)
deletes it. Nothing of it is in the database, so no database edit can make, copy or restore one.

Calls read or write the secret store (may block on D-Bus or scrypt): call them off the event loop.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets as token_source
import time
from dataclasses import dataclass

from cts_desktop.exchanges.connections import LIVE_GRANT_FIELD
from cts_desktop.exchanges.models import Credentials
from cts_desktop.storage.secrets import SecretRef, SecretStore, SecretStoreError

log = logging.getLogger("cts.security.live_lock")

SIGNING_KEY = SecretRef("app", "live-lock", "signing_key")


@dataclass(frozen=True, slots=True)
class Grant:
    connection_id: str
    live: bool
    fingerprint: str
    granted_at_ms: int
    by: str  # "window" | "command line"

    def message(self) -> bytes:
        return json.dumps([self.connection_id, self.live, self.fingerprint, self.granted_at_ms, self.by],
                          separators=(",", ":")).encode()


@dataclass(frozen=True, slots=True)
class GrantCheck:
    valid: bool
    reason: str  # why not (empty when valid)
    grant: Grant | None = None


class LiveLock:
    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def _key(self, create: bool) -> bytes | None:
        value = self.store.get(SIGNING_KEY)
        if value is None and create:
            value = token_source.token_hex(32)
            self.store.set(SIGNING_KEY, value)
        return bytes.fromhex(value) if value else None

    @staticmethod
    def _ref(connection_id: str) -> SecretRef:
        return SecretRef.connection(connection_id, LIVE_GRANT_FIELD)

    def grant(self, connection_id: str, credentials: Credentials, by: str) -> Grant:
        """Sign and store a grant for these keys (SecretStoreError where no secret store is usable)."""
        key = self._key(create=True)
        assert key is not None
        grant = Grant(connection_id, True, credentials.fingerprint(), int(time.time() * 1000), by)
        signature = hmac.new(key, grant.message(), hashlib.sha256).hexdigest()
        body = {"connection_id": grant.connection_id, "live": grant.live, "fingerprint": grant.fingerprint,
                "granted_at_ms": grant.granted_at_ms, "by": grant.by, "signature": signature}
        self.store.set(self._ref(connection_id), json.dumps(body))
        log.warning("live trading granted for connection %s by the %s", connection_id, by,
                    extra={"connection_id": connection_id})
        return grant

    def revoke(self, connection_id: str) -> None:
        """Delete the connection's grant (nothing when there is none, or no secret store at all: a grant can only be
        kept in one, so without one there is none to remove)."""
        if not self.store.status().usable:
            return
        try:
            if self.store.get(self._ref(connection_id)) is None:
                return
            self.store.delete(self._ref(connection_id))
        except SecretStoreError as error:
            log.warning("the live-trading grant of %s could not be removed: %s", connection_id, error)
            return
        log.info("live-trading grant of %s removed", connection_id, extra={"connection_id": connection_id})

    def check(self, connection_id: str, credentials: Credentials | None) -> GrantCheck:
        """Whether a valid grant lets this connection trade live with these keys now."""
        try:
            raw = self.store.get(self._ref(connection_id))
            key = self._key(create=False)
        except SecretStoreError as error:
            return GrantCheck(False, f"the secret store cannot be read ({error})")
        if raw is None:
            return GrantCheck(False, "live trading was never confirmed on this computer (no grant in the keyring or "
                                     "secrets file)")
        if key is None:
            return GrantCheck(False, "the grant's signing key is missing from the secret store")
        try:
            body = json.loads(raw)
            grant = Grant(str(body["connection_id"]), bool(body["live"]), str(body["fingerprint"]),
                          int(body["granted_at_ms"]), str(body["by"]))
            signature = str(body["signature"])
        except (ValueError, KeyError, TypeError):
            return GrantCheck(False, "the stored grant is unreadable")
        expected = hmac.new(key, grant.message(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return GrantCheck(False, "the grant's signature does not match")
        if grant.connection_id != connection_id or not grant.live:
            return GrantCheck(False, "the grant is for another connection")
        if credentials is None:
            return GrantCheck(False, "the connection has no API keys")
        if not hmac.compare_digest(grant.fingerprint, credentials.fingerprint()):
            return GrantCheck(False, "the API keys changed since live trading was confirmed")
        return GrantCheck(True, "", grant)


__all__ = ["SIGNING_KEY", "Grant", "GrantCheck", "LiveLock"]
