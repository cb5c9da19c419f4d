"""Connections tab: list, add (predefined Bybit X03 / BingX X01, any ccxt exchange with swap markets, the offline
Replay), edit every option, keys straight to the keyring (only a masked form comes back). Read models:
ui/connection_data.py (plain Python, no Qt). The switches and the connection test are in connection_actions.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.facades.base import FacadeBase, NoStatus, in_thread, logger
from cts_desktop.storage.models import Connection, RealPosition


class ConnectionsFacade(FacadeBase):
    async def connection_exchanges(self) -> list[Any]:
        """Every ccxt exchange with swap markets (connection_data.ExchangeChoice), computed once in a thread."""
        from cts_desktop.ui.connection_data import swap_exchanges

        return list(await in_thread(swap_exchanges))

    async def connections_list(self) -> list[Any]:
        """The connections (connection_data.ConnectionItem) with keys present, engine state and live positions."""
        from cts_desktop.ui.connection_data import ConnectionItem

        services = self.services
        if services.trading_loaded:
            configs = await in_thread(services.trading.connections.list)
        else:  # not built yet: read the rows without loading the trading stack
            from cts_desktop.storage.connections_store import SqlConnectionStore

            configs = await in_thread(SqlConnectionStore(services.db).list)
        live = await services.db.run(lambda session: self._connection_live_positions(session))
        keys = await in_thread(self._connection_keys_present, [c.id for c in configs])
        engines = {e.connection_id: e for e in (self.engine_status() or NoStatus).engines}
        return [
            ConnectionItem(c, keys.get(c.id, False), engines[c.id].state.value if c.id in engines else None,
                           engines[c.id].connection.value if c.id in engines else None, live.get(c.id, 0))
            for c in configs
        ]

    async def connection_detail(self, connection_id: str) -> Any:
        """What the editor shows (connection_data.ConnectionDetail): never a secret, only a masked key."""
        from sqlalchemy import select as sql_select

        from cts_desktop.exchanges.connections import ConnectionRuleError
        from cts_desktop.storage.connections_store import SqlConnectionStore
        from cts_desktop.storage.secrets import SecretRef, SecretStoreError, masked
        from cts_desktop.ui.connection_data import ConnectionDetail, exchange_choice

        secrets = self.services.secrets
        # read without building the trading stack (the window shows the tab before the engine is needed)
        store = self.services.trading.store if self.services.trading_loaded else SqlConnectionStore(self.services.db)

        def work() -> Any:
            config = store.get(connection_id)
            if config is None:
                raise ConnectionRuleError(f"No connection with id {connection_id}.")
            with self.services.db.session() as session:
                api_type = session.execute(sql_select(Connection.api_type).where(
                    Connection.id == connection_id)).scalar_one_or_none() or "perpetual_futures"
                live = self._connection_live_positions(session).get(connection_id, 0)
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

    async def connection_add(self, kind: str, exchange_id: str = "", name: str = "") -> Any:
        """Add a connection: ``predefined`` (the Bybit X03 / BingX X01 template; the existing one when it is
        there), ``generic`` (any ccxt exchange with swap markets whose keys the app can keep) or ``replay`` (the
        offline simulator connection). New exchange connections are disabled until keys are entered and tested."""
        import uuid

        from cts_desktop.exchanges.connections import PREDEFINED, ConnectionConfig, ConnectionRuleError
        from cts_desktop.ui import connection_data as cd

        trading = await self.dashboard_trading()
        service = trading.connections

        def work() -> Any:
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
                choice = cd.exchange_choice(exchange_id)
                if choice is None:
                    raise ConnectionRuleError(f"{exchange_id!r} is not a ccxt exchange with swap markets.")
                if not choice.supported:
                    raise ConnectionRuleError(f"{choice.name} {choice.unsupported_reason}.")
                config = service.create(name.strip() or cd.unique_name(choice.name, taken), exchange_id,
                                        check_exchange=False)
            else:
                raise ValueError(f"unknown connection kind {kind!r}")
            self._connection_set_api_type(config.id, cd.DEFAULT_API_TYPE.get(exchange_id, "perpetual_futures"))
            return config

        config = await in_thread(work)
        logger("cts.ui.connections").info("connection %s (%s) added", config.name, config.exchange_id,
                                        extra={"connection_id": config.id})
        return config

    async def connection_save(self, connection_id: str, edit: Any) -> Any:
        """Store the editor's fields (connection_data.ConnectionEdit), validated first (ConnectionRuleError with
        every problem). Switching testnet on or off points the keys at another venue: the connection is disabled
        until a new test passes. A running engine of the connection restarts to apply the change."""
        from dataclasses import replace

        from cts_desktop.exchanges.connections import ConnectionRuleError
        from cts_desktop.ui.connection_data import validate_edit

        problems = validate_edit(edit)
        if problems:
            raise ConnectionRuleError("\n".join(problems))
        trading = await self.dashboard_trading()
        service = trading.connections
        name = edit.name.strip()

        def work() -> Any:
            config = service.get(connection_id)
            if any(c.name == name and c.id != connection_id for c in service.list()):
                raise ConnectionRuleError(f"A connection named {name!r} already exists.")
            if config.is_replay and edit.is_testnet:
                raise ConnectionRuleError("The offline Replay connection has no testnet.")
            updated = replace(config, name=name, is_testnet=edit.is_testnet, margin_mode=edit.margin_mode,
                              position_mode=edit.position_mode, settings=edit.settings)
            if edit.is_testnet != config.is_testnet:
                updated = replace(updated, is_enabled=False, is_live_trade=False, is_preset_trade=False,
                                  last_test=None)
            service.update(updated)
            self._connection_set_api_type(connection_id, edit.api_type)
            return updated, replace(updated, name=config.name) != config

        config, trading_changed = await in_thread(work)
        logger("cts.ui.connections").info("connection %s saved", config.name, extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if connection_id in coordinator.engines and trading_changed:  # a new name alone needs no restart
            if config.is_enabled and config.is_active:
                await coordinator.restart_connection(connection_id)
            else:
                await coordinator.stop_connection(connection_id)
        return config

    async def connection_set_keys(self, connection_id: str, api_key: str, secret: str, password: str = "") -> None:
        """Store the keys in the keyring (never in the DB); the connection is disabled until a new test passes.
        A passphrase is required where the exchange needs one (ccxt requiredCredentials)."""
        from cts_desktop.exchanges.connections import ConnectionRuleError
        from cts_desktop.ui.connection_data import exchange_choice

        api_key, secret, password = api_key.strip(), secret.strip(), password.strip()
        if not api_key or not secret:
            raise ConnectionRuleError("Enter both the API key and the API secret.")
        trading = await self.dashboard_trading()
        service = trading.connections
        config = await in_thread(service.get, connection_id)
        if config.is_replay:
            raise ConnectionRuleError("The Replay connection's keys are generated for the built-in simulator.")
        choice = await in_thread(exchange_choice, config.exchange_id)
        if choice is not None and choice.needs_passphrase and not password:
            raise ConnectionRuleError(f"{choice.name} API keys come with a passphrase: enter it too.")
        await in_thread(service.set_credentials, connection_id, api_key, secret, password or None)
        self._connection_key_cache()[connection_id] = True
        if connection_id in trading.coordinator.engines:
            await trading.coordinator.stop_connection(connection_id)
        logger("cts.ui.connections").info("new API keys stored in the keyring for %s; test the connection to enable "
                                        "it", config.name, extra={"connection_id": connection_id})

    # helpers of the connections tab

    def _connection_key_cache(self) -> dict[str, bool]:
        cache: dict[str, bool] | None = getattr(self, "_connection_keys", None)
        if cache is None:
            cache = {}
            self._connection_keys: dict[str, bool] = cache
        return cache

    def _connection_keys_present(self, ids: list[str]) -> dict[str, bool]:
        """Whether key and secret are stored, asked of the keyring once per connection (then cached)."""
        from cts_desktop.storage.secrets import SecretRef, SecretStoreError

        cache = self._connection_key_cache()
        secrets = self.services.secrets
        for cid in ids:
            if cid in cache:
                continue
            try:
                cache[cid] = bool(secrets.get(SecretRef.connection(cid, "api_key"))) and bool(
                    secrets.get(SecretRef.connection(cid, "secret")))
            except SecretStoreError:
                return {**cache, **{i: cache.get(i, False) for i in ids}}
        return dict(cache)

    @staticmethod
    def _connection_live_positions(session: Session) -> dict[str, int]:
        rows = session.execute(
            select(RealPosition.connection_id, func.count())
            .where(RealPosition.paper.is_(False), RealPosition.status.in_(("opening", "open", "closing")))
            .group_by(RealPosition.connection_id)).all()
        return {str(cid): int(n) for cid, n in rows}

    def _connection_set_api_type(self, connection_id: str, api_type: str) -> None:
        """The account/API type lives in the row's ``api_type`` column (ConnectionConfig does not carry it)."""
        with self.services.db.session() as session:
            row = session.get(Connection, connection_id)
            if row is not None:
                row.api_type = api_type
