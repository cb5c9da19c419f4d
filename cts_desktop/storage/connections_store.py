"""The exchange layer's ConnectionStore and SecretStore protocols over the database and the keyring.

Connection rows never hold a secret: keys live in the keyring under ``connection:<id>:<field>``.
"""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionSettings, LastTest, default_api_type
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import Connection
from cts_desktop.storage.secrets import SecretRef
from cts_desktop.storage.secrets import SecretStore as KeyringStore


def _settings_to_json(settings: ConnectionSettings) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if isinstance(value, enum.Enum):
            value = value.value
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = dataclasses.asdict(value)
        out[f.name] = value
    return out


def _settings_from_json(data: dict[str, Any] | None) -> ConnectionSettings:
    defaults = ConnectionSettings()
    if not data:
        return defaults
    values: dict[str, Any] = {}
    for f in dataclasses.fields(ConnectionSettings):
        if f.name not in data:
            continue
        raw = data[f.name]
        if f.name == "rate_limit" and raw is not None:
            raw = RateLimit(**raw)
        values[f.name] = raw
    return dataclasses.replace(defaults, **values)


def _kind(config: ConnectionConfig) -> str:
    return "replay" if config.is_replay else "predefined" if config.is_predefined else "generic"


def to_config(row: Connection) -> ConnectionConfig:
    last = None
    if row.last_test_at is not None:
        last = LastTest(
            passed=bool(row.last_test_ok),
            tested_at_ms=int(row.last_test_at.timestamp() * 1000),
            message=row.last_test_message or "",
            balance_total=None if row.last_test_balance is None else float(row.last_test_balance),
            log="\n".join(str(line) for line in (row.last_test_log or [])),
        )
    return ConnectionConfig(
        id=row.id, name=row.name, exchange_id=row.exchange, margin_mode=row.margin_type,
        position_mode=row.position_mode, is_testnet=row.testnet, is_enabled=row.is_enabled, is_active=row.is_active,
        is_live_trade=row.is_live_trade, is_preset_trade=row.is_preset_trade,
        is_predefined=row.kind in ("predefined", "replay"), is_replay=row.kind == "replay",
        api_type=row.api_type or default_api_type(row.exchange), settings=_settings_from_json(row.settings),
        last_test=last,
        created_at_ms=int(row.created_at.timestamp() * 1000),
    )


class SqlConnectionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, connection_id: str) -> ConnectionConfig | None:
        with self.db.session() as session:
            row = session.get(Connection, connection_id)
            return to_config(row) if row is not None else None

    def list(self) -> list[ConnectionConfig]:
        with self.db.session() as session:
            return [to_config(r) for r in session.execute(select(Connection).order_by(Connection.name)).scalars()]

    def save(self, config: ConnectionConfig) -> None:
        with self.db.session() as session:
            row = session.get(Connection, config.id)
            if row is None:
                row = Connection(id=config.id, created_at=datetime.fromtimestamp(config.created_at_ms / 1000, UTC))
                session.add(row)
            row.name = config.name
            row.exchange = config.exchange_id
            row.kind = _kind(config)
            row.api_type = config.api_type or default_api_type(config.exchange_id)
            row.testnet = config.is_testnet
            row.margin_type = config.margin_mode
            row.position_mode = config.position_mode
            row.is_enabled = config.is_enabled
            row.is_active = config.is_active
            row.is_live_trade = config.is_live_trade
            row.is_preset_trade = config.is_preset_trade
            row.settings = _settings_to_json(config.settings)
            rate = config.settings.rate_limit
            row.rate_limits = dataclasses.asdict(rate) if rate is not None else {}
            last = config.last_test
            if last is None:
                row.last_test_at = row.last_test_ok = row.last_test_message = None
                row.last_test_balance = row.last_test_log = None
            else:
                row.last_test_at = datetime.fromtimestamp(last.tested_at_ms / 1000, UTC)
                row.last_test_ok = last.passed
                row.last_test_message = last.message
                row.last_test_balance = None if last.balance_total is None else Decimal(repr(last.balance_total))
                row.last_test_log = last.log.splitlines()

    def delete(self, connection_id: str) -> None:
        with self.db.session() as session:
            row = session.get(Connection, connection_id)
            if row is not None:
                session.delete(row)


class KeyringConnectionSecrets:
    """(connection id, field) → the keyring entry ``connection:<id>:<field>``."""

    def __init__(self, store: KeyringStore) -> None:
        self.store = store

    def get(self, connection_id: str, field: str) -> str | None:
        return self.store.get(SecretRef.connection(connection_id, field))

    def set(self, connection_id: str, field: str, value: str) -> None:
        self.store.set(SecretRef.connection(connection_id, field), value)

    def delete(self, connection_id: str, field: str) -> None:
        self.store.delete(SecretRef.connection(connection_id, field))
