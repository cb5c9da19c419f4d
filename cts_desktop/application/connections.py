"""The Connections screen: list, add (predefined Bybit X03 / BingX X01, any ccxt exchange with swap markets, the
offline Replay), edit every option, keys straight to the keyring (only a masked form comes back). Read models and
the editor's rules: ``connection_data.py`` (re-exported here for the tab). The switches and the connection test:
``connection_switches.py`` (``ConnectionsPart.switches``, shared with the Dashboard's connection cards).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace

from sqlalchemy import select

from cts_desktop.application import connection_data as cd
from cts_desktop.application.common import TradingAccess, in_thread
from cts_desktop.application.connection_data import (
    API_TYPES,
    ConnectionDetail,
    ConnectionEdit,
    ConnectionItem,
    ExchangeChoice,
    exchange_choice,
    swap_exchanges,
    validate_edit,
)
from cts_desktop.application.connection_keys import KeyPresence
from cts_desktop.application.connection_switches import ConnectionSwitches, live_positions
from cts_desktop.events.app import ConnectionEdited
from cts_desktop.exchanges.capabilities import RateLimit
from cts_desktop.exchanges.connections import PREDEFINED, ConnectionConfig, ConnectionRuleError, ConnectionSettings
from cts_desktop.exchanges.symbols import SymbolOrder
from cts_desktop.services import Services
from cts_desktop.storage.connections_store import SqlConnectionStore
from cts_desktop.storage.models import Connection
from cts_desktop.storage.secrets import SecretRef, SecretStoreError, masked

__all__ = [
    "API_TYPES", "ConnectionConfig", "ConnectionDetail", "ConnectionEdit", "ConnectionItem", "ConnectionRuleError",
    "ConnectionSettings", "ConnectionSwitches", "ConnectionsPart", "ExchangeChoice", "RateLimit", "SymbolOrder",
]

log = logging.getLogger("cts.ui.connections")


class ConnectionsPart:
    def __init__(self, services: Services, trading: TradingAccess, switches: ConnectionSwitches) -> None:
        self.services = services
        self.trading = trading
        self.switches = switches
        self.keys: KeyPresence = switches.keys

    async def exchanges(self) -> list[ExchangeChoice]:
        """Every ccxt exchange with swap markets, computed once in a thread."""
        return list(await in_thread(swap_exchanges))

    async def items(self) -> list[ConnectionItem]:
        """The connections with keys present, engine state and live positions."""
        configs = await self.trading.connection_configs()
        live = await self.services.db.run(live_positions)
        keys = await in_thread(self.keys.present, [c.id for c in configs])
        engines = self.trading.engine_statuses()
        return [
            ConnectionItem(c, keys.get(c.id, False), engines[c.id].state.value if c.id in engines else None,
                           engines[c.id].connection.value if c.id in engines else None, live.get(c.id, 0))
            for c in configs
        ]

    async def detail(self, connection_id: str) -> ConnectionDetail:
        """What the editor shows: never a secret, only a masked key."""
        services = self.services
        secrets = services.secrets
        # read without building the trading stack (the window shows the tab before the engine is needed)
        store = services.trading.store if self.trading.loaded else SqlConnectionStore(services.db)

        def work() -> ConnectionDetail:
            config = store.get(connection_id)
            if config is None:
                raise ConnectionRuleError(f"No connection with id {connection_id}.")
            with services.db.session() as session:
                api_type = session.execute(select(Connection.api_type).where(
                    Connection.id == connection_id)).scalar_one_or_none() or "perpetual_futures"
                live = live_positions(session).get(connection_id, 0)
            key, has_secret, has_password, problem = None, False, False, None
            try:
                key = secrets.get(SecretRef.connection(connection_id, "api_key"))
                has_secret = bool(secrets.get(SecretRef.connection(connection_id, "secret")))
                has_password = bool(secrets.get(SecretRef.connection(connection_id, "password")))
            except SecretStoreError as error:
                problem = str(error)
            return ConnectionDetail(config, api_type, masked(key) if key else None, has_secret, has_password,
                                    exchange_choice(config.exchange_id), live, problem)

        return await in_thread(work)

    async def add(self, kind: str, exchange_id: str = "", name: str = "") -> ConnectionConfig:
        """Add a connection: ``predefined`` (the Bybit X03 / BingX X01 template; the existing one when it is
        there), ``generic`` (any ccxt exchange with swap markets whose keys the app can keep) or ``replay`` (the
        offline simulator connection). New exchange connections are disabled until keys are entered and tested."""
        trading = await self.trading.get()
        service = trading.connections

        def work() -> ConnectionConfig:
            configs = service.list()
            taken = {c.name for c in configs}
            if kind == "replay":
                return trading.replay.ensure_connection(trading.store)
            if kind == "predefined":
                template = dict((e, n) for n, e in PREDEFINED).get(exchange_id)
                if template is None:
                    raise ConnectionRuleError(f"There is no predefined connection for {exchange_id!r}.")
                existing = next((c for c in configs if c.is_predefined and not c.is_replay
                                 and c.exchange_id == exchange_id), None)
                if existing is not None:
                    return existing
                config = ConnectionConfig(id=uuid.uuid4().hex[:21], name=cd.unique_name(template, taken),
                                          exchange_id=exchange_id, is_predefined=True)
                service.store.save(config)
            elif kind == "generic":
                choice = exchange_choice(exchange_id)
                if choice is None:
                    raise ConnectionRuleError(f"{exchange_id!r} is not a ccxt exchange with swap markets.")
                if not choice.supported:
                    raise ConnectionRuleError(f"{choice.name} {choice.unsupported_reason}.")
                config = service.create(name.strip() or cd.unique_name(choice.name, taken), exchange_id,
                                        check_exchange=False)
            else:
                raise ValueError(f"unknown connection kind {kind!r}")
            self._set_api_type(config.id, cd.DEFAULT_API_TYPE.get(exchange_id, "perpetual_futures"))
            return config

        config = await in_thread(work)
        log.info("connection %s (%s) added", config.name, config.exchange_id, extra={"connection_id": config.id})
        return config

    async def save(self, connection_id: str, edit: ConnectionEdit) -> ConnectionConfig:
        """Store the editor's fields, validated first (ConnectionRuleError with every problem). Switching testnet
        on or off points the keys at another venue: the connection is disabled until a new test passes. A running
        engine of the connection applies the change in place where that is safe, else it restarts."""
        problems = validate_edit(edit)
        if problems:
            raise ConnectionRuleError("\n".join(problems))
        trading = await self.trading.get()
        service = trading.connections
        name = edit.name.strip()

        def work() -> tuple[ConnectionConfig, bool]:
            config = service.get(connection_id)
            if any(c.name == name and c.id != connection_id for c in service.list()):
                raise ConnectionRuleError(f"A connection named {name!r} already exists.")
            if config.is_replay and edit.is_testnet:
                raise ConnectionRuleError("The offline Replay connection has no testnet.")
            updated = replace(config, name=name, is_testnet=edit.is_testnet, margin_mode=edit.margin_mode,
                              position_mode=edit.position_mode, api_type=edit.api_type, settings=edit.settings)
            if edit.is_testnet != config.is_testnet:
                updated = replace(updated, is_enabled=False, is_live_trade=False, is_preset_trade=False,
                                  last_test=None)
            service.update(updated)  # one row write: whoever sees the new name sees the new account type too
            return updated, replace(updated, name=config.name) != config

        config, trading_changed = await in_thread(work)
        log.info("connection %s saved", config.name, extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if connection_id in coordinator.engines and trading_changed:
            if config.is_enabled and config.is_active:  # applied in place, or that engine restarts (live_changes)
                self.services.bus.publish(ConnectionEdited(key=connection_id))
            else:
                await coordinator.stop_connection(connection_id)
        return config

    async def set_keys(self, connection_id: str, api_key: str, secret: str, password: str = "") -> str:
        """Store the keys in the keyring (never in the DB); the connection is disabled until a new test passes.
        A passphrase is required where the exchange needs one (ccxt requiredCredentials). Returns where they went:
        "the OS keyring" or "the encrypted secrets file"."""
        api_key, secret, password = api_key.strip(), secret.strip(), password.strip()
        if not api_key or not secret:
            raise ConnectionRuleError("Enter both the API key and the API secret.")
        trading = await self.trading.get()
        service = trading.connections
        config = await in_thread(service.get, connection_id)
        if config.is_replay:
            raise ConnectionRuleError("The Replay connection's keys are generated for the built-in simulator.")
        choice = await in_thread(exchange_choice, config.exchange_id)
        if choice is not None and choice.needs_passphrase and not password:
            raise ConnectionRuleError(f"{choice.name} API keys come with a passphrase: enter it too.")
        await in_thread(service.set_credentials, connection_id, api_key, secret, password or None)
        self.keys.stored(connection_id)
        if connection_id in trading.coordinator.engines:
            await trading.coordinator.stop_connection(connection_id)
        where = ("the encrypted secrets file" if self.services.secrets.backend_name().startswith("encrypted file")
                 else "the OS keyring")
        log.info("new API keys stored in %s for %s; test the connection to enable it", where, config.name,
                 extra={"connection_id": connection_id})
        return where

    def _set_api_type(self, connection_id: str, api_type: str) -> None:
        """A new connection's account/API type: the exchange's usual one (the row's ``api_type`` column)."""
        with self.services.db.session() as session:
            row = session.get(Connection, connection_id)
            if row is not None:
                row.api_type = api_type
