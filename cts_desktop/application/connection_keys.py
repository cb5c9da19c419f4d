"""Whether a connection's API key and secret are stored, asked of the keyring once per connection and then
remembered (a keyring call can take a while; the Connections list shows a badge per row every refresh)."""

from __future__ import annotations

from cts_desktop.storage.secrets import SecretRef, SecretStore, SecretStoreError


class KeyPresence:
    def __init__(self, secrets: SecretStore) -> None:
        self.secrets = secrets
        self._known: dict[str, bool] = {}

    def present(self, ids: list[str]) -> dict[str, bool]:
        """Key and secret stored, by connection id (False for all unknown ones while the keyring fails)."""
        for cid in ids:
            if cid in self._known:
                continue
            try:
                self._known[cid] = bool(self.secrets.get(SecretRef.connection(cid, "api_key"))) and bool(
                    self.secrets.get(SecretRef.connection(cid, "secret")))
            except SecretStoreError:
                return {**self._known, **{i: self._known.get(i, False) for i in ids}}
        return dict(self._known)

    def stored(self, connection_id: str) -> None:
        self._known[connection_id] = True

    def forget(self, connection_id: str) -> None:
        self._known.pop(connection_id, None)
