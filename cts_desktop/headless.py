"""Headless mode: the same services on a plain asyncio loop; SIGINT/SIGTERM stop it gracefully."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from typing import TYPE_CHECKING

from cts_desktop.application.application import Application
from cts_desktop.application.background import BackgroundRuntime
from cts_desktop.application.control_api import open_control_api
from cts_desktop.application.remote import RemotePart
from cts_desktop.events.app import DatabaseDamaged
from cts_desktop.services import AppOptions, Services
from cts_desktop.startup import StartupError, open_services
from cts_desktop.system.lifetime import Lifetime

if TYPE_CHECKING:
    from cts_desktop.trading import Trading

log = logging.getLogger("cts.system.headless")

EXIT_DATABASE_DAMAGED = 3  # the database was found damaged while running: engines stopped, nothing more written


def show_token(token: str) -> None:
    """The control API's token, made now: printed once on the terminal (never logged; kept in the secret store)."""
    print(f"cts-desktop headless: control API token (shown once, kept in the secret store): {token}", flush=True)


async def serve(services: Services, stop: asyncio.Event, exit_after: float | None = None,
                lifetime: Lifetime | None = None) -> None:
    """Run until ``stop`` is set (a signal, ``exit_after``) or the database is found damaged."""
    loop = asyncio.get_running_loop()
    services.bus.subscribe(DatabaseDamaged, lambda _event: stop.set())
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: signals arrive as KeyboardInterrupt
            pass
    services.start(loop)
    runtime = BackgroundRuntime(services, lifetime, headless=True)  # resume as stored; wake-ups; run heartbeat

    async def trading() -> Trading:
        return services.trading

    await runtime.start(trading)
    status = services.trading.coordinator.status()
    log.info("trading: %s with %d engine(s)", status.state.value, len(status.engines))
    control = await open_control_api(services, RemotePart(services, Application(services).dashboard), show_token)
    if control is not None:
        print(f"cts-desktop headless: control API on {control.url}", flush=True)
    log.info("headless mode running (pid %d); send SIGTERM or press Ctrl+C to stop", __import__("os").getpid())
    print("cts-desktop headless: ready", flush=True)
    try:
        if exit_after is not None:
            await asyncio.wait_for(stop.wait(), timeout=exit_after)
        else:
            await stop.wait()
    except TimeoutError:
        pass
    log.info("headless mode stopping")
    if control is not None:
        await control.stop()
    await runtime.stop()  # a stop to quit is no intent: trading resumes at the next start
    await services.stop_monitoring()
    await services.stop_trading()
    await services.bus.drain()


def run_headless(options: AppOptions, exit_after: float | None = None, lifetime: Lifetime | None = None) -> int:
    options.console_log = True
    try:
        services = open_services(options)
    except StartupError as error:
        print(f"cts-desktop: {error}", file=sys.stderr, flush=True)
        return 2
    try:
        asyncio.run(serve(services, asyncio.Event(), exit_after, lifetime))
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    if services.safety.damage is not None:
        print(f"cts-desktop: {services.safety.damage}", file=sys.stderr, flush=True)
        print("cts-desktop headless: stopped (database damaged)", flush=True)
        return EXIT_DATABASE_DAMAGED
    print("cts-desktop headless: stopped", flush=True)
    return 0
