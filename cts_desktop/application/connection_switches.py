"""Connection switches that reach running engines, shared by the Connections tab and the Dashboard's connection
cards: the connection test (worker thread, live trace), enable, active, live trade and Preset trade (typed
confirmation), volume factor and delete (refused while live positions are open)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cts_desktop.application.common import TradingAccess, in_thread
from cts_desktop.application.connection_keys import KeyPresence
from cts_desktop.application.connection_trace import TracingConnectionService
from cts_desktop.application.dashboard_data import OPEN_STATUSES
from cts_desktop.engine.start_gate import routes_to_simulator
from cts_desktop.events.app import ConnectionEdited
from cts_desktop.events.bus import EventBus
from cts_desktop.exchanges.connection_test import ConnectionTestResult
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionRuleError
from cts_desktop.storage.db import Database
from cts_desktop.storage.models import RealPosition
from cts_desktop.storage.secrets import SecretStoreError

if TYPE_CHECKING:
    from cts_desktop.trading import Trading

log = logging.getLogger("cts.ui.connections")
dashboard_log = logging.getLogger("cts.ui.dashboard")

RUNNING = ("running", "paused")


def live_positions(session: Session) -> dict[str, int]:
    """Open live (non-paper) positions by connection id: opening, open or closing."""
    rows = session.execute(
        select(RealPosition.connection_id, func.count())
        .where(RealPosition.paper.is_(False), RealPosition.status.in_(OPEN_STATUSES))
        .group_by(RealPosition.connection_id)).all()
    return {str(cid): int(n) for cid, n in rows}


def grant_live(trading: Trading, config: ConnectionConfig, by: str) -> None:
    """After the flag is stored on: sign the grant (the offline Replay connection needs none, it moves no money).
    Without a test passed with the current keys, or when the grant cannot be written, the flag goes off again."""
    if routes_to_simulator(config):
        return
    service = trading.connections
    try:
        credentials = service.credentials(config.id)
        if credentials is None or not service.tested_with_current_keys(config):
            raise ConnectionRuleError(f"Live trading stays off: no connection test of {config.name} passed with its "
                                      "current API keys. Run the connection test first.")
        trading.live_lock.grant(config.id, credentials, by)
    except (ConnectionRuleError, SecretStoreError) as error:
        service.update(replace(service.get(config.id), is_live_trade=False))
        if isinstance(error, ConnectionRuleError):
            raise
        raise ConnectionRuleError(f"Live trading stays off: the confirmation could not be stored ({error}).") \
            from error


class ConnectionSwitches:
    def __init__(self, db: Database, trading: TradingAccess, keys: KeyPresence, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self.trading = trading
        self.keys = keys

    async def test(self, connection_id: str, on_line: Callable[[str], None] | None = None,
                   api_url: str | None = None) -> ConnectionTestResult:
        """Run the connection test in a worker thread (its own event loop, so parsing markets never stalls the
        window); ``on_line(text)`` receives the live trace on this loop. A pass enables the connection, a failure
        disables it (the service's rule) and a running coordinator starts or stops its engine to match.
        ``api_url`` points the adapter elsewhere (tests: a running simulator); the Replay connection uses the
        built-in simulator."""
        trading = await self.trading.get()
        config = await in_thread(trading.connections.get, connection_id)
        if config.is_replay and api_url is None:
            api_url = trading.external_replay or await trading.replay.start()
        loop = asyncio.get_running_loop()

        def emit(text: str) -> None:
            if on_line is not None and not loop.is_closed():
                loop.call_soon_threadsafe(on_line, text)

        # the Replay keys live with the simulator (in this session only where no keyring can keep them)
        service = TracingConnectionService(trading.connections, emit,
                                           trading.replay.credentials() if config.is_replay else None)
        try:
            result = await asyncio.to_thread(lambda: asyncio.run(service.test(connection_id, api_url=api_url)))
        except ConnectionRuleError as refused:
            log.warning("connection test of %s refused: %s", config.name, refused,
                        extra={"connection_id": connection_id})
            raise
        log.log(logging.INFO if result.passed else logging.WARNING, "connection test of %s %s: %s", config.name,
                "passed" if result.passed else "failed", result.message, extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if not result.passed and connection_id in coordinator.engines:
            await coordinator.stop_connection(connection_id)
        elif result.passed and config.is_active and coordinator.state.value in RUNNING:
            await coordinator.start_connection(connection_id)
        return result

    async def set_active(self, connection_id: str, active: bool) -> None:
        """Active connections get an engine while the coordinator runs (and a card on the dashboard)."""
        trading = await self.trading.get()
        service = trading.connections
        config = await in_thread(service.get, connection_id)
        await in_thread(service.update, replace(config, is_active=active))
        coordinator = trading.coordinator
        if not active:
            await coordinator.stop_connection(connection_id)
        elif config.is_enabled and coordinator.state.value in RUNNING:
            await coordinator.start_connection(connection_id)
        log.info("connection %s %s", config.name, "active" if active else "inactive",
                 extra={"connection_id": connection_id})

    async def live_positions(self, connection_id: str) -> int:
        """Open live (non-paper) positions of the connection: opening, open or closing."""
        counts = await self.db.run(live_positions)
        return int(counts.get(connection_id, 0))

    async def delete(self, connection_id: str) -> None:
        """Delete a connection, its keys and its stored history; refused while it has open live positions (they
        would be left on the exchange without the app watching them) and for the built-in Replay connection."""
        trading = await self.trading.get()
        service = trading.connections
        config = await in_thread(service.get, connection_id)
        if config.is_replay:
            raise ConnectionRuleError("The offline Replay connection is built in: switch it off instead.")

        async def refuse_if_live() -> None:
            live = await self.live_positions(connection_id)
            if live:
                raise ConnectionRuleError(
                    f"{config.name} has {live} open live position{'s' if live != 1 else ''} on the exchange. "
                    "Close them first: deleting now would leave them unwatched.")

        await refuse_if_live()
        coordinator = trading.coordinator
        running = connection_id in coordinator.engines
        if running:
            await coordinator.stop_connection(connection_id)
        try:
            await refuse_if_live()  # the engine may have opened one between the check and its stop
        except ConnectionRuleError:
            if running:
                await coordinator.start_connection(connection_id)
            raise
        await in_thread(service.delete, connection_id)
        self.keys.forget(connection_id)
        log.warning("connection %s deleted", config.name)

    async def set_enabled(self, connection_id: str, enabled: bool) -> None:
        """Enable (needs a passed connection test; the offline Replay connection moves no money and needs none)
        or disable a connection; a running coordinator starts or stops its engine accordingly."""
        trading = await self.trading.get()
        service = trading.connections
        config = await in_thread(service.get, connection_id)
        if enabled and config.is_replay:
            await in_thread(service.update, replace(config, is_enabled=True))
        else:
            await in_thread(service.set_enabled, connection_id, enabled)
        coordinator = trading.coordinator
        if not enabled:
            await coordinator.stop_connection(connection_id)
        elif coordinator.state.value in RUNNING and config.is_active:
            await coordinator.start_connection(connection_id)
        dashboard_log.info("connection %s %s", config.name, "enabled" if enabled else "disabled",
                           extra={"connection_id": connection_id})

    async def _confirmed(self, connection_id: str, on: bool, typed_name: str,
                         what: str) -> tuple[Trading, ConnectionConfig]:
        """The trading services and the connection's config for a switch that, to go on, needs the connection's
        name typed exactly (DOMAIN Part 1 §12); refused with ``what`` named otherwise."""
        trading = await self.trading.get()
        config = await in_thread(trading.connections.get, connection_id)
        if on and typed_name.strip() != config.name:
            raise ConnectionRuleError(f"{what} stays off: type the connection name {config.name!r} exactly "
                                      "to confirm.")
        return trading, config

    async def set_live_trade(self, connection_id: str, on: bool, typed_name: str = "") -> None:
        """Switch live trading. Switching it on needs the connection's name typed exactly (DOMAIN Part 1 §12) and
        writes the signed live-trading grant engines start live with (storage/live_lock.py); a running engine is
        restarted so it trades on the exchange (or on paper again)."""
        trading, config = await self._confirmed(connection_id, on, typed_name, "Live trading")
        service = trading.connections
        await in_thread(service.update, replace(config, is_live_trade=on))  # off: the store drops the grant
        if on:
            await in_thread(grant_live, trading, config, "window")
        dashboard_log.warning("live trading %s for %s", "ON" if on else "off", config.name,
                              extra={"connection_id": connection_id})
        coordinator = trading.coordinator
        if connection_id in coordinator.engines:
            await coordinator.restart_connection(connection_id)

    async def set_preset_trade(self, connection_id: str, on: bool, typed_name: str = "") -> None:
        """Switch Preset live trading (the Preset engine's qualifying sets place real orders). Switching it on needs
        the connection's name typed exactly, as live trade does; the running engine applies it in place."""
        trading, config = await self._confirmed(connection_id, on, typed_name, "Preset trading")
        await in_thread(trading.connections.update, replace(config, is_preset_trade=on))
        dashboard_log.warning("preset trading %s for %s", "ON" if on else "off", config.name,
                              extra={"connection_id": connection_id})
        self.bus.publish(ConnectionEdited(key=connection_id))

    async def set_volume_factor(self, connection_id: str, factor: float) -> float:
        """The connection's live volume factor, 0.1–10 in steps of 0.1 (DOMAIN Part 2 §9.7)."""
        value = round(float(factor), 1)
        if not 0.1 <= value <= 10.0:
            raise ConnectionRuleError("The volume factor must be between 0.1 and 10.")
        service = (await self.trading.get()).connections
        config = await in_thread(service.get, connection_id)
        await in_thread(service.update, replace(config, settings=replace(config.settings, live_volume_factor=value)))
        self.bus.publish(ConnectionEdited(key=connection_id))  # the running engine sizes the next order with it
        return value
