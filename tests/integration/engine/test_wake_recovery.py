"""A simulated wall-clock jump (the whole process's ``time.time`` moves ten minutes ahead, as after a sleep; the
monotonic clock does not) while the Replay connection trades: the wake watch sees it and the recovery reconnects
the price stream, re-measures the clock (hook), reconciles orders and positions, and fills the series' gap with the
exchange's candles instead of bridging it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cts_desktop.engine.wake_recovery import WakeRecovery
from cts_desktop.engine.wake_watch import WakeWatch
from cts_desktop.exchanges.adapter import ExchangeAdapter
from cts_desktop.storage.models import Candle
from tests.helpers.waiting import until
from tests.integration.engine.test_coordinator_replay import make_world

pytestmark = pytest.mark.asyncio(loop_factories=["asyncio"])
SYMBOL = "BTC/USDT:USDT"
JUMP_S = 600.0


async def test_a_wall_clock_jump_reconnects_reconciles_and_fetches_the_missing_candles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async with make_world(tmp_path, live=False) as world:
        world.settings.set_many({"overall.prehistoric_days": 1})
        coordinator = world.coordinator
        await coordinator.start()
        await coordinator.wait_started(120)
        engine = coordinator.engines[world.config.id]
        await until(lambda: engine.feed is not None and engine.feed.updates > 3, 30, "prices")
        old_feed = engine.feed
        seen_before = engine.pipelines[SYMBOL].last_time
        assert seen_before is not None
        assert engine.orders is not None
        reconciled: list[list[str]] = []
        reconcile = engine.orders.exchange_sync.reconcile

        async def spy(symbols: list[str]):  # type: ignore[no-untyped-def]
            reconciled.append(list(symbols))
            return await reconcile(symbols)

        engine.orders.exchange_sync.reconcile = spy  # type: ignore[method-assign]
        resynced: list[ExchangeAdapter] = []

        async def clock_hook(adapter: ExchangeAdapter) -> None:
            resynced.append(adapter)

        recovery = WakeRecovery(lambda: list(coordinator.engines.values()), clock_hook)
        watch = WakeWatch(recovery, interval_s=0.2)
        task = asyncio.create_task(watch.run())
        try:
            await until(lambda: watch.looks >= 2, 10, "the watch's first looks")
            assert recovery.recoveries == 0
            real = time.time
            monkeypatch.setattr(time, "time", lambda: real() + JUMP_S)
            await until(lambda: recovery.recoveries == 1, 90, "the recovery")
        finally:
            task.cancel()
        assert watch.wakes == 1
        [outcome] = recovery.last
        # the gap's candles: fetched by the recovery, or by the engine itself when the first price after the jump
        # came before the watch looked (a price never crosses a gap)
        assert outcome.reconciled and outcome.error is None
        assert reconciled == [engine.symbols] and resynced == [engine.adapter]
        assert engine.feed is not None and engine.feed is not old_feed
        await until(lambda: engine.feed is not None and engine.feed.updates > 0, 30, "prices on the new stream")
        seen_after = engine.pipelines[SYMBOL].last_time
        assert seen_after is not None and seen_after - seen_before > JUMP_S - 120  # caught up, not bridged
        since_ms = int(seen_before * 1000)
        with world.db.session() as s:
            fetched = s.execute(select(func.count()).select_from(Candle).where(
                Candle.symbol == SYMBOL, Candle.timeframe == "1m", Candle.ts > since_ms)).scalar_one()
        assert fetched >= JUMP_S / 60 - 2
        assert "wake-up detected: the computer slept or its clock jumped forward (10 min)" in caplog.text
        assert "stream reconnected, reconciled, " in caplog.text
        assert "min of candles caught up" in caplog.text


async def test_the_preset_engine_candles_get_the_gap_minutes_too(engine_db) -> None:  # type: ignore[no-untyped-def]
    from types import SimpleNamespace

    from cts_desktop.domain.bars import Bars
    from cts_desktop.engine.gap_fill import catch_up_preset
    from cts_desktop.storage.candles import store_candles

    minute = 60_000
    since = 1_765_000_000_000 // minute * minute
    rows = [[since + k * minute, 100.0 + k, 101.0 + k, 99.0 + k, 100.5 + k, 1.0] for k in range(12)]
    with engine_db.session() as s:
        store_candles(s, "c1", SYMBOL, "1m", rows)
    warmed: list[tuple[str, Bars]] = []
    runner = SimpleNamespace(warm=lambda symbol, bars: warmed.append((symbol, bars)))
    engine = SimpleNamespace(preset_runner=runner, symbols=[SYMBOL], config=SimpleNamespace(id="c1"),
                             deps=SimpleNamespace(db=engine_db))
    await catch_up_preset(engine, since + 2 * minute, since + 10 * minute)  # type: ignore[arg-type]
    [(symbol, bars)] = warmed
    assert symbol == SYMBOL and len(bars) == 8 and float(bars.open[0]) == 102.0
    engine.preset_runner = None
    await catch_up_preset(engine, since, since + 10 * minute)  # type: ignore[arg-type]  # no Preset engine: nothing
    assert len(warmed) == 1
