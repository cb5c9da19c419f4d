"""A connection edited while its engine runs: the stored change reaches the engine at once.

Options the engine reads at each use are applied in place (the engine takes the new configuration): the volume
factors (the next order's size), the margin type (applied to every flat symbol now, to the others before their next
entry), Preset trade, the PF minima of the gates, the name. Options the engine was built with — position mode,
rate limits, symbol count and order, main symbols, testnet, live trade, account type — restart that one engine
(logged); its open positions stay on the exchange with their TP/SL and are reconciled at the start.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from cts_desktop.exchanges.connections import ConnectionConfig

log = logging.getLogger("cts.engine.changes")

# Fields (``settings.*``: of ConnectionSettings) the running engine applies in place.
IN_PLACE = frozenset({
    "name", "margin_mode", "is_preset_trade", "is_enabled", "is_active", "last_test", "settings.live_volume_factor",
    "settings.preset_volume_factor", "settings.live_pf_min_main", "settings.live_pf_min_real",
    "settings.max_drawdown_hours",
})


class EditableEngine(Protocol):
    config: ConnectionConfig

    def apply_connection(self, config: ConnectionConfig, changed: frozenset[str]) -> None: ...


def changed_fields(old: ConnectionConfig, new: ConnectionConfig) -> frozenset[str]:
    """The names of the options that differ (``settings.<name>`` for the per-connection trade settings)."""
    out: set[str] = set()
    for f in dataclasses.fields(ConnectionConfig):
        if f.name == "settings":
            continue
        if getattr(old, f.name) != getattr(new, f.name):
            out.add(f.name)
    for f in dataclasses.fields(type(old.settings)):
        if getattr(old.settings, f.name) != getattr(new.settings, f.name):
            out.add(f"settings.{f.name}")
    return frozenset(out)


async def apply_edit(engine: EditableEngine, new: ConnectionConfig,
                     restart: Callable[[], Awaitable[None]]) -> str:
    """Bring a running engine to ``new``: "unchanged", "in place" or "restarted"."""
    changed = changed_fields(engine.config, new)
    if not changed:
        return "unchanged"
    if changed <= IN_PLACE:
        engine.apply_connection(new, changed)
        log.info("%s: %s applied to the running engine", new.name, ", ".join(sorted(changed)),
                 extra={"connection_id": new.id})
        return "in place"
    needs = sorted(changed - IN_PLACE)
    log.warning("%s: engine restarts to apply %s", new.name, ", ".join(needs), extra={"connection_id": new.id})
    await restart()
    return "restarted"
