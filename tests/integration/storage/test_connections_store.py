"""The connections service on the real database and keyring store: rows round-trip, keys stay in the keyring."""

from __future__ import annotations

import dataclasses

from sqlalchemy import text

from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionService, LastTest
from cts_desktop.storage.connections_store import KeyringConnectionSecrets, SqlConnectionStore
from cts_desktop.storage.db import Database
from cts_desktop.storage.secrets import SecretRef, SecretStore


def test_config_round_trips_every_field(db: Database) -> None:
    store = SqlConnectionStore(db)
    config = ConnectionConfig(id="abc", name="Bybit X03", exchange_id="bybit", position_mode="one-way",
                              is_enabled=True, is_live_trade=True, is_predefined=True)
    config.settings = dataclasses.replace(config.settings, live_volume_factor=2.5, preset_volume_factor=0.4,
                                          live_pf_min_real=0.9, rate_limit=RateLimit(5, 300, 3))
    config.last_test = LastTest(True, 1_700_000_000_000, "ok", 1234.5, "line 1\nline 2")
    store.save(config)
    loaded = store.get("abc")
    assert loaded == config
    assert loaded is not None and loaded.api_type == "unified"  # Bybit X03 trades the V5 unified account
    store.save(dataclasses.replace(config, api_type="futures"))
    assert store.get("abc").api_type == "futures"  # type: ignore[union-attr]
    store.save(config)
    assert [c.id for c in store.list()] == ["abc"]
    store.save(dataclasses.replace(config, last_test=None))
    assert store.get("abc").last_test is None  # type: ignore[union-attr]
    store.delete("abc")
    assert store.get("abc") is None


def test_service_keeps_keys_in_keyring_and_none_in_db(db: Database) -> None:
    keyring_store = SecretStore()
    service = ConnectionService(SqlConnectionStore(db), KeyringConnectionSecrets(keyring_store))
    created = service.ensure_predefined()
    assert sorted(c.name for c in created) == ["BingX X01", "Bybit X03"]
    assert service.ensure_predefined() == []  # once
    assert {c.name: c.api_type for c in service.list()} == {"Bybit X03": "unified", "BingX X01": "perpetual_futures"}
    assert all(not c.is_enabled for c in service.list())
    bybit = next(c for c in service.list() if c.exchange_id == "bybit")
    service.set_credentials(bybit.id, "KEY-0123456789abcdef", "SECRET-fedcba9876543210")
    assert keyring_store.get(SecretRef.connection(bybit.id, "api_key")) == "KEY-0123456789abcdef"
    with db.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(text("SELECT * FROM connections")))
    assert "KEY-0123456789abcdef" not in dump and "SECRET-fedcba9876543210" not in dump
    service.delete(bybit.id)
    assert keyring_store.get(SecretRef.connection(bybit.id, "api_key")) is None
