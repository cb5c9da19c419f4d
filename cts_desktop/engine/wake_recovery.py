"""What the app does after a sleep or a clock jump (:class:`~cts_desktop.engine.wake_watch.Wake`), per running
engine, with its price path held (``ConnectionEngine.prices_held``: the dead stream stopped, no price moving a
pipeline):

1. ask the exchange for its time — proof that the network is back, and the exchange's "now" (the local clock may
   be the one that jumped);
2. re-measure the exchange's clock offset (:data:`ClockResync` hook, see :func:`resync_exchange_clock`);
3. reconcile orders and positions (``OrderManager.reconcile``: orders in flight looked up by client id, unknown
   exchange orders recorded as external, fills, positions, balance) — the exchange-side TP/SL may have closed
   positions meanwhile;
4. fetch the candles of the gap, from each series' last price to the exchange's last whole minute, and replay them
   through the pipelines (``Prehistory.catch_up``), so the series hold what the market did instead of one flat
   bridge to the next price; the Preset engine's candles get the same minutes;
5. start a new price stream (on leaving ``prices_held``).

Right after a resume the network is often still coming up: the steps are retried with growing pauses (about two
minutes in all) before the engine is left to its own loops and the failure is logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from cts_desktop.engine.connection_engine import ConnectionEngine
from cts_desktop.engine.gap_fill import fill_gap
from cts_desktop.engine.wake_watch import Wake
from cts_desktop.events.status import EngineState
from cts_desktop.exchanges.adapter import ExchangeAdapter

log = logging.getLogger("cts.engine.wake")

RETRY_PAUSES_S = (0.0, 5.0, 10.0, 20.0, 40.0, 60.0)

ClockResync = Callable[[ExchangeAdapter], Awaitable[None]]


async def resync_exchange_clock(adapter: ExchangeAdapter) -> None:
    """The hook for the exchange clock offset (``exchanges/clock.py``, built on another branch): an adapter that
    carries a ``clock`` with ``measure()`` gets it measured again now; until then there is nothing to re-measure."""
    measure = getattr(getattr(adapter, "clock", None), "measure", None)
    if measure is not None:
        await measure()


@dataclass(frozen=True, slots=True)
class Recovered:
    """One engine after a wake: ``gap_minutes`` of candles caught up (0: none missing), ``reconciled`` with the
    exchange; ``error`` when the steps still failed after the retries."""

    connection: str
    gap_minutes: int
    reconciled: bool
    error: str | None = None


class WakeRecovery:
    """``await recovery(wake)`` recovers every running engine the ``engines`` callable lists."""

    def __init__(self, engines: Callable[[], Sequence[ConnectionEngine]],
                 clock_resync: ClockResync = resync_exchange_clock,
                 pauses_s: Sequence[float] = RETRY_PAUSES_S) -> None:
        self.engines = engines
        self.clock_resync = clock_resync
        self.pauses_s = pauses_s
        self.recoveries = 0
        self.last: list[Recovered] = []  # the outcome of the latest recovery, per engine

    async def __call__(self, wake: Wake) -> list[Recovered]:
        running = [e for e in self.engines() if e.state in (EngineState.RUNNING, EngineState.PAUSED)]
        if not running:
            log.info("after the wake-up: no engine runs, nothing to recover")
            return []
        results = self.last = list(await asyncio.gather(*(self.recover(engine) for engine in running)))
        self.recoveries += 1
        log.warning("after the wake-up (%s): %s", wake.describe(), "; ".join(
            f"{r.connection}: " + (f"recovery failed ({r.error})" if r.error else
                                   f"stream reconnected, reconciled, {r.gap_minutes} min of candles caught up")
            for r in results))
        return results

    async def recover(self, engine: ConnectionEngine) -> Recovered:
        name, extra = engine.config.name, {"connection_id": engine.config.id}
        reconciled, error = False, "not tried"
        gap_minutes = 0
        async with engine.prices_held():
            for pause in self.pauses_s:
                if pause:
                    await asyncio.sleep(pause)
                if engine.state not in (EngineState.RUNNING, EngineState.PAUSED):
                    return Recovered(name, 0, False, f"engine {engine.state.value}")
                try:
                    await engine.adapter.server_time()  # the network is back
                    await self.clock_resync(engine.adapter)
                    if not reconciled:
                        assert engine.orders is not None
                        report = await engine.orders.exchange_sync.reconcile(engine.symbols)
                        reconciled = True
                        log.info("reconciled with the exchange after the wake-up: %s", report, extra=extra)
                    gap_minutes = await fill_gap(engine)
                    return Recovered(name, gap_minutes, reconciled)
                except Exception as exc:  # the network is often still coming up right after a resume
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("recovery after the wake-up: %s (retrying)", error, extra=extra)
        return Recovered(name, gap_minutes, reconciled, error)


__all__ = ["ClockResync", "Recovered", "WakeRecovery", "resync_exchange_clock"]
