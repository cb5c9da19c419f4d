"""The trading services of the app, composed once: connections (DB + keyring), the offline Replay runtime and the
trade engine coordinator. Built lazily by :class:`~cts_desktop.services.Services` so ccxt, numba and aiohttp load
after the window is on screen.

The Replay connection talks to the loopback simulator started in-process, or to an already running one when
``CTS_REPLAY_URL`` names it (with ``CTS_REPLAY_KEY``/``CTS_REPLAY_SECRET`` for its account: used by the
crash-restart tests, whose simulator must outlive the app). Its keys are kept in the keyring when one exists; on a
machine without any secret store they are generated for the session only (the simulated account is re-created at
every start anyway, and it moves no money).
"""

from __future__ import annotations

import logging
import os

from cts_desktop.engine.coordinator import GlobalTradeEngineCoordinator
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.lease import LeaseKeeper
from cts_desktop.engine.start_gate import StartGate
from cts_desktop.events.app import ConnectionsChanged
from cts_desktop.events.bus import EventBus
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID, ConnectionConfig, ConnectionService
from cts_desktop.exchanges.models import Credentials
from cts_desktop.exchanges.replay_connection import ReplayOptions, ReplayRuntime, loopback_adapter
from cts_desktop.storage.connections_store import KeyringConnectionSecrets, SqlConnectionStore
from cts_desktop.storage.live_lock import LiveLock
from cts_desktop.storage.secrets import SecretStore

log = logging.getLogger("cts.engine.trading")


class _SessionSecrets:
    """Replay keys for this session only, where no secret store exists (never written anywhere)."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str], str] = {}

    def get(self, connection_id: str, field: str) -> str | None:
        return self.values.get((connection_id, field))

    def set(self, connection_id: str, field: str, value: str) -> None:
        self.values[(connection_id, field)] = value

    def delete(self, connection_id: str, field: str) -> None:
        self.values.pop((connection_id, field), None)


class PublishingConnectionStore:
    """The SQL connection store that tells the app about every change: a :class:`ConnectionsChanged` event (key =
    connection id) after each save or delete, whichever tab, dialog or engine made it. A save with live trading off
    (the switch, an emergency stop, a failed test, new keys, disabling) also deletes the connection's live-trading
    grant, so setting the flag again in the database cannot bring it back."""

    def __init__(self, inner: SqlConnectionStore, bus: EventBus, lock: LiveLock | None = None) -> None:
        self.inner = inner
        self.bus = bus
        self.lock = lock

    def get(self, connection_id: str) -> ConnectionConfig | None:
        return self.inner.get(connection_id)

    def list(self) -> list[ConnectionConfig]:
        return self.inner.list()

    def save(self, config: ConnectionConfig) -> None:
        self.inner.save(config)
        if self.lock is not None and not config.is_live_trade:
            self.lock.revoke(config.id)
        self.bus.publish(ConnectionsChanged(key=config.id))

    def delete(self, connection_id: str) -> None:
        self.inner.delete(connection_id)
        self.bus.publish(ConnectionsChanged(key=connection_id))


class Trading:
    def __init__(self, deps: EngineDeps, secrets: SecretStore, replay_speed: float = 1.0) -> None:
        db = deps.db
        self.live_lock = LiveLock(secrets)
        self.store = PublishingConnectionStore(SqlConnectionStore(db), deps.bus, self.live_lock)
        self.secrets = KeyringConnectionSecrets(secrets)
        self.connections = ConnectionService(self.store, self.secrets)
        usable = secrets.status().usable
        replay_secrets = self.secrets if usable else _SessionSecrets()
        self.replay = ReplayRuntime(replay_secrets, ReplayOptions(speed=replay_speed))
        self.external_replay = os.environ.get("CTS_REPLAY_URL")
        if db.created_now:  # first start only: a predefined connection the user deleted stays deleted
            created = self.connections.ensure_predefined()
            for config in created:
                log.info("created the predefined connection %s (disabled until keys are entered and tested)",
                         config.name)
        self.replay.ensure_connection(self.store)
        self.gate = StartGate(self.connections, self.live_lock)
        self.coordinator = GlobalTradeEngineCoordinator(deps, self.connections, self.adapter_for, LeaseKeeper(db),
                                                        gate=self.gate)

    async def adapter_for(self, config: ConnectionConfig) -> ExchangeAdapter:
        if config.id == REPLAY_CONNECTION_ID or config.is_replay:
            if self.external_replay:
                key, secret = os.environ.get("CTS_REPLAY_KEY"), os.environ.get("CTS_REPLAY_SECRET")
                creds = Credentials(key, secret) if key and secret else self.replay.credentials()
                return loopback_adapter(config.exchange_id, creds, self.external_replay)
            await self.replay.start()
            return self.replay.adapter()
        return self.connections.make_adapter(config)

    async def close(self) -> None:
        await self.coordinator.stop()
        await self.replay.stop()


__all__ = ["SecretStore", "Trading"]
