"""GlobalTradeEngineCoordinator: the one per process that owns an engine per active connection (DOMAIN Part 1 §10).

start / stop / pause / resume / restart / emergency stop, per process and per connection. Every change is
published on the event bus (``EngineStatusChanged``, ``TradeEngineChanged``) and kept in ``engine_state``
(connection ``*`` is the coordinator). A connection is traded only by the process that holds its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial

from sqlalchemy.orm import Session

from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine.alerting import raise_alert
from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.lease import LeaseKeeper
from cts_desktop.engine.live_changes import apply_edit
from cts_desktop.engine.start_gate import StartDecision, StartGate
from cts_desktop.engine.supervisor import Supervisor
from cts_desktop.events.app import ConnectionEdited
from cts_desktop.events.status import EngineState, EngineStatus, HealthStatus, TradeEngineStatus, worst
from cts_desktop.events.trading import EngineStatusChanged
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionService
from cts_desktop.storage.model_base import utcnow
from cts_desktop.storage.models import EngineState as EngineStateRow

log = logging.getLogger("cts.engine.coordinator")
EMERGENCY_ATTEMPTS = 3  # per emergency step (cancel, sync); closing orders are sent once

AdapterFactory = Callable[[ConnectionConfig], Awaitable[ExchangeAdapter]]


class CoordinatorError(RuntimeError):
    """A command the rules refuse (plain message for the UI)."""


class GlobalTradeEngineCoordinator:
    def __init__(
        self,
        deps: EngineDeps,
        connections: ConnectionService,
        adapters: AdapterFactory,
        leases: LeaseKeeper,
        engine_factory: Callable[[ConnectionConfig, ExchangeAdapter, EngineDeps], ConnectionEngine] = ConnectionEngine,
        gate: StartGate | None = None,
    ) -> None:
        self.deps = deps
        self.connections = connections
        self.adapters = adapters
        self.leases = leases
        self.engine_factory = engine_factory
        self.gate = gate  # keys, test and live grant from the secret store (None: tests of the engine alone)
        self._gate_said: dict[str, str] = {}  # connection → the gate's last reason (told once, not at every retry)
        self.engines: dict[str, ConnectionEngine] = {}
        self.state = EngineState.STOPPED
        self.started_at: float | None = None
        self.last_error: str | None = None
        self.paused = False
        self.supervisor = Supervisor(self._engine_statuses, self.restart_connection, self._gave_up,
                                     lambda: cfg.supervisor_policy(self.deps.settings.values()))
        self._background: list[asyncio.Task[None]] = []
        self._lock = asyncio.Lock()
        self._waiting: dict[str, str] = {}  # connection → the process that holds its lease
        deps.bus.subscribe(ConnectionEdited, self._on_connection_edited)

    # --- process-wide commands ------------------------------------------------------------------------------------

    async def start(self, only: Collection[str] | None = None) -> EngineStatus:
        """Start engines for every enabled and active connection (idempotent); with ``only``, for those of them
        (resume on start leaves out a connection that may not trade now)."""
        self._refuse_on_damaged_database()
        async with self._lock:
            if self.state in (EngineState.RUNNING, EngineState.PAUSED):
                return self.status()
            self.state = EngineState.STARTING
            self.started_at = time.time()
            self._publish()
            for config in self.connections.list():
                if config.is_enabled and config.is_active and (only is None or config.id in only):
                    await self._start_connection(config)
            self.state = EngineState.PAUSED if self.paused else EngineState.RUNNING
            self._background = [asyncio.create_task(self.supervisor.run(), name="supervisor"),
                                asyncio.create_task(self._renew_leases(), name="leases")]
            log.info("trade engine coordinator started: %d engine(s)", len(self.engines))
            self._publish()
            return self.status()

    async def stop(self) -> EngineStatus:
        """Stop every engine; exchange positions stay with their exchange-side TP/SL."""
        async with self._lock:
            if self.state is EngineState.STOPPED:
                return self.status()
            self.state = EngineState.STOPPING
            self._publish()
            for task in self._background:
                task.cancel()
            for task in self._background:
                # cancelled here; one first stepped while a qasync loop shuts down fails "no running event loop"
                with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                    await task
            self._background = []
            for connection_id in list(self.engines):
                await self._stop_connection(connection_id)
            await self.leases.release_all()
            self.state = EngineState.STOPPED
            self.started_at = None
            log.info("trade engine coordinator stopped")
            self._publish()
            return self.status()

    def pause(self) -> EngineStatus:
        """No new entries anywhere; data, pseudo tracking and exchange sync go on."""
        self.paused = True
        for engine in self.engines.values():
            engine.pause()
        if self.state is EngineState.RUNNING:
            self.state = EngineState.PAUSED
        log.info("trading paused")
        self._publish()
        return self.status()

    def resume(self) -> EngineStatus:
        self.paused = False
        for engine in self.engines.values():
            engine.resume()
        if self.state is EngineState.PAUSED:
            self.state = EngineState.RUNNING
        log.info("trading resumed")
        self._publish()
        return self.status()

    async def restart(self) -> EngineStatus:
        await self.stop()
        return await self.start()

    async def emergency_stop(self, close_positions: bool = False) -> EngineStatus:
        """Stop all, clear every live flag, cancel open orders, and (when confirmed) close all positions.

        Entries stop first (pause), so no signal opens a position while the others are being closed; the last
        synchronisation is retried so that the DB holds the closing fills before the engines stop."""
        log.critical("EMERGENCY STOP%s", " with closing of all positions" if close_positions else "")
        self.pause()
        for engine in list(self.engines.values()):
            orders = engine.orders
            if orders is None:
                continue
            symbols = list(engine.symbols)
            steps: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("cancel open orders", orders.cancel_open_orders)]
            if close_positions:
                steps += [("sync before closing", partial(orders.sync, symbols)),  # close only what is still open
                          ("close all positions", partial(orders.close_all, "emergency")),
                          ("sync after closing", partial(orders.exchange_sync.sync_until_settled, symbols))]
            for what, step in steps:  # each step runs even when the one before failed
                for attempt in range(1, EMERGENCY_ATTEMPTS + 1):
                    try:
                        await step()
                        break
                    except Exception:
                        log.exception("emergency stop: %s failed on %s (attempt %d of %d)", what,
                                      engine.config.name, attempt, EMERGENCY_ATTEMPTS,
                                      extra={"connection_id": engine.config.id})
                        if what == "close all positions":
                            break  # never re-send closing orders blindly: the next sync shows what is still open
                        await asyncio.sleep(0.5 * attempt)
        for config in self.connections.list():
            if config.is_live_trade or config.is_preset_trade:
                self.connections.update(replace(config, is_live_trade=False, is_preset_trade=False))
        await self.stop()
        self.paused = False  # the pause only held entries back during the emergency; a later start trades
        self._alert("critical", "emergency stop: trading stopped, live trading switched off on every connection"
                    + (", positions closed" if close_positions else ""))
        return self.status()

    # --- per connection ---------------------------------------------------------------------------------------

    async def start_connection(self, connection_id: str) -> None:
        self._refuse_on_damaged_database()
        async with self._lock:
            self.supervisor.reset(connection_id)
            await self._start_connection(self.connections.get(connection_id))

    def _refuse_on_damaged_database(self) -> None:
        reason = self.deps.db.guard.reason
        if reason is not None:
            raise CoordinatorError(f"trading cannot start: {reason}")

    async def stop_connection(self, connection_id: str) -> None:
        async with self._lock:
            await self._stop_connection(connection_id)

    async def restart_connection(self, connection_id: str) -> None:
        await self._stop_connection(connection_id)
        await self._start_connection(self.connections.get(connection_id))

    async def _start_connection(self, config: ConnectionConfig) -> None:
        if config.id in self.engines and self.engines[config.id].state in (EngineState.RUNNING, EngineState.PAUSED):
            return
        if not config.is_enabled:
            raise CoordinatorError(f"{config.name} is disabled: enter keys and pass the connection test first")
        if self.gate is not None:
            decision = await asyncio.to_thread(self.gate.decide, config)
            self._tell_gate(config, decision)
            if not decision.start:
                return
            config = replace(config, is_live_trade=decision.live)
        lease = await self.leases.acquire(config.id)
        if not lease.acquired:
            if self._waiting.get(config.id) != lease.holder:
                log.warning("%s is traded by %s (lease until %s): waiting for it here", config.name, lease.holder,
                            lease.expires_at.isoformat(timespec="seconds"), extra={"connection_id": config.id})
            self._waiting[config.id] = lease.holder
            return
        self._waiting.pop(config.id, None)
        try:
            adapter = await self.adapters(config)
        except Exception as error:
            await self.leases.release(config.id)
            log.error("no adapter for %s: %s", config.name, error, extra={"connection_id": config.id})
            return
        engine = self.engine_factory(config, adapter, self.deps)
        if self.paused:
            engine.paused = True
        self.engines[config.id] = engine
        # markets and history load in the background (progress events); a failure leaves the engine in ERROR
        # for the supervisor to decide about
        engine.start_in_background()

    def _tell_gate(self, config: ConnectionConfig, decision: StartDecision) -> None:
        said, self._gate_said[config.id] = self._gate_said.get(config.id), decision.reason
        if not decision.reason or said == decision.reason:
            return
        text = (f"{config.name} not started: {decision.reason}" if not decision.start
                else f"{config.name}: {decision.reason}")
        log.error("%s", text, extra={"connection_id": config.id})
        self._alert("critical" if config.is_live_trade else "warning", text, config.id)

    async def _stop_connection(self, connection_id: str) -> None:
        engine = self.engines.pop(connection_id, None)
        if engine is None:
            return
        try:
            await engine.stop()
        finally:
            with contextlib.suppress(Exception):
                await engine.adapter.close()
            await self.leases.release(connection_id)

    async def _renew_leases(self) -> None:
        """Keep our leases; take over a waiting connection once its holder stops or dies."""
        while True:
            await asyncio.sleep(self.leases.seconds / 6)
            self._heartbeat()
            for connection_id in await self.leases.renew():
                log.critical("lost the lease of %s: stopping its engine", connection_id,
                             extra={"connection_id": connection_id})
                await self._stop_connection(connection_id)
            for connection_id in list(self._waiting):
                config = self.connections.store.get(connection_id)
                if config is None or not (config.is_enabled and config.is_active):
                    self._waiting.pop(connection_id, None)
                    continue
                async with self._lock:
                    await self._start_connection(config)

    async def _on_connection_edited(self, event: ConnectionEdited) -> None:
        """A connection edited while its engine runs: applied in place or that engine restarts (live_changes)."""
        connection_id = event.key or ""
        engine = self.engines.get(connection_id)
        if engine is None:
            return
        config = await asyncio.to_thread(self.connections.store.get, connection_id)
        if config is not None and self.engines.get(connection_id) is engine:
            await apply_edit(engine, config, lambda: self.restart_connection(connection_id))

    async def _gave_up(self, connection_id: str, message: str) -> None:
        self._alert("critical", message, connection_id)
        await self._stop_connection(connection_id)

    # --- status ---------------------------------------------------------------------------------------------------

    async def wait_started(self, timeout: float | None = None) -> EngineStatus:
        """Wait until every engine finished starting (running, paused or failed)."""
        tasks = [e._start_task for e in self.engines.values() if e._start_task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        return self.status()

    def _engine_statuses(self) -> list[TradeEngineStatus]:
        return [engine.status() for engine in self.engines.values()]

    def status(self) -> EngineStatus:
        engines = tuple(self._engine_statuses())
        health = worst([e.health for e in engines]) if engines else (
            HealthStatus.HEALTHY if self.state is EngineState.RUNNING else HealthStatus.UNKNOWN)
        values = self.deps.settings.values()
        return EngineStatus(
            state=self.state, started_at=self.started_at, main_enabled=bool(values["system.main_engine_enabled"]),
            preset_enabled=bool(values["system.preset_engine_enabled"]), engines=engines, health=health,
            last_error=self.last_error,
        )

    def _publish(self) -> None:
        status = self.status()
        self.deps.bus.publish(EngineStatusChanged(status=status))
        state = self.state.value
        started = self.started_at

        def write(session: Session) -> None:
            row = session.get(EngineStateRow, "*") or EngineStateRow(connection_id="*")
            row.status = state
            row.started_at = None if started is None else datetime.fromtimestamp(started, UTC)
            session.merge(row)

        self.deps.writer.submit(write)

    def _heartbeat(self) -> None:
        """The coordinator's row is its heartbeat too (Monitoring › Health): written while it runs, not only when
        its state changes — an unchanged row is no UPDATE, so ``updated_at`` stood still and Health reported the
        running coordinator as "no heartbeat for 310 s"."""
        def write(session: Session) -> None:
            row = session.get(EngineStateRow, "*")
            if row is not None:
                row.updated_at = utcnow()

        self.deps.writer.submit(write)

    def _alert(self, severity: str, message: str, connection_id: str | None = None) -> None:
        raise_alert(self.deps.bus, self.deps.writer, severity=severity, source="engine", message=message,
                    connection_id=connection_id)
