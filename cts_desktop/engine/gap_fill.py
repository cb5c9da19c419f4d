"""Filling a gap in an engine's price path with the exchange's own candles, not a bridge to the next price.

A gap opens when the computer slept, the clock jumped or the stream was down: the next price is minutes after the
last one a series saw. The candles of [the first whole minute after that price, the exchange's last whole minute)
are fetched and replayed through every pipeline (``Prehistory.catch_up``), and the Preset engine's candles get
the same minutes. Used by the engine itself when a price arrives after a gap, and by the wake recovery.
"""

from __future__ import annotations

import math
from typing import Protocol

from cts_desktop.backtest.history import rows_to_bars
from cts_desktop.engine.deps import EngineDeps
from cts_desktop.engine.pipeline import SymbolPipeline
from cts_desktop.engine.prehistory import Prehistory
from cts_desktop.engine.preset_runner import PresetRunner
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.storage.candles import load_candles


class GapHost(Protocol):
    """What filling a gap needs of the engine (``ConnectionEngine`` is one)."""

    config: ConnectionConfig
    adapter: ExchangeAdapter
    deps: EngineDeps
    symbols: list[str]
    pipelines: dict[str, SymbolPipeline]
    prehistory: Prehistory
    preset_runner: PresetRunner | None


MINUTE_MS = 60_000
PRICE_GAP_S = 90.0  # a price this long after the series' last one opens a gap (the stream pushes every second)


def gap_range(engine: GapHost, now_ms: int) -> tuple[int, int] | None:
    """[first whole minute after the newest price the series saw, the exchange's last whole minute), or None."""
    seen = [p.last_time for p in engine.pipelines.values() if p.last_time is not None]
    if not seen:
        return None
    since = math.ceil(max(seen) * 1000 / MINUTE_MS) * MINUTE_MS
    until = now_ms // MINUTE_MS * MINUTE_MS
    return (since, until) if until - since >= MINUTE_MS else None


async def fill_gap(engine: GapHost) -> int:
    """Fetch and replay the gap's candles up to the exchange's now (its server clock: the local one may be the one
    that jumped); the minutes caught up (0: no gap). The caller holds the engine's prices."""
    now_ms = await engine.adapter.server_time()
    gap = gap_range(engine, now_ms)
    if gap is None:
        return 0
    await engine.prehistory.catch_up(*gap)
    await catch_up_preset(engine, *gap)
    return (gap[1] - gap[0]) // MINUTE_MS


async def catch_up_preset(engine: GapHost, since: int, until: int) -> None:
    """The Preset engine's candles (built from the price stream) get the gap's 1-minute candles too — the ones the
    Main catch-up has just cached — aggregated to its candle size."""
    runner = engine.preset_runner
    if runner is None:
        return
    connection_id = engine.config.id
    for symbol in engine.symbols:
        rows = await engine.deps.db.run(
            lambda s, sym=symbol: load_candles(s, connection_id, sym, "1m", since, until))  # type: ignore[misc]
        if rows:
            runner.warm(symbol, rows_to_bars(rows))
