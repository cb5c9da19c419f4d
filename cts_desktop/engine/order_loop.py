"""The engine's ``orders`` loop: Real entry signals go to the order manager, and a Real position mirrored from a
Main set is closed when its pseudo twin exits.

Signals and exits are queued by the main loop (a price moved a pipeline) and handled here, every *Order handling
interval* or at once when something is queued, so no exchange call ever runs inside a price cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Protocol

from cts_desktop.engine import engine_config as cfg
from cts_desktop.engine.decisions import DecisionLog
from cts_desktop.engine.entry_permission import entry_refusal
from cts_desktop.engine.order_manager import OrderManager
from cts_desktop.engine.order_types import EntrySignal
from cts_desktop.engine.pipeline import SymbolPipeline
from cts_desktop.engine.status import LoopMeter
from cts_desktop.exchanges.connections import ConnectionConfig
from cts_desktop.exchanges.errors import ExchangeError

log = logging.getLogger("cts.engine")

WAKE_POLL_S = 0.02  # how often a waiting loop looks for queued work


class OrderLoopHost(Protocol):
    """What the loop reads of its engine (``ConnectionEngine`` is one)."""

    config: ConnectionConfig
    orders: OrderManager | None
    paused: bool
    decisions: DecisionLog
    pipelines: dict[str, SymbolPipeline]

    @property
    def values(self) -> Mapping[str, object]: ...


class OrderLoop:
    def __init__(self, host: OrderLoopHost, meter: LoopMeter) -> None:
        self.host = host
        self.meter = meter
        self._signals: asyncio.Queue[tuple[str, EntrySignal, int, float]] = asyncio.Queue()
        self._exits: asyncio.Queue[int] = asyncio.Queue()
        self._mirrored: dict[tuple[str, int], int] = {}  # (symbol, set row) → Real position id

    def send(self, symbol: str, signal: EntrySignal, set_row: int, at: float) -> None:
        """Queue a Real entry signal (``set_row`` -1: not a set of the engine's book, e.g. the Preset engine's)."""
        self._signals.put_nowait((symbol, signal, set_row, at))

    def pseudo_exited(self, symbol: str, set_row: int) -> None:
        """The pseudo position of ``set_row`` closed: its mirrored Real position (if any) is closed next."""
        position_id = self._mirrored.pop((symbol, set_row), None)
        if position_id is not None:
            self._exits.put_nowait(position_id)

    def idle(self) -> bool:
        """Nothing queued."""
        return self._signals.empty() and self._exits.empty()

    async def run(self) -> None:
        host, meter = self.host, self.meter
        while True:
            wait_s = cfg.number(host.values, "system.order_handling_interval_ms") / 1000.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake(), timeout=max(wait_s, 0.05))
            started = time.perf_counter()
            ok = True
            try:
                await self._handle()
            except ExchangeError as error:
                ok = False
                log.warning("order loop: %s", error, extra={"connection_id": host.config.id})
            meter.expected_interval_ms = max(wait_s * 1000, 1000.0)
            meter.record((time.perf_counter() - started) * 1000, ok)

    async def _wake(self) -> None:
        while self.idle():
            await asyncio.sleep(WAKE_POLL_S)

    async def _handle(self) -> None:
        host = self.host
        orders = host.orders
        assert orders is not None
        while not self._exits.empty():
            await orders.close_position(self._exits.get_nowait(), "pseudo_exit")
        while not self._signals.empty():
            symbol, signal, row, entry_time = self._signals.get_nowait()
            preset = row < 0  # the Preset engine's signals carry no Main set row
            refusal = entry_refusal(host.values, host.paused, preset)
            if refusal is not None:
                host.decisions.record(symbol, signal.direction, "paused", refusal)
                continue
            outcome = await orders.open_position(signal)
            if (not preset and outcome.accepted and outcome.real_position_id is not None
                    and signal.take_profit_frac is None):
                self._mirrored[(symbol, row)] = outcome.real_position_id
                host.pipelines[symbol].mirror(row, entry_time)
