"""``cts-desktop live on|off CONNECTION``: switch live trading from a shell (a server without a window), with the
same rules as the window's switch — the connection's name typed exactly, an enabled connection whose test passed
with its current keys — writing (or removing) the signed grant in this computer's secret store."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from cts_desktop.application.application import Application
from cts_desktop.exchanges.connections import ConnectionConfig, ConnectionRuleError
from cts_desktop.services import AppOptions, Services


def _find(configs: list[ConnectionConfig], wanted: str) -> ConnectionConfig:
    for config in configs:
        if wanted in (config.name, config.id):
            return config
    names = ", ".join(repr(c.name) for c in configs) or "none"
    raise ConnectionRuleError(f"no connection named {wanted!r} (connections: {names})")


async def _switch(app: Application, wanted: str, on: bool, ask: Callable[[str], str]) -> str:
    trading = await app.load_trading()
    config = _find(await asyncio.to_thread(trading.connections.list), wanted)
    if not on:
        await app.connections.switches.set_live_trade(config.id, False)
        return f"live trading OFF for {config.name}: its engine trades on paper from its next start"
    if not config.is_enabled:
        raise ConnectionRuleError(f"{config.name} is disabled: enter its keys and pass the connection test first")
    typed = ask(f"{config.name} ({config.exchange_id}{', testnet' if config.is_testnet else ''}) will trade REAL "
                f"money. Type the connection name to confirm: ")
    await app.connections.switches.set_live_trade(config.id, True, typed)
    return (f"live trading ON for {config.name} (confirmation kept in this computer's secret store). A running "
            "app uses it when the connection's engine starts next: `cts-desktop ctl restart`.")


def switch_live(options: AppOptions, wanted: str, on: bool, ask: Callable[[str], str]) -> tuple[int, str]:
    """(exit status, message)."""
    options.console_log = False
    services = Services(options)
    try:
        services.start(None)
        return 0, asyncio.run(_switch(Application(services), wanted, on, ask))
    except ConnectionRuleError as error:
        return 1, f"cts-desktop: {error}"
    finally:
        services.close()


__all__ = ["switch_live"]
