"""In-memory ConnectionStore / SecretStore for tests only (the app's are SQL and the OS keyring)."""

from __future__ import annotations

import copy

from cts_desktop.exchanges.connections import ConnectionConfig


class MemoryConnectionStore:
    def __init__(self) -> None:
        self.rows: dict[str, ConnectionConfig] = {}

    def get(self, connection_id: str) -> ConnectionConfig | None:
        row = self.rows.get(connection_id)
        return copy.deepcopy(row) if row else None

    def list(self) -> list[ConnectionConfig]:
        return [copy.deepcopy(r) for r in self.rows.values()]

    def save(self, config: ConnectionConfig) -> None:
        self.rows[config.id] = copy.deepcopy(config)

    def delete(self, connection_id: str) -> None:
        self.rows.pop(connection_id, None)


class MemorySecretStore:
    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, connection_id: str, field: str) -> str | None:
        return self.values.get((connection_id, field))

    def set(self, connection_id: str, field: str, value: str) -> None:
        self.values[(connection_id, field)] = value

    def delete(self, connection_id: str, field: str) -> None:
        self.values.pop((connection_id, field), None)
