"""Background trading that survives the desktop's life: the Qt-free part that the window (``ui/desktop_life.py``)
and headless mode (``headless.py``) both run over the services.

* **Resume on start** — the intents recorded while the app ran (:mod:`cts_desktop.engine.intent`) are read back and
  trading returns to them (:mod:`cts_desktop.engine.resume`); the recording stops (:meth:`stop`) before the app
  stops trading to quit, so a quit is not mistaken for a stop.
* **Unclean exit** — when the run before ended without a clean stop
  (:class:`~cts_desktop.system.run_marker.UncleanExit`), it
  is logged, raised as an alert (stored, and a desktop notification in the window) and returned as the notice
  the window shows in its banner; so is a connection that could not resume.
* **Heartbeat** — the run marker is touched every :data:`~cts_desktop.system.run_marker.HEARTBEAT_S`, so an
  unclean end is dated to within that.
* **Sleep and wake** — a :class:`~cts_desktop.engine.wake_watch.WakeWatch` on the loop hands each wake-up to a
  :class:`~cts_desktop.engine.wake_recovery.WakeRecovery` over the running engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cts_desktop.engine.intent import IntentRecorder, instance_key, load_intents
from cts_desktop.engine.resume import RESUME_SETTING, ConnectionFacts, ResumePlan, plan_resume, resume
from cts_desktop.engine.wake_watch import Clock, Wake, WakeWatch
from cts_desktop.events.status import EngineState
from cts_desktop.events.trading import AlertRaised
from cts_desktop.storage.models import Alert
from cts_desktop.system.autostart import START_AT_LOGIN, START_MINIMIZED, LoginStart
from cts_desktop.system.instance import Launch
from cts_desktop.system.lifetime import Lifetime
from cts_desktop.system.run_marker import HEARTBEAT_S

__all__ = ["START_AT_LOGIN", "START_MINIMIZED", "BackgroundRuntime", "DesktopBackground", "Launch", "Lifetime",
           "LoginStart"]

if TYPE_CHECKING:
    from cts_desktop.engine.wake_recovery import WakeRecovery
    from cts_desktop.services import Services
    from cts_desktop.trading import Trading

log = logging.getLogger("cts.system.background")


def connection_facts(trading: Trading) -> list[ConnectionFacts]:
    """What resuming needs of each connection now (reads the keyring: call off the loop)."""
    from cts_desktop.exchanges.connections import REPLAY_CONNECTION_ID

    facts = []
    for c in trading.connections.list():
        replay = c.is_replay or c.id == REPLAY_CONNECTION_ID  # the simulator: no money, no keys, no test needed
        # live and tested as the secret store tells (the engine's start gate), not as the database says
        decision = trading.gate.decide(c) if c.is_enabled and c.is_active else None
        tested = decision.start if decision is not None else bool(c.last_test and c.last_test.passed)
        facts.append(ConnectionFacts(
            id=c.id, name=c.name, enabled=c.is_enabled, active=c.is_active,
            live=decision.live if decision is not None else c.is_live_trade, replay=replay,
            test_passed=replay or tested,
            keys_readable=replay or (c.is_enabled and trading.connections.credentials(c.id) is not None),
        ))
    return facts


def notice_for(plan: ResumePlan, lifetime: Lifetime | None) -> str | None:
    """The banner's text: after an unclean exit, or when a connection could not resume; else None."""
    unclean = lifetime.unclean if lifetime is not None else None
    parts: list[str] = []
    if unclean is not None:
        when = f"an unclean exit at {unclean.at()} (crash / power loss)"
        if plan.target is EngineState.RUNNING:
            parts.append(f"Trading resumed after {when}.")
        elif plan.target is EngineState.PAUSED:
            parts.append(f"Trading resumed paused (no new entries) after {when}.")
        else:
            parts.append(f"The app ended with {when}; trading stays stopped: {plan.why}.")
    parts += [f"{s.name} was not resumed: {s.reason}." for s in plan.skipped]
    return " ".join(parts) or None


class BackgroundRuntime:
    def __init__(self, services: Services, lifetime: Lifetime | None, *, headless: bool,
                 clock: Clock | None = None) -> None:
        self.services = services
        self.lifetime = lifetime
        self.headless = headless
        self.instance = instance_key(services.paths.data)
        self.recorder = IntentRecorder(services.bus, services.writer, self.instance)
        self.watch = WakeWatch(self._on_wake, clock)
        self.plan: ResumePlan | None = None
        self.notice: str | None = None
        self._trading: Trading | None = None
        self.recovery: WakeRecovery | None = None  # once the trading services exist
        self._tasks: list[asyncio.Task[Any]] = []

    async def start(self, trading: Callable[[], Awaitable[Trading]]) -> str | None:
        """Resume trading as stored (or by the mode's rule), start the watch and the heartbeat; the notice for the
        window's banner, if there is one."""
        from cts_desktop.engine.wake_recovery import WakeRecovery

        if self.lifetime is not None:
            self._spawn(self._heartbeat(), "run heartbeat")
            if self.headless:  # a later launch is refused (the channel logs it); no window to bring forward
                self.lifetime.guard.on_launch(lambda _launch: True)
        stored = await load_intents(self.services.db, self.instance)
        self.recorder.know(stored)
        loaded = self._trading = await trading()
        self.recovery = WakeRecovery(lambda: list(loaded.coordinator.engines.values()))
        self._spawn(self.watch.run(), "wake watch")
        facts = await asyncio.to_thread(connection_facts, loaded)
        enabled = bool(self.services.settings.values().get(RESUME_SETTING, True))
        self.plan = plan_resume(resume_enabled=enabled, headless=self.headless, stored=stored, connections=facts)
        self.notice = notice_for(self.plan, self.lifetime)
        try:
            await resume(loaded.coordinator, self.plan)
        except Exception as error:  # a refusal of the coordinator (e.g. a damaged database): said, not raised
            log.error("trading could not be resumed: %s", error)
            self.notice = f"{self.notice or ''} Trading could not be resumed: {error}".strip()
        unclean = self.lifetime.unclean if self.lifetime is not None else None
        if unclean is not None:
            log.warning("%s; %s", unclean.describe(), self.plan.summary())
        if self.notice is not None:
            self._alert(self.notice)
        return self.notice

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _heartbeat(self) -> None:
        assert self.lifetime is not None
        while True:
            await asyncio.to_thread(self.lifetime.marker.beat)
            await asyncio.sleep(HEARTBEAT_S)

    async def _on_wake(self, wake: Wake) -> None:
        if self.recovery is not None:
            await self.recovery(wake)

    def _alert(self, message: str) -> None:
        self.services.bus.publish(AlertRaised(severity="warning", source="system", message=message))
        self.services.writer.submit(lambda s: s.add(Alert(severity="warning", source="system", message=message)))

    async def stop(self) -> None:
        """The app is quitting: stop recording intents (trading stops next, and that is no intent), the watch and
        the heartbeat."""
        self.recorder.freeze()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):  # (qasync steps tasks while it closes)
                await task
        self._tasks = []


__all__ = ["BackgroundRuntime", "connection_facts", "notice_for"]


class DesktopBackground:
    """The window's background life without Qt: the runtime (resume, heartbeat, wake-ups) and the login entry kept
    equal to *Start at login* / *Start minimized to the tray*."""

    def __init__(self, services: Services, lifetime: Lifetime | None) -> None:
        self.runtime = BackgroundRuntime(services, lifetime, headless=False)
        data_dir = services.options.data_dir
        self.login = LoginStart(services.settings.values, Path(data_dir).expanduser().resolve() if data_dir else None)
